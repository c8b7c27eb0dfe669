"""`tvns logs pull`: the session log comes off the device over the console protocol (`log_read`
pages with their CRC-32, never the raw REPL) and is written as JSON and CSV, every record
intact. The pty board (`tvns sim-device --pty`) is in test_sim_device.py."""

import json
import pathlib
import subprocess
import sys

from tvns.log import Log

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
    assert end["state"] == "DONE" and end["pulses"] == 7613
    csv_text = (out / "session-log.csv").read_text()
    assert csv_text.splitlines()[0].startswith("seq,kind")
    assert len(csv_text.splitlines()) == len(recs) + 1


class _Dev:
    """The console's log_read over an in-process firmware, with pages corrupted on demand."""

    def __init__(self, app, corrupt=0):
        from tvns.console import Console

        self.out = []
        self.con = Console(app, self.out.append)
        self.corrupt = corrupt
        self.requests = 0

    def request(self, cmd, **fields):
        self.requests += 1
        self.con.feed((json.dumps(dict(fields, id=1, cmd=cmd)) + "\n").encode())
        r = json.loads(self.out[-1])
        if self.corrupt and r.get("data"):
            self.corrupt -= 1
            r["data"] = "A" + r["data"][1:] if r["data"][0] != "A" else "B" + r["data"][1:]
        return r


def _app_with_log(tmp_path, sessions=3):
    from tvns.app import App
    from tvns.board.sim import SimBoard

    log = Log(str(tmp_path / "log.jsonl"), max_bytes=2000, keep=3, sync=False)
    for i in range(sessions):
        log.append("session_start", {"protocol": {"name": "bench%d" % i}, "board": "sim"})
        for t in range(20):
            log.append("state", {"t_s": float(t), "state": "ON"})
        log.append("session_end", {"t_s": 20.0, "state": "DONE", "reason": "done"})
    return App(SimBoard(), log), log


def test_pull_copies_every_file_byte_for_byte_over_log_read_pages(tmp_path):
    from tvns_tools.logs import pull_files

    app, log = _app_with_log(tmp_path)
    assert len(log.files()) >= 2  # rotated files too
    dev = _Dev(app, corrupt=2)  # two pages arrive damaged: asked for again
    got = pull_files(dev, tmp_path / "pulled")
    assert [p.name for p in got] == [pathlib.Path(f).name for f in log.files()]
    for src, dst in zip(log.files(), got):
        assert dst.read_bytes() == pathlib.Path(src).read_bytes()
    assert dev.requests > len(got) + 4  # paged (1 kB at most), with the two retries


def test_a_page_that_never_passes_its_crc_is_an_error(tmp_path):
    import pytest
    from tvns_tools.firmware import ToolError
    from tvns_tools.logs import pull_files

    app, _log = _app_with_log(tmp_path, 1)
    with pytest.raises(ToolError, match="CRC"):
        pull_files(_Dev(app, corrupt=99), tmp_path / "pulled")
