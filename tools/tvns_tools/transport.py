"""Links to a device speaking the console protocol (PROTOCOL.md): a serial port (a board on
USB), or a local process running the firmware on the sim board under the MicroPython unix
runtime. Both deliver received lines through a queue filled by a reader thread, so the host
never blocks on the link and timeouts are exact."""

import json
import os
import pathlib
import queue
import subprocess
import tempfile
import threading
import time

from tvns_tools.firmware import FIRMWARE, ROOT, ToolError, micropython_binary, micropython_env

BAUD = 115200  # ignored by USB CDC, needed by pyserial
NOISE_KEEP = 200  # non-JSON lines (a traceback, REPL banner) kept for error messages


# Host timeouts are stated for a board at full speed. A slower device (the emulated Pico of
# `tvns emulate` runs ~15-30x slower than silicon) announces a factor: TVNS_TIMEOUT_SCALE in
# the environment wins; else a port that a running `tvns emulate` registered (below) takes
# the factor that emulator measured. The device itself cannot tell: it sees only its own
# (emulated) clock, which is the point of emulating it.
ENV_TIMEOUT_SCALE = "TVNS_TIMEOUT_SCALE"
EMULATED_PORTS = pathlib.Path(tempfile.gettempdir()) / ("tvns-emulate-%d" % os.getuid())


def _port_key(port):
    return os.path.realpath(port).strip("/").replace("/", "-") + ".json"


def register_emulated_port(port, timeout_scale):
    """Announce port as an emulated board slowed down by timeout_scale; returns the undo."""
    EMULATED_PORTS.mkdir(parents=True, exist_ok=True)
    path = EMULATED_PORTS / _port_key(port)
    rec = {"port": port, "pid": os.getpid(), "timeout_scale": float(timeout_scale)}
    path.write_text(json.dumps(rec))

    def undo():
        try:
            if json.loads(path.read_text()).get("pid") == os.getpid():
                path.unlink()
        except (OSError, ValueError):
            pass

    return undo


def emulated_port(port):
    """The record of a running emulator serving port, or None."""
    try:
        rec = json.loads((EMULATED_PORTS / _port_key(port)).read_text())
        os.kill(int(rec["pid"]), 0)  # still running?
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return rec


def timeout_scale(port=None):
    """The factor host timeouts are multiplied by for this port (>= 1)."""
    env = os.environ.get(ENV_TIMEOUT_SCALE)
    if env:
        try:
            value = float(env)
        except ValueError:
            value = 0.0
        if not 1.0 <= value <= 1000.0:
            raise ToolError("%s=%r: give a factor from 1 to 1000" % (ENV_TIMEOUT_SCALE, env))
        return value
    rec = emulated_port(port) if port else None
    return max(1.0, float(rec["timeout_scale"])) if rec else 1.0


class Transport:
    """Base: send_line(bytes), read_line(timeout_s) -> bytes | None (None: timeout),
    close(). Subclasses start a reader that calls self._rx(line) for every line.
    timeout_scale: how much slower than a real board this link's device runs."""

    timeout_scale = 1.0

    def __init__(self):
        self._lines = queue.Queue()
        self.closed = False

    def _rx(self, line):
        self._lines.put(line)

    def read_line(self, timeout_s):
        try:
            line = self._lines.get(timeout=max(0.0, timeout_s))
        except queue.Empty:
            return None
        if line is EOFError:
            self._lines.put(EOFError)  # stays closed for every later reader
            raise ToolError("the device closed the link%s" % self.why_closed())
        return line

    def why_closed(self):
        return ""

    def send_line(self, data):
        raise NotImplementedError

    def close(self):
        self.closed = True


# The sim device's session log: one file for every --sim command, as a board keeps one.
SIM_LOG = ROOT / "out" / "sim-device" / "log.jsonl"


class LocalTransport(Transport):
    """The firmware on the sim board under MicroPython, console on its stdin/stdout:
    `micropython firmware/main.py --console --speed N` with MICROPYPATH=firmware."""

    def __init__(self, speed=1.0, firmware=FIRMWARE, extra_env=None):
        super().__init__()
        env = micropython_env()
        env["MICROPYPATH"] = str(firmware)
        env.update(extra_env or {})
        argv = [micropython_binary(), str(firmware / "main.py"), "--console"]
        argv += ["--speed", repr(float(speed))]
        SIM_LOG.parent.mkdir(parents=True, exist_ok=True)
        argv += ["--log", str(SIM_LOG)]
        # Own session: a Ctrl-C at the terminal reaches tvns only, which then sends `stop`
        # (the orderly ramp down) instead of the device dying mid-pulse.
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=str(firmware),
            start_new_session=True,
        )
        self.stderr = []
        threading.Thread(target=self._read_out, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read_out(self):
        for line in self.proc.stdout:
            self._rx(line)
        self._rx(EOFError)

    def _read_err(self):
        for line in self.proc.stderr:
            self.stderr = (self.stderr + [line.decode(errors="replace")])[-NOISE_KEEP:]

    def why_closed(self):
        rc = self.proc.poll()
        return " (exit status %s)%s" % (rc, (": " + self.stderr[-1].strip()) if self.stderr else "")

    def send_line(self, data):
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError) as exc:
            raise ToolError("the device closed the link%s" % self.why_closed()) from exc

    def close(self, timeout_s=5.0):
        """Close stdin (the firmware turns the output off and exits), then wait."""
        if self.closed:
            return self.proc.returncode
        super().close()
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


class SerialTransport(Transport):
    """A board on a serial port (USB CDC). Lines end in "\\n"; a "\\r" before it is dropped."""

    def __init__(self, port, baud=BAUD):
        super().__init__()
        import serial  # pyserial: imported here so the sim path does not need it

        self.timeout_scale = timeout_scale(port)

        try:
            self.ser = serial.Serial(port, baud, timeout=0.05)
        except (serial.SerialException, OSError) as exc:
            raise ToolError("cannot open %s: %s" % (port, exc)) from exc
        self.ser.reset_input_buffer()  # lines from before we came are not ours
        self._stop = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        buf = b""
        while not self._stop:
            try:
                chunk = self.ser.read(4096)
            except (OSError, TypeError):  # port gone (unplugged) or closed under us
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                self._rx(line + b"\n")
        self._rx(EOFError)

    def send_line(self, data):
        try:
            self.ser.write(data)
            self.ser.flush()
        except OSError as exc:
            raise ToolError("serial write failed: %s" % exc) from exc

    def close(self):
        super().close()
        self._stop = True
        time.sleep(0.06)  # let the reader leave its read() before the port goes
        self.ser.close()


def open_transport(port=None, sim=False, speed=1.0):
    if port and sim:
        raise ToolError("give either --port or --sim, not both")
    if port:
        return SerialTransport(port)
    if sim:
        return LocalTransport(speed)
    raise ToolError("no device: give --port PORT (a board) or --sim (the simulated board)")


def pty_pair():
    """(master_fd, slave_path) of a raw pty: the unix runtime on the master stands in for a
    board's USB serial, mpremote and pyserial open the slave like a /dev/ttyACM0."""
    import pty
    import tty

    master, slave = pty.openpty()
    tty.setraw(slave)
    return master, os.ttyname(slave), slave
