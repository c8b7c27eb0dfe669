"""`tvns run --sim`: the firmware under MicroPython on the sim board, driven over its console
exactly as a board would be, with the exit code saying how the session ended."""

import json
import pathlib
import signal
import subprocess
import sys
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "firmware" / "protocols" / "default.json"
WAIT_WALL_S = 180  # outer guard (host seconds) on a step that takes ~1 s unloaded


def _tvns(*args):
    return [sys.executable, "-m", "tvns_tools.cli", *map(str, args)]


def _sigint_default():
    """In the child before exec: SIGINT back to its default, whatever the runner had."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


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
        # Ctrl-C must reach it: a shell starts background jobs (`make test &`) with
        # SIGINT ignored, and an ignored signal stays ignored across exec
        preexec_fn=_sigint_default,
    )
    # Waits in host seconds are outer guards only (generous: beside the emulated Pico's tier
    # on a loaded 2-core machine this process gets a fraction of a core); what the test
    # checks is on the session's own clock.
    seen = []
    on = threading.Event()

    def read_until_on():  # wait for stimulation (ON at 5 s session time = 0.5 s here)
        for line in proc.stderr:
            seen.append(line)
            if line.startswith("state ON"):
                on.set()
                return

    threading.Thread(target=read_until_on, daemon=True).start()
    if not on.wait(WAIT_WALL_S):
        proc.kill()
        proc.communicate()
        raise AssertionError("no state ON within %d s (wall):\n%s" % (WAIT_WALL_S, "".join(seen)))
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)  # what a terminal Ctrl-C delivers to tvns
    try:
        out, err = proc.communicate(timeout=WAIT_WALL_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(
            "tvns run still running %d s after SIGINT: %s" % (WAIT_WALL_S, err)
        ) from None
    assert proc.returncode == 3, "".join(seen) + err
    st = json.loads(out)
    assert st["state"] == "STOPPED" and st["exit_code"] == 3
    assert st["amplitude_ma"] == 0 and 5 < st["elapsed_s"] < 60
    assert "state STOPPED" in err and "session_end STOPPED" in err
