"""The ESP32 board under the real MicroPython unix runtime, with the ESP32 fakes first on
MICROPYPATH (host_tests/fakes_esp32, on the silicon model): built by its own build() from
`import machine, esp32`, a session through App, every soft-timer callback (feed, tick,
feed) and the e-stop fault path under heap_lock, on the PyPI runtime and on the
board-numerics build (31-bit small ints, single floats); and `tvns simulate --engine rmt`
giving the same frames under MicroPython as under CPython."""

import json
import os
import pathlib
import subprocess
import sys

from test_micropython import _board_numerics_micropython
from tiers import require
from tvns_tools.firmware import micropython_binary

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent


def test_esp32_board_tick_path_allocates_nothing_under_both_micropython_runtimes(tmp_path):
    binaries = [micropython_binary()]
    binaries.append(require(_board_numerics_micropython(), "board-numerics MicroPython"))
    env = dict(os.environ, MICROPYPATH="%s:%s:%s" % (HERE / "fakes_esp32", ROOT / "firmware", HERE))
    for i, binary in enumerate(binaries):
        r = subprocess.run(
            [binary, str(HERE / "mp_esp32_checks.py"), str(tmp_path / ("state%d.json" % i))],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=300,
        )
        out = r.stdout + r.stderr
        assert r.returncode == 0 and out.strip().endswith("ESP32 OK"), (binary, out[-3000:])
        assert "2.5 s of ticks allocation-free" in out and "e-stop: FAULT" in out


def _rmt(tmp_path, runtime, *extra):
    vcd = tmp_path / ("%s.vcd" % runtime)
    r = subprocess.run(
        [sys.executable, "-m", "tvns_tools.cli", "simulate", "firmware/protocols/default.json",
         "--engine", "rmt", "--runtime", runtime, "--duration", "12", "--vcd", str(vcd),
         "--json", *extra],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout), vcd.read_text()


def test_engine_rmt_gives_the_same_frames_under_micropython_and_cpython(tmp_path):
    mp, mp_vcd = _rmt(tmp_path, "micropython")
    cp, cp_vcd = _rmt(tmp_path, "cpython")
    # 0.5 s (the ramp's first 0.1 mA step: no pulse at 0 uA) .. 12 s at 40 ms: 288
    assert mp["pulses"] == cp["pulses"] == 288 and mp["board"] == "esp32-devkitc"
    assert mp["rmt"] == cp["rmt"] and mp["segments"] == cp["segments"]
    strip = lambda text: text.split("$enddefinitions")[1]  # noqa: E731 - the $date differs
    assert strip(mp_vcd) == strip(cp_vcd)
    assert "$var wire 1 a phase_a $end" in mp_vcd and "$timescale 1ns $end" in mp_vcd
