"""`tvns console` as a person uses it, through the host CLI against the virtual board on a
pty (`tvns sim-device --pty --state DIR`): malformed lines, a dict id, Ctrl-C mid-session
(stop, then the ramp down, and the console keeps serving); and under a real terminal, the
prompt-toolkit prompt with its history."""

import json
import os
import pathlib
import pty
import queue
import select
import signal
import subprocess
import sys
import threading
import time

from desk_support import ROOT, VirtualBoard, tvns

DEFAULT = ROOT / "firmware" / "protocols" / "default.json"
# Waits in host seconds are outer guards only: generous, as beside the emulated Pico's tier
# on a loaded 2-core machine these processes get a fraction of a core.
WAIT_WALL_S = 120


def _sigint_default():
    """In the child before exec: SIGINT back to its default, whatever the runner had."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class _Console:
    """`tvns console --port P` with stdin/stdout pipes, read line by line as it prints."""

    def __init__(self, port):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tvns_tools.cli", "console", "--port", port],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=str(ROOT),
            # the console's reply waits (host seconds, 2 s) x5: the virtual board answers in
            # milliseconds unloaded, but beside the emulated Pico's tier it may wait for a core
            env=dict(os.environ, TVNS_TIMEOUT_SCALE="5"),
            # Ctrl-C must reach it: a shell starts background jobs (`make test &`) with
            # SIGINT ignored, and an ignored signal stays ignored across exec
            preexec_fn=_sigint_default,
        )
        self.lines = []
        self.q = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            self.q.put(line.rstrip("\n"))

    def send(self, *lines):
        self.proc.stdin.write("".join(x + "\n" for x in lines))
        self.proc.stdin.flush()

    def until(self, pred, timeout_s=WAIT_WALL_S):
        """Read printed lines until pred(obj) for a JSON line; that object. The timeout is an
        outer guard in host seconds (each step takes well under a second unloaded)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self.q.get(timeout=0.1)
            except queue.Empty:
                assert self.proc.poll() is None, "the console ended: %s" % self.proc.stderr.read()
                continue
            self.lines.append(line)
            if line.startswith("{"):
                obj = json.loads(line)
                if pred(obj):
                    return obj
        raise AssertionError("not seen in time; printed:\n" + "\n".join(self.lines[-20:]))


def test_the_console_survives_people_and_ramps_down_on_ctrl_c(tmp_path):
    with VirtualBoard(tmp_path / "flash", speed=20) as board:
        con = _Console(board.port)
        try:
            con.send(
                "load active.json",  # a file that is not there, typed as a command
                '{"cmd": "status"',  # an unclosed brace
                '{"cmd":"status","id":{"a":1}}',  # a dict id: the device answers id null
                "bogus",
                "help",
                "status",
            )
            bad_id = con.until(lambda o: o.get("id") is None and "error" in o)
            assert bad_id["error"]["field"] == "id" and bad_id["error"]["code"] == "bad_field"
            assert con.until(lambda o: o.get("error", {}).get("code") == "unknown_cmd")
            assert con.until(lambda o: o.get("state") == "IDLE")["ok"]
            con.send("load %s" % DEFAULT, "arm", "start")
            con.until(lambda o: o.get("event") == "state" and o["state"] == "ON")
            time.sleep(0.3)
            con.proc.send_signal(signal.SIGINT)  # a terminal's Ctrl-C
            down = con.until(lambda o: o.get("event") == "state" and o["state"] == "RAMP_DOWN")
            end = con.until(lambda o: o.get("event") == "session_end")
            assert end["state"] == "STOPPED" and end["t_s"] > down["t_s"]  # ramped, not cut
            final = con.until(lambda o: "elapsed_s" in o and o["state"] == "STOPPED")
            assert final["amplitude_ma"] == 0
            con.send("status")  # still serving after all of it
            assert con.until(lambda o: str(o.get("id", "")).startswith("c"))["state"] == "STOPPED"
            con.proc.stdin.close()
            assert con.proc.wait(timeout=WAIT_WALL_S) == 0
            err = con.proc.stderr.read()
        finally:
            if con.proc.poll() is None:
                con.proc.kill()
        assert "Traceback" not in err and "Traceback" not in "\n".join(con.lines)
        assert "tvns: cannot read active.json" in err
        assert "tvns: not JSON" in err
        assert "-- Ctrl-C: session ON, sending stop" in con.lines
        assert any(x.startswith("Commands (") for x in con.lines)  # help
        # the virtual board lived through it all
        r = tvns("status", "--port", board.port)
        assert r.returncode == 0 and json.loads(r.stdout)["state"] == "STOPPED"


def test_run_in_the_console_behaves_like_tvns_run(tmp_path):
    short = json.loads(DEFAULT.read_text())
    short.update(session_s=20, on_s=5, off_s=2, ramp_up_s=2, ramp_down_s=2)
    proto = tmp_path / "short.json"
    proto.write_text(json.dumps(short))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(dict(short, pulse_width_us=0.25)))
    with VirtualBoard(tmp_path / "flash", speed=50) as board:
        r = tvns("console", "--port", board.port, stdin="run %s\nrun %s\nstatus\n" % (bad, proto))
        assert r.returncode == 0, r.stderr
        assert "0.25 looks like milliseconds" in r.stderr  # validated here, nothing sent
        assert "-- run: DONE after 20.0 of 20.0 s" in r.stdout
        assert "(tvns run would exit 0)" in r.stdout
        last = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")][-1]
        assert last["state"] == "DONE" and last["pulses"] > 0


def _read_until(fd, needle, timeout_s=15):
    out = b""
    deadline = time.monotonic() + timeout_s
    while needle not in out:
        assert time.monotonic() < deadline, out.decode(errors="replace")[-2000:]
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                out += os.read(fd, 4096)
            except OSError:
                break
    return out


def test_the_console_on_a_terminal_has_a_prompt_and_history(tmp_path):
    with VirtualBoard(tmp_path / "flash", speed=20) as board:
        master, slave = pty.openpty()
        env = dict(os.environ, HOME=str(tmp_path), TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1")
        proc = subprocess.Popen(
            [sys.executable, "-m", "tvns_tools.cli", "console", "--port", board.port],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=str(ROOT),
            start_new_session=True,
        )
        os.close(slave)
        try:
            _read_until(master, b"tvns>")
            os.write(master, b"status\r")
            got = _read_until(master, b'"state": "IDLE"')
            assert b"Traceback" not in got
            time.sleep(0.3)  # the prompt is drawn again after the reply
            os.write(master, b"\x1b[A")  # arrow up: the last line back from history
            assert b"status" in _read_until(master, b"status")
            os.write(master, b"\r")
            _read_until(master, b'"state": "IDLE"')
            os.write(master, b"\x04")  # Ctrl-D on an empty line leaves
            assert proc.wait(timeout=10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
            os.close(master)
        assert "status" in (pathlib.Path(tmp_path) / ".tvns_console_history").read_text()
