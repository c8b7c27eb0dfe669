#!/usr/bin/env bash
# make mutation: mutmut over the safety-critical firmware modules with the fast CPython tests.
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
for t in test_firmware_core test_invariants test_faults test_stateful; do
  cp "host_tests/$t.py" "$WS/tests/"
done
: > "$WS/tests/conftest.py"  # mutmut puts mutants/ first on sys.path: `tvns` comes from there
cat > "$WS/pyproject.toml" <<'TOML'
[tool.mutmut]
source_paths = ["tvns/"]
only_mutate = ["tvns/limits.py", "tvns/protocol.py", "tvns/session.py", "tvns/safety.py",
               "tvns/schedule.py", "tvns/scheduler.py"]
pytest_add_cli_args_test_selection = ["tests/"]
pytest_add_cli_args = ["-q", "-p", "no:cacheprovider", "-x"]
TOML
cd "$WS"
"$ROOT/.venv/bin/mutmut" run --max-children "${JOBS:-2}" || true
"$ROOT/.venv/bin/mutmut" results > results.txt || true
echo "survivors and timeouts: $(grep -c ':' results.txt || true) (build/mutation/results.txt)"
