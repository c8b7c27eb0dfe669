"""`tvns run --sim`: the firmware under MicroPython on the sim board, driven over its console
exactly as a board would be, with the exit code saying how the session ended."""

import json
import pathlib
import signal
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "firmware" / "protocols" / "default.json"


def _tvns(*args):
    return [sys.executable, "-m", "tvns_tools.cli", *map(str, args)]


def test_run_sim_default_protocol_completes_with_every_pulse():
    v = subprocess.run(_tvns("validate", DEFAULT, "--json"), capture_output=True, text=True)
    total = json.loads(v.stdout)["derived"]["pulses_total"]
    t0 = time.monotonic()
    r = subprocess.run(
        _tvns("run", DEFAULT, "--sim", "--speed", 1000, "--json"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    wall_s = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["state"] == "DONE" and st["exit_code"] == 0
    assert st["pulses"] == total  # 7613 since 0 uA pulses are no pulses (7749 before)
    assert st["elapsed_s"] == st["session_s"] == 600 and st["amplitude_ma"] == 0
    assert "state RAMP_DOWN" in r.stderr and "session_end DONE" in r.stderr
    assert wall_s < 20  # 600 s of session at 1000x: about 0.6 s plus start-up


def test_run_sim_ctrl_c_stops_with_ramp_down_and_exit_3():
    proc = subprocess.Popen(
        _tvns("run", DEFAULT, "--sim", "--speed", 10, "--json"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = []
    for line in proc.stderr:  # wait for stimulation (ON at 5 s session time = 0.5 s here)
        seen.append(line)
        if line.startswith("state ON"):
            break
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)  # what a terminal Ctrl-C delivers to tvns
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 3, "".join(seen) + err
    st = json.loads(out)
    assert st["state"] == "STOPPED" and st["exit_code"] == 3
    assert st["amplitude_ma"] == 0 and 5 < st["elapsed_s"] < 60
    assert "state STOPPED" in err and "session_end STOPPED" in err
