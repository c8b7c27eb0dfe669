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
# The emulated Pico's tier (rp2emu) is not in `make test` yet: ~14 min of one core with its
# deploy, and not yet proven reliable beside the rest of the suite (docs/EMULATOR.md).
# `make test-rp2emu` runs it alone, in file order on one board.
test: $(STAMP) system-deps
	$(BIN)/python -m pytest -n 2 -m "not rp2emu"
	TVNS_MP_PASS=numerics $(BIN)/python -m pytest -m mp_tier -rs -p no:cacheprovider

test-rp2emu: $(STAMP)
	$(BIN)/python -m pytest -m rp2emu -rA -p no:cacheprovider

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
# scheduler (ONLY="schedule scheduler" for those alone, MODULES= adds more; results in
# build/mutation; about 45 min on 2 shared cores)
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
