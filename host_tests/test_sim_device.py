"""A stimulator on your desk with no hardware: `tvns sim-device --pty --state DIR` serves the
virtual board on a pseudo-terminal, and every host command talks to it through pyserial as
to a board, across restarts of the virtual board (its flash kept in DIR). Also: a host that
holds the link and stops reading never stalls the device (SAFETY.md H42)."""

import json
import os
import pathlib
import subprocess
import time

from desk_support import VirtualBoard, console, status, tvns
from tvns.log import read_file

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
PIN = "865309"
SPEED = 200
BLIND = {
    "schema": 1,
    "name": "blind-study",
    "amplitude_ma": 1.0,
    "pulse_width_us": 250,
    "interphase_gap_us": 20,
    "frequency_hz": 25,
    "on_s": 10,
    "off_s": 5,
    "ramp_up_s": 5,
    "ramp_down_s": 5,
    "session_s": 60,
    "electrode_area_cm2": 1.0,
    "sham": False,
    "blinded": True,
}


_tvns = tvns
_VirtualBoard = VirtualBoard
_console = console
_status = status


def test_a_blinded_study_on_the_virtual_board_across_restarts(tmp_path):
    state = tmp_path / "flash"
    proto = tmp_path / "blind.json"
    proto.write_text(json.dumps(BLIND))
    board = _VirtualBoard(state)
    try:
        st = _status(board.port)
        assert st["ok"] and st["state"] == "IDLE" and st["store"]["ok"]
        replies = _console(
            board.port,
            'set_pin {"new_pin": "%s"}' % PIN,
            'allocate {"pin": "%s", "arm": "active"}' % PIN,
        )
        assert [r["ok"] for r in replies if "id" in r] == [True, True]
        r = _tvns("run", proto, "--port", board.port, "--pin", PIN, "--json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout.splitlines()[-1])["state"] == "DONE"
    finally:
        board.kill()
    board = _VirtualBoard(state)  # a restart: PIN, allocation, exposure and log kept
    try:
        assert _status(board.port)["exposure_used_s"] == 60
        r = _tvns("run", proto, "--port", board.port, "--json")  # no PIN: load refused
        assert r.returncode == 2 and "pin_required" in r.stderr
        replies = _console(board.port, 'allocate {"pin": "%s", "arm": "sham"}' % PIN)
        assert replies[-1]["ok"]
        r = _tvns("run", proto, "--port", board.port, "--pin", PIN, "--json")
        assert r.returncode == 0, r.stderr
        # a session started and stopped from separate commands
        replies = _console(
            board.port,
            'load {"pin": "%s", "protocol": %s}' % (PIN, json.dumps(dict(BLIND, session_s=1800))),
            "arm",
            "start",
        )
        assert all(x["ok"] for x in replies if "id" in x)
        assert _status(board.port)["state"] in ("RAMP_UP", "ON", "OFF")
        r = _tvns("stop", "--port", board.port)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["state"] == "STOPPED"
        replies = _console(board.port, 'unblind {"pin": "%s"}' % PIN)
        assert replies[-1]["arm"] == "sham"
        out = tmp_path / "pulled"
        r = _tvns("logs", "pull", "--port", board.port, "--out", out)
        assert r.returncode == 0, r.stderr
        assert "in 3 sessions" in r.stdout
        pulled = (out / "device" / "log.jsonl").read_bytes()
        assert pulled == (state / "log.jsonl").read_bytes()  # byte for byte
        recs = list(read_file(str(out / "session-log.jsonl")))
        ends = [x for x in recs if x["kind"] == "session_end"]
        assert [e["state"] for e in ends] == ["DONE", "DONE", "STOPPED"]
        assert all(e["pulses"] is None for e in ends)  # blinded: the log does not tell
        text = (out / "session-log.json").read_text()
        assert "sham" not in text.replace('"sham": false', "") and PIN not in text
        assert (out / "session-log.csv").read_text().startswith("seq,kind")
        # the study's report: every session, blinded, and the arm nowhere in it
        r = _tvns("report", out / "session-log.jsonl", "--out", tmp_path / "rep" / "study")
        assert r.returncode == 0, r.stderr
        md = (tmp_path / "rep" / "study.md").read_text()
        assert md.count("## Session ") == 3 and md.count("| Sham | blinded (arm allocated") == 3
        assert "not logged; unblind with the PIN" in md and PIN not in md
        assert "local (UTC" in md or "(host clock via set_time)" in md  # time of day
    finally:
        board.kill()


def test_a_host_that_stops_reading_never_stalls_the_device():
    from tvns_tools.firmware import FIRMWARE, micropython_binary, micropython_env

    env = micropython_env()
    env["MICROPYPATH"] = str(FIRMWARE)
    proc = subprocess.Popen(
        [micropython_binary(), str(FIRMWARE / "main.py"), "--console", "--speed", "100"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=str(FIRMWARE),
    )
    try:
        short = dict(BLIND, blinded=False, session_s=30)
        proc.stdin.write(b'{"id": 1, "cmd": "load", "protocol": %s}\n' % json.dumps(short).encode())
        proc.stdin.write(b'{"id": 2, "cmd": "arm"}\n{"id": 3, "cmd": "start"}\n')
        # Hundreds of status requests, and the host reads nothing: about 250 kB of replies
        # against a 64 kB pipe. A device that waited for the host would freeze its session.
        for i in range(600):
            proc.stdin.write(b'{"id": "s%d", "cmd": "status"}\n' % i)
        proc.stdin.flush()
        time.sleep(2.0)  # 30 s of session at 100x is 0.3 s: it must have ended meanwhile
        fd = proc.stdout.fileno()
        os.set_blocking(fd, False)
        drained = b""
        while True:
            try:
                chunk = os.read(fd, 1 << 16)
            except BlockingIOError:
                chunk = b""
            if not chunk:
                break
            drained += chunk
        os.set_blocking(fd, True)
        proc.stdin.write(b'{"id": "last", "cmd": "status"}\n')
        proc.stdin.flush()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if b'"last"' in line:
                break
        st = json.loads(line)
        assert st["state"] == "DONE", st
        assert st["console"]["tx_dropped"] > 0
        for line in drained.splitlines():  # lines are dropped whole, never cut
            json.loads(line)
    finally:
        proc.kill()
        proc.wait()


def test_the_writer_pads_whole_chunks_and_never_blocks_on_a_full_pipe():
    from tvns.console_io import PollWriter

    r, w = os.pipe()
    try:
        writer = PollWriter(os.fdopen(w, "wb", buffering=0, closefd=False), 64, pad=True)
        line = json.dumps({"id": 1, "ok": True, "state": "ON", "pad": "x" * 150}) + "\n"
        for _ in range(2000):  # about 400 kB into a 64 kB pipe nobody reads: never waits
            writer.write(line)
        for _ in range(10):
            writer.pump()
        assert writer.dropped > 0 and writer.queued <= writer.queue_bytes
        os.set_blocking(r, False)
        got = b""
        while True:
            try:
                chunk = os.read(r, 1 << 16)
            except BlockingIOError:
                break
            got += chunk
        lines = got.split(b"\n")[:-1]
        assert lines and all(json.loads(x)["state"] == "ON" for x in lines)  # whole lines
        assert all((len(x) + 1) % 64 == 0 for x in lines)  # padded to 64-byte chunks
    finally:
        os.close(r)
        os.close(w)
