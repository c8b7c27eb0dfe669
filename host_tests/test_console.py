"""The console in the real firmware process: `micropython firmware/main.py --console` on the
sim board, over pipes (tvns_tools.transport.LocalTransport) and over a pty; plus the
in-process checks of test_console_core.py run under the MicroPython runtime."""

import json
import os
import pathlib
import select
import subprocess
import sys
import time

import pytest
from tvns_tools.device import Device
from tvns_tools.firmware import micropython_binary, micropython_env
from tvns_tools.transport import LocalTransport, pty_pair

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT = json.loads((ROOT / "firmware" / "protocols" / "default.json").read_text())
sys.path.insert(0, str(HERE))
from console_support import HOSTILE  # noqa: E402 - the same hostile table, both runtimes


@pytest.mark.mp_tier
def test_console_core_under_micropython():
    env = dict(os.environ, MICROPYPATH="%s:%s" % (ROOT / "firmware", HERE))
    r = subprocess.run(
        [micropython_binary(), str(HERE / "mp_runner.py"), "test_console_core"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=str(HERE),
    )
    assert r.returncode == 0 and " 0 failed" in r.stdout, r.stdout[-3000:]


def _device(speed=1000):
    dev = Device(LocalTransport(speed=speed))
    dev.wait_boot()
    return dev


def _state(dev):
    st = dev.request("status")
    return {k: st[k] for k in ("state", "amplitude_ma", "protocol", "fault")}


def _start(dev):
    dev.request("load", protocol=DEFAULT)
    dev.request("arm")
    dev.request("start")


def test_hostile_input_over_the_link_while_stimulating():
    dev = _device(speed=1)  # real time: the state cannot move on between two checks
    try:
        _start(dev)
        time.sleep(0.2)
        before = _state(dev)
        assert before["state"] == "RAMP_UP"
        for data, code in HOSTILE:
            dev.send_raw(data)
            r = dev.wait_reply(None, check=False)
            assert r["ok"] is False and r["error"]["code"] == code, (data[:40], r)
            assert _state(dev)["state"] == "RAMP_UP"
        # a partial line waits for its newline, then is served
        dev.t.send_line(b'{"id": "p", "cmd": "sta')  # no newline yet
        assert dev._receive(0.3) is None  # nothing answers half a line
        dev.t.send_line(b'tus"}\n')
        r = dev.wait_reply("p")
        assert r["ok"] and r["state"] == "RAMP_UP"
        for cmd in ("load", "arm", "start", "clear"):
            assert dev.request(cmd, check=False, protocol=DEFAULT)["error"]["code"] == "busy"
        assert _state(dev)["state"] == "RAMP_UP" and _state(dev)["protocol"] == before["protocol"]
        assert not [n for n in dev.noise if "Traceback" in n]
    finally:
        dev.close()


def test_round_trip_latency_and_throughput(capsys):
    dev = _device(speed=1)
    try:
        rtts = []
        for _ in range(50):
            t0 = time.perf_counter()
            dev.request("status")
            rtts.append(time.perf_counter() - t0)
        rtts.sort()
        t0 = time.perf_counter()
        n = 200
        for i in range(n):  # pipelined: all sent, then all answered
            dev.send_raw(b'{"id": %d, "cmd": "hello"}' % (10000 + i))
        for i in range(n):
            dev.wait_reply(10000 + i)
        lines_s = n / (time.perf_counter() - t0)
    finally:
        dev.close()
    with capsys.disabled():
        print(
            "\nconsole on the sim device (MicroPython): status round trip median %.1f ms, "
            "max %.1f ms; pipelined hello %.0f lines/s" % (rtts[25] * 1e3, rtts[-1] * 1e3, lines_s)
        )
    assert rtts[25] < 0.1  # input wakes the loop: well under one 100 ms loop period


def test_ctrl_c_byte_mid_session_turns_output_off_before_exit():
    dev = _device(speed=10)
    try:
        _start(dev)
        deadline = time.monotonic() + 10
        while _state(dev)["state"] != "ON" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _state(dev)["amplitude_ma"] > 0
        dev.t.send_line(b"\x03")
        deadline = time.monotonic() + 5
        while not [e for e in dev.events if e["event"] == "abort"]:
            assert time.monotonic() < deadline, dev.noise
            try:
                dev.pump(0.1)
            except Exception:  # the link closes right after the abort event
                break
        abort = [e for e in dev.events if e["event"] == "abort"][0]
        assert abort["reason"] == "interrupt" and abort["output"] == "off"
        assert abort["amplitude_ua"] == 0 and abort["gated"] is False
        assert abort["state"] == "FAULT"  # latched: no automatic resume
    finally:
        rc = dev.close()
    assert rc != 0  # KeyboardInterrupt went on up: the REPL (or exit) comes after safe_off


def test_sigint_from_a_terminal_ctrl_c_turns_output_off():
    """On a pty with the usual line discipline, 0x03 becomes SIGINT: the unix port's own
    Ctrl-C path, as close to a board's kbd_intr as the host gets."""
    import termios

    master, slave_path, slave = pty_pair()
    attrs = termios.tcgetattr(slave)
    attrs[3] |= termios.ISIG  # raw otherwise, but Ctrl-C -> SIGINT
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    fw = ROOT / "firmware"
    proc = subprocess.Popen(
        [micropython_binary(), str(fw / "main.py"), "--console", "--speed", "10"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=micropython_env(),
        cwd=str(fw),
        start_new_session=True,
        preexec_fn=lambda: __import__("fcntl").ioctl(0, termios.TIOCSCTTY, 0),
    )
    buf = b""

    def read_until(token, timeout_s=10):
        nonlocal buf
        deadline = time.monotonic() + timeout_s
        while token not in buf:
            assert time.monotonic() < deadline, buf[-2000:]
            if select.select([master], [], [], 0.1)[0]:
                buf += os.read(master, 65536)

    try:
        read_until(b'"event": "boot"')
        for i, req in enumerate(({"cmd": "load", "protocol": DEFAULT}, {"cmd": "arm"})):
            os.write(master, json.dumps(dict(req, id=i)).encode() + b"\n")
        os.write(master, b'{"id": 9, "cmd": "start"}\n')
        read_until(b'"state": "ON"')
        os.write(master, b"\x03")
        read_until(b'"event": "abort"')
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
        os.close(slave)
    line = [x for x in buf.split(b"\n") if b'"abort"' in x][0]
    abort = json.loads(line)
    assert abort["reason"] == "interrupt" and abort["amplitude_ua"] == 0 and not abort["gated"]


def _cli(*args):
    r = subprocess.run(
        [sys.executable, "-m", "tvns_tools.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    return [json.loads(x) for x in r.stdout.splitlines()]


def test_status_stop_logs_commands_on_the_sim():
    (st,) = _cli("status", "--sim")
    assert st["state"] == "IDLE" and st["ok"]
    (st,) = _cli("stop", "--sim")
    assert st["state"] == "IDLE"
    records = _cli("logs", "events", "--sim")
    assert records[0]["event"] == "boot" and records[0]["seq"] == 0


def test_console_command_answers_every_typed_line():
    r = subprocess.run(
        [sys.executable, "-m", "tvns_tools.cli", "console", "--sim"],
        input='hello\nload {"protocol": 5}\n{"cmd": "status"}\n',
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    replies = [json.loads(x) for x in r.stdout.splitlines() if '"event"' not in x]
    assert [x["ok"] for x in replies] == [True, False, True]
    assert replies[1]["error"]["code"] == "bad_field" and replies[2]["state"] == "IDLE"
