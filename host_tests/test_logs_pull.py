"""`tvns logs pull`: the session log comes off the device (mpremote from a board's flash, or
the sim device's file) and is written as JSON and CSV, every record intact."""

import json
import subprocess
import sys

from tvns.log import Log, read_file

DEFAULT = "firmware/protocols/default.json"


def _cli(*args, timeout=180):
    return subprocess.run(
        [sys.executable, "-m", "tvns_tools.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_pull_from_the_sim_device_after_a_run(tmp_path):
    r = _cli("run", DEFAULT, "--sim", "--speed", "1000", "--json")
    assert r.returncode == 0, r.stderr
    out = tmp_path / "pulled"
    r = _cli("logs", "pull", "--sim", "--out", out)
    assert r.returncode == 0, r.stderr
    recs = json.loads((out / "session-log.json").read_text())
    recs = recs["records"] if isinstance(recs, dict) else recs
    last_start = max(i for i, x in enumerate(recs) if x["kind"] == "session_start")
    session = recs[last_start:]
    assert session[0]["protocol"]["name"] == "tragus-25hz-250us-30on30off"
    end = [x for x in session if x["kind"] == "session_end"][0]
    assert end["state"] == "DONE" and end["pulses"] == 7749
    csv_text = (out / "session-log.csv").read_text()
    assert csv_text.splitlines()[0].startswith("seq,kind")
    assert len(csv_text.splitlines()) == len(recs) + 1


def test_pull_over_mpremote_from_a_pty_board(pty_board, tmp_path):  # noqa: F811
    port, fs, proc = pty_board
    log = Log(str(fs / "log.jsonl"), sync=False)
    log.append("session_start", {"protocol": {"name": "bench"}, "board": "pico"})
    log.append("state", {"t_s": 0.0, "state": "RAMP_UP"})
    log.append("session_end", {"t_s": 1.0, "state": "DONE", "reason": "done"})
    log.close()
    out = tmp_path / "pulled"
    r = _cli("logs", "pull", "--port", port, "--out", out)
    assert r.returncode == 0, r.stderr + r.stdout
    assert proc.poll() is None  # resume: the board was not reset
    assert (out / "device" / "log.jsonl").read_bytes() == (fs / "log.jsonl").read_bytes()
    assert [x["kind"] for x in read_file(str(out / "session-log.jsonl"))] == [
        "session_start",
        "state",
        "session_end",
    ]
    assert "3 records in 1 sessions" in r.stdout
