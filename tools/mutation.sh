#!/usr/bin/env bash
# make mutation: mutmut over the limits, protocol validation (protocol, checks, figures,
# units, jsonscan), session, safety, schedule, scheduler (with its tick's full path and step,
# ticklook and tickstep), tickfast, tickedge (the fast edge) and ring (the session's event
# ring, written in the tick) modules with the fast CPython tests. ONLY="schedule scheduler
# ticklook tickstep" runs just those; MODULES="..." adds more.
# Time budget (2 cores shared): about 55 min for all of them, 25 min for ONLY="schedule
# scheduler ticklook tickstep", 9 min for ONLY="tickedge tickfast" (SAFETY.md, the mutation
# section, has the last runs' figures).
# mutmut names mutants by module path from the directory it runs in, and the tests import
# `tvns.*`, so it runs in a scratch workspace laid out as tvns/ + tests/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WS=build/mutation
rm -rf "$WS"
mkdir -p "$WS/tests"
cp -r firmware/tvns "$WS/tvns"
rm -rf "$WS/tvns/board/rp2"*.py
# mutmut leaves decorated functions alone: drop @micropython.native and .viper (on CPython
# the shim's identity anyway), so the hot path is mutated like everything else.
find "$WS/tvns" -name '*.py' -exec sed -i '/^ *@micropython\.\(native\|viper\)/d' {} +
# The stateful test is left out: it takes seconds per mutant and adds little on these modules.
# test_schedule_rules, test_tick_rules and the *_mutants files come first: rule by rule and
# fast, they kill most schedule/scheduler mutants in milliseconds (mutmut runs the fastest
# covering tests first); the *_mutants files hold the corners a mutation run's survivors
# showed (issue 18).
for t in test_schedule_rules test_tick_rules test_tick_mutants test_tick_mutants2 test_tick_callback \
  test_schedule_mutants \
  test_scheduler_setup_mutants test_tick_core test_firmware_core \
  test_protocol_core test_numbers_core test_invariants test_faults test_blinding sim_support \
  gen_support esp32_support test_tickfast mp_tickfast test_schedule_viper mp_schedule_eval \
  test_ring_viper mp_ring test_tickedge mp_tickedge test_numerics mp_verdicts tiers; do
  cp "host_tests/$t.py" "$WS/tests/"
done
# the pin maps the ESP32 helpers read (host_tests/../hardware/boards)
mkdir -p "$WS/hardware" && cp -r hardware/boards "$WS/hardware/"
: > "$WS/tests/conftest.py"  # mutmut puts mutants/ first on sys.path: `tvns` comes from there
# CPython's `const` (the host-only micropython shim): pytest puts tests/ on sys.path
cp tools/tvns_tools/shim/micropython.py "$WS/tests/"
PATHS=""
for m in ${ONLY:-limits protocol checks figures units jsonscan session safety schedule scheduler \
  ticklook tickstep tickfast tickedge ring} \
  ${MODULES:-}; do PATHS="$PATHS\"tvns/$m.py\", "; done
cat > "$WS/pyproject.toml" <<TOML
[tool.mutmut]
source_paths = ["tvns/"]
also_copy = ["hardware/"]
only_mutate = [$PATHS]
pytest_add_cli_args_test_selection = ["tests/"]
# test_tickfast's and test_tickedge's CPython cases only: its MicroPython runtimes and the rp2 board's files are
# not in this workspace (the rp2_fast tests and the runtimes run in make test);
# test_numerics is there for its helper only.
pytest_add_cli_args = ["-q", "-p", "no:cacheprovider", "-x", "--ignore=tests/test_numerics.py",
  "-k", "not on_micropython and not rp2_inline and not rp2_fast and not chips_inline"]
TOML
cd "$WS"
"$ROOT/.venv/bin/mutmut" run --max-children "${JOBS:-2}" || true
"$ROOT/.venv/bin/mutmut" results > results.txt || true
echo "survivors and timeouts: $(grep -c ':' results.txt || true) (build/mutation/results.txt)"
