"""One emulated board on the bench: the Pico (EmuPico), its output stage, a logic analyser on
its output pins, its console on a pty (registered so every host tool scales its timeouts),
the console's JSON lines with their emulated times, and the host's `Device` on that pty.
Also: deploy_blank() runs the real `tvns deploy` (mpy-cross, mpremote) onto a blank emulated
board, and compare_with_model() holds the emulated pulse train against the sim engine's.
"""

import json
import os
import pathlib
import subprocess
import sys
import time

# Imported before any emulator thread runs: a host-thread import then waits out the GIL (5 ms)
import littlefs  # noqa: F401
import rp2040py.utils.firmware_retrieve  # noqa: F401

from tvns_tools.device import Device
from tvns_tools.hw.edges import pico_config
from tvns_tools.rp2emu import capture, hooks
from tvns_tools.rp2emu.emudevice import EmuDevice
from tvns_tools.rp2emu.emulator import EmuError, EmuPico
from tvns_tools.rp2emu.stage import OutputStage

# Host timeouts on an emulated board: the emulator runs 15-35x slower than silicon on a
# 2-core x86-64 (docs/EMULATOR.md); 60 leaves room for a loaded CI machine.
TIMEOUT_SCALE = 60.0


class EmuBoard:
    """lockstep=True (the tier): the clock moves only while the host waits on it, and the
    host's Device waits in emulated time (EmuDevice): host load does not leak in."""

    def __init__(self, image=None, load="2k", config=None, uf2=None, lockstep=False, **stage_kw):
        self.lockstep = lockstep
        self.config = config or pico_config()
        usb = stage_kw.pop("data_only_usb", True)  # OUT packets only with data (usbhost.py)
        self.emu = EmuPico(image, uf2, usb)
        self.stage = OutputStage(self.emu, self.config, load, **stage_kw).attach()
        gpios = {name: self.stage.gpio[name] for name in capture.PINS}
        self.capture = capture.EdgeCapture(self.emu, gpios).start()
        self.lines = []  # (t_ns, dict): every JSON line the device printed, emulated time
        self._rxbuf = bytearray()
        self.emu.add_sink(self._rx)
        self.port = None
        self._dev = None
        self._opened = 0
        self._unregister = None
        self.hooked = False  # main.py runs under the harness hooks (run_main_from_repl)
        self._loaded = None  # the protocol the running main.py has loaded (start_session)
        self.emu.on_reset.append(self._on_reset)

    def _on_reset(self, _cause):
        self.hooked = False
        self._loaded = None

    # ---- lifecycle ----
    def start(self):
        from tvns_tools.transport import register_emulated_port

        self.emu.start()
        if self.lockstep:
            self.emu.lockstep()
        self.port = self.emu.console()
        self._unregister = register_emulated_port(self.port, TIMEOUT_SCALE)
        return self

    def close(self):
        if self._dev is not None:
            try:
                self._dev.close()
            except Exception:  # noqa: BLE001 - closing after a failure
                pass
            self._dev = None
        if self._unregister:
            self._unregister()
        self.emu.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # ---- the console as the device printed it ----
    def _rx(self, data):
        self._rxbuf += data
        while b"\n" in self._rxbuf:
            i = self._rxbuf.index(b"\n")
            raw = bytes(self._rxbuf[:i]).strip()
            del self._rxbuf[: i + 1]
            try:
                obj = json.loads(raw)
            except ValueError:
                continue
            if isinstance(obj, dict):
                self.lines.append((self.emu.now_ns, obj))

    def events(self, name=None, since_ns=0):
        return [
            (t, o)
            for t, o in list(self.lines)
            if t >= since_ns and "event" in o and (name is None or o["event"] == name)
        ]

    def wait_event(self, name, since_ns=0, emu_ms=3000, match=None):
        """(t_ns, event) of the first `name` event at or after since_ns (emulated time)."""

        def found():
            for t, o in self.events(name, since_ns):
                if match is None or all(o.get(k) == v for k, v in match.items()):
                    return t, o
            return None

        self.emu.wait_for(lambda: found() is not None, emu_ms, what="event %s" % name)
        return found()

    def wait_boot(self, since_ns=0, emu_ms=4000):
        """The boot event of the firmware (main.py's console is up); (t_ns, event)."""
        return self.wait_event("boot", since_ns, emu_ms)

    # ---- the host side ----
    @property
    def dev(self):
        """The host's Device on the pty, opened on first use (an EmuDevice when lockstep); ids
        start high (tvns deploy / logs pull used ids from 1): stray replies are skipped."""
        if self._dev is None:
            from tvns_tools.transport import SerialTransport

            self._opened += 1
            t = SerialTransport(self.port)
            dev = EmuDevice(t, self) if self.lockstep else Device(t)
            dev._next_id = 100_000 * self._opened
            while dev.t.read_line(0) is not None:  # what the reader had already (no wait)
                pass
            self._dev = dev
        return self._dev

    def release_port(self):
        """Close the host's Device so another program can have the console to itself."""
        if self._dev is not None:
            self._dev.close()
            self._dev = None

    def start_session(self, protocol):
        """load (unless loaded already), arm, start, each after the last reply as `tvns run`
        does (together, with the watchdog running, they outlast it: docs/EMULATOR.md).
        Returns the emulated time of the start reply."""
        dev = self.dev
        key = json.dumps(protocol, sort_keys=True)
        if self._loaded != key:
            dev.request("set_time", unix_s=1_790_000_000)
            dev.request("load", protocol=protocol)
            self._loaded = key
        dev.request("arm")
        n = len(self.lines)
        rid = dev.request("start")["id"]
        return next(t for t, o in list(self.lines)[n:] if o.get("id") == rid)

    def state(self):
        return self.dev.request("status")["state"]

    def run_main_from_repl(self, prelude=""):
        """Interrupt main.py (Ctrl-C: its output-off path runs) and, over the raw REPL, run
        prelude, then the board's own main.py under the harness hooks (hooks.py: the hang
        line), for good: the console serves as after a boot, with no reboot and nothing
        written to the flash. Returns the emulated time the REPL took the code. The
        watchdog must not be running (no session since the last reset): nothing feeds it
        between Ctrl-C and main.py's first pass."""
        self.release_port()
        t = self.emu.repl_start(
            hooks.repl_main_code(self.stage.hang_gpio, prelude, self.stage.hang_cpu_gpio)
        )
        self.hooked = True
        self._loaded = None
        return t

    # ---- what the pins did ----
    def edges(self, since_ns=0, until_ns=None):
        return self.capture.snapshot(since_ns, until_ns)

    def pulses(self, since_ns=0, until_ns=None):
        return capture.pulses(self.edges(since_ns, until_ns))

    def output_off_ns(self, after_ns):
        """When the output went off for good after after_ns: the last fall of the gate or a
        phase from then on (after_ns if none fell); None while any of them is still high."""
        edges = self.edges()
        outs = ("phase_a", "phase_b", "gate")
        if any(capture.level_at(edges, n, float("inf")) for n in outs):
            return None
        falls = [t for t, n, lv in edges if n in outs and lv == 0 and t >= after_ns]
        return max([after_ns] + falls)


# ---- deploy onto a blank board, the real way ----
def deploy_blank(workdir, uf2=None, load="2k", lockstep=False):
    """Boot a blank emulated Pico (erased flash: the rp2 port formats littlefs itself), run
    `tvns deploy --port PTY --board rp2` (mpy-cross, mpremote copy, reset, hello check) against
    it, and dump its flash. Returns (board, image_path, deploy_output): the board keeps running
    the deployed firmware (the caller closes it)."""
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    board = EmuBoard(None, load, uf2=uf2, lockstep=lockstep).start()
    try:
        # The blank board's REPL is up once USB is; give the port's first format a moment.
        board.emu.run_for_ms(300)
        env = dict(os.environ)
        env.pop("TVNS_TIMEOUT_SCALE", None)  # the registered port's factor applies
        cmd = [sys.executable, "-m", "tvns_tools.cli", "deploy", "--port", board.port]
        cmd += ["--board", "rp2", "--stage", str(workdir / "stage")]
        t0 = time.monotonic()
        with board.emu.free_running():  # tvns deploy has the console: the clock runs
            r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
        out = r.stdout + r.stderr
        if r.returncode != 0:
            raise EmuError("tvns deploy failed (%d): %s" % (r.returncode, out.strip()))
        image = board.emu.dump_fs(workdir / "deployed.img")
        board.deploy_wall_s = time.monotonic() - t0
        return board, image, out
    except BaseException:
        board.close()
        raise


# ---- the model engine's view of the same protocol ----
def model_pulses(protocol):
    """[(t_us, amp_ua, width_us, gap_us)] of every pulse the sim board's exact engine gives
    for the protocol (session time from the start command)."""
    from tvns_tools.firmware import import_firmware

    import_firmware()
    from tvns.board.simrun import simulate

    result = simulate(dict(protocol))
    out = []
    for start_us, period_us, count, amp_ua, width_us, gap_us in result["segments"]:
        for k in range(count):
            out.append((start_us + k * period_us, amp_ua, width_us, gap_us))
    return out, result


def compare_with_model(protocol, pulses, amps_ua, gate_edges, tol_ns=capture.EDGE_TOL_NS):
    """Problems (list of text) between the emulated pulses and the model engine's.
    pulses: capture.pulses() of the session; amps_ua: the stage's current at each pulse;
    gate_edges: [(t_ns, level)] of the gate pin."""
    model, _result = model_pulses(protocol)
    problems = []
    width_ns = protocol["pulse_width_us"] * 1000
    gap_ns = protocol["interphase_gap_us"] * 1000
    period_ns = round(1e9 / protocol["frequency_hz"] / 1000) * 1000
    for i, p in enumerate(pulses):
        for key, want in (("width_a_ns", width_ns), ("gap_ns", gap_ns), ("width_b_ns", width_ns)):
            if p.get(key) is None or abs(p[key] - want) > tol_ns:
                problems.append("pulse %d: %s %s ns, want %d" % (i, key, p.get(key), want))
    # Within a train (gate high throughout) consecutive pulses are one period apart.
    trains = _trains(gate_edges)
    for a, b in zip(pulses, pulses[1:]):
        same = any(t0 <= a["t_ns"] and b["t_ns"] < t1 for t0, t1 in trains)
        if same and abs(b["t_ns"] - a["t_ns"] - period_ns) > tol_ns:
            problems.append(
                "period %d ns at %d, want %d" % (b["t_ns"] - a["t_ns"], a["t_ns"], period_ns)
            )
    # No pulse starts outside a train.
    for p in pulses:
        if not any(t0 <= p["t_ns"] <= t1 for t0, t1 in trains):
            problems.append("pulse at %d ns outside every train" % p["t_ns"])
    # Count and amplitudes against the model: trains start and end on control ticks (1 ms
    # apart, each up to a tick late), so a train may gain or lose one pulse at each end.
    slack = 2 * max(1, len(trains))
    if abs(len(pulses) - len(model)) > slack:
        problems.append("%d pulses, the model gives %d (+-%d)" % (len(pulses), len(model), slack))
    step = 100 + 5  # one ramp step, plus the PWM DAC's quantisation (~2.4 uA) and rounding
    for i in range(min(len(amps_ua), len(model))):
        if abs(amps_ua[i] - model[i][1]) > step:
            problems.append("pulse %d: %d uA, the model gives %d" % (i, amps_ua[i], model[i][1]))
            break
    for i, (a, b) in enumerate(zip(amps_ua, amps_ua[1:])):
        if abs(b - a) > step:
            problems.append("pulses %d-%d step %d uA" % (i, i + 1, b - a))
    top = max((a for _t, a, _w, _g in model), default=0)
    if amps_ua and (
        max(amps_ua) > round(protocol["amplitude_ma"] * 1000) or max(amps_ua) < top - 5
    ):
        problems.append("peak %d uA, the model's %d" % (max(amps_ua), top))
    return problems


def _trains(gate_edges, end_ns=float("inf")):
    out, t_on = [], None
    for t, lv in gate_edges:
        if lv and t_on is None:
            t_on = t
        elif not lv and t_on is not None:
            out.append((t_on, t))
            t_on = None
    if t_on is not None:
        out.append((t_on, end_ns))
    return out
