# Raspberry Pi Pico (RP2040) board: implements docs/BOARD-INTERFACE.md.
#
# Importing this module touches nothing: `build(config)` constructs the parts from the
# pin map (hardware/boards/pico.json). The machine/rp2/time modules are imported inside
# build() (or injected, which is how CPython host tests pass the fakes without ever
# registering a fake `machine` in sys.modules).
#
# Parts: PIO pulse engine and hardware kill path (board/rp2_engine.py, programs in
# board/rp2_pio.py), amplitude DAC (board/rp2_dac.py: PWM + RC filter or an MCP4725 on I2C),
# current sense (ADC across the sense resistor, peak-held) and a compliance comparator
# input, e-stop input, hardware watchdog, control-tick timer.
# Everything the control tick may call (gate, feed, set_ua, apply, read_*, pressed,
# tripped, stop) is integer-only, never waits and allocates nothing on the success path.

import sys

from tvns import limits
from tvns import safety as F
from tvns.board import rp2_io
from tvns.board.config import check_or_raise, gpio, need, num
from tvns.board.rp2_dac import GPIO_MAX, Mcp4725Dac, PwmDac
from tvns.board.rp2_engine import KillPath, PioEngine, pull_of
from tvns.errors import OUT_OF_RANGE, TvnsError
from tvns.store import FileStore
from tvns.tickio import PartsIO

NAME = "pico"
_WDT_MIN_MS = 100
_WDT_MAX_MS = 8388  # RP2040 hardware maximum


def _gpio(config, name):
    return gpio(config, name, GPIO_MAX)


class Clock:
    """time.ticks_* (wrapping). CPython has no ticks_*: fall back to a 30-bit model."""

    def __init__(self, time_mod):
        self._time = time_mod
        if hasattr(time_mod, "ticks_ms"):
            self.ticks_ms = time_mod.ticks_ms
            self.ticks_us = time_mod.ticks_us
            self.ticks_diff = time_mod.ticks_diff
            self.ticks_add = time_mod.ticks_add

    # Fallbacks (host only), MicroPython semantics with a 2**30 period.
    def ticks_ms(self):
        return (self._time.monotonic_ns() // 1_000_000) & 0x3FFFFFFF

    def ticks_us(self):
        return (self._time.monotonic_ns() // 1_000) & 0x3FFFFFFF

    def ticks_add(self, t, d):
        return (t + d) & 0x3FFFFFFF

    def ticks_diff(self, a, b):
        return ((a - b + 0x20000000) & 0x3FFFFFFF) - 0x20000000


class Sense:
    """Sense resistor -> amplifier -> peak hold -> ADC. ua = raw12 * k_q12 >> 12 + offset."""

    def __init__(self, machine, config, ceiling_ua):
        cfg = need(config, "sense", "sense")
        r_ohms = num(cfg, "r_ohms", "sense.r_ohms", 1, 100_000)
        amp_gain = num(cfg, "amp_gain", "sense.amp_gain", 0.1, 1000, 1)
        vref_mv = num(cfg, "vref_mv", "sense.vref_mv", 1000, 5000, 3300)
        cal_gain = num(cfg, "cal_gain", "sense.cal_gain", 0.5, 2.0, 1.0)
        self.offset_ua = int(num(cfg, "offset_ua", "sense.offset_ua", -500, 500, 0))
        # Q12 fixed point keeps raw12 * k below 2**30 (a small int on the board: no alloc).
        self.k_q12 = int(vref_mv * 1000 * cal_gain * 4096 / (4095 * r_ohms * amp_gain) + 0.5)
        full_ua = (4095 * self.k_q12) >> 12
        if full_ua * 10 < ceiling_ua * 11 or 4095 * self.k_q12 >= 1 << 30:
            raise TvnsError(
                OUT_OF_RANGE,
                "sense range %d uA must cover 110%% of the ceiling and stay below 1 A" % full_ua,
                "sense.r_ohms",
            )
        self.full_scale_ua = full_ua
        self.step_ua = (self.k_q12 + 4095) >> 12  # one ADC step, rounded up (uA)
        self.kill = None  # the board's KillPath, for self_test (set by Board)
        self.adc_gpio = _gpio(config, "sense_adc")
        self._adc = machine.ADC(machine.Pin(self.adc_gpio))
        # Compliance comparator: pulled up so a broken wire reads "at compliance" (fail safe).
        self._comp = None
        self.comp_gpio = -1
        self.comp_active = 1
        if "compliance" in config["pins"]:
            self.comp_gpio = _gpio(config, "compliance")
            self.comp_active = int(
                num(cfg, "compliance_active", "sense.compliance_active", 0, 1, 1)
            )
            self._comp = machine.Pin(
                _gpio(config, "compliance"), machine.Pin.IN, machine.Pin.PULL_UP
            )

    def read_ua(self):
        ua = ((self._adc.read_u16() >> 4) * self.k_q12 >> 12) + self.offset_ua
        return ua if ua > 0 else 0

    def read_compliance(self):
        if self._comp is None:
            return False  # board without the comparator: lead-off comes from read_ua()
        return self._comp.value() == self.comp_active

    def self_test(self):
        """The output stage at rest (arm and clear, main loop; the gate is low): a fault code,
        F.NONE when it may run. 1. the kill input is released (else its cause); 2. the
        compliance comparator reads clear (OS-1 clears it while the gate is low: "at
        compliance" now is a stuck comparator or a broken wire); 3. the sense reads about
        0 uA (more means current flows with the output off, or a stuck peak hold).
        No probe pulse: invariant 4 (docs/ARCHITECTURE.md) allows output only in
        RAMP_UP/ON/RAMP_DOWN, and the lead-off monitors check the load on the first pulses
        of every session."""
        if self.kill is not None:
            code = self.kill.cause_now()
            if code != F.NONE:
                return code
        if self.read_compliance():
            return F.LEAD_OFF
        if self.read_ua() > F.SENSE_FLOOR_UA:
            return F.OVERCURRENT
        return F.NONE


class Estop:
    """The e-stop input. Wired as a normally-closed loop (OS-1: 3V3 -> NC contact -> GP16,
    low = pressed or cable cut, estop.active 0) with the Pico's pull-down
    (pins.estop.pull "down"), a cut anywhere reads "pressed"."""

    def __init__(self, machine, config):
        cfg = config.get("estop", {})
        self.active = int(num(cfg, "active", "estop.active", 0, 1, 0))
        pull = pull_of(machine, config, "estop", "down")
        self.gpio = _gpio(config, "estop")
        self._pin = machine.Pin(self.gpio, machine.Pin.IN, pull)

    def pressed(self):
        return self._pin.value() == self.active


class Watchdog:
    """machine.WDT made by start() (from ticker.start): an RP2040 WDT cannot be stopped."""

    def __init__(self, machine, config):
        self._machine = machine
        self.timeout_ms = int(
            num(config, "wdt_timeout_ms", "wdt_timeout_ms", _WDT_MIN_MS, _WDT_MAX_MS, 300)
        )
        self._wdt = None

    def start(self):
        if self._wdt is None:
            self._wdt = self._machine.WDT(timeout=self.timeout_ms)

    def feed(self):
        if self._wdt is not None:
            self._wdt.feed()


class Ticker:
    def __init__(self, machine, config, wdt):
        self._machine = machine
        self.tick_ms = int(num(config, "tick_ms", "tick_ms", 1, 100, 1))
        self._wdt = wdt
        self._timer = None

    def start(self, scheduler):
        self.stop()
        try:
            import micropython

            micropython.alloc_emergency_exception_buf(100)
        except (ImportError, AttributeError):  # unix port / CPython
            pass
        T = self._machine.Timer
        period = getattr(scheduler, "tick_ms", self.tick_ms)
        self._timer = T(period=period, mode=T.PERIODIC, callback=scheduler.tick_cb, hard=True)
        self._wdt.start()  # the board is running from here on: the loop must feed it

    def stop(self):
        if self._timer is not None:
            self._timer.deinit()
            self._timer = None


class TriggerIn:
    """The trigger input for the tick (tvns/trigger.py): the pin's level, 0 or 1. The pin
    object is the engine's (set_trigger re-makes it with the polarity's pull)."""

    def __init__(self, engine):
        self._engine = engine

    def level(self):
        return self._engine.trigger_pin.value()


class Board:
    def __init__(self, config, machine, rp2, time_mod):
        self.name = config.get("name", NAME)
        self.ceiling_ua = int(num(config, "ceiling_ua", "ceiling_ua", 0, limits.CURRENT_MAX_UA))
        self._time = time_mod
        self.clock = Clock(time_mod)
        self.engine = PioEngine(machine, rp2, config, rp2_io.new())
        kind = need(need(config, "dac", "dac"), "kind", "dac.kind")
        if kind == "pwm":
            self.dac = PwmDac(machine, config, self.ceiling_ua, self.engine, self.clock)
        elif kind == "mcp4725":
            self.dac = Mcp4725Dac(machine, config, self.ceiling_ua, self.engine, self.clock)
        else:
            raise TvnsError(OUT_OF_RANGE, "dac.kind must be pwm or mcp4725", "dac.kind")
        self.sense = Sense(machine, config, self.ceiling_ua)
        self.estop = Estop(machine, config)
        # The hardware kill path, where the pin map has the kill input (pins.kill).
        self.kill = None
        if self.engine.kill_pin is not None:
            self.kill = KillPath(machine, config, self.engine, self.estop)
            self.sense.kill = self.kill
        # The trigger input (its pin is the engine's: the PIO waits on it) and the marker.
        self.trigger = None if self.engine.trigger_pin is None else TriggerIn(self.engine)
        self.marker = None
        self.marker_gpio = -1  # (the chip's fast edge writes it: board/rp2_regs.py)
        if "marker" in config["pins"]:
            self.marker_gpio = _gpio(config, "marker")
            self.marker = machine.Pin(self.marker_gpio, machine.Pin.OUT, value=0)
        self.wdt = Watchdog(machine, config)
        self.ticker = Ticker(machine, config, self.wdt)
        # Session marker and daily exposure, on the board's flash (tvns/store.py).
        self.store = FileStore(config.get("state_file", "state.json"))
        self._machine = machine
        # The tick's board I/O (tvns/tickio.py): registers on the chip with the PWM DAC
        # (board/rp2_regs.py); elsewhere (the fakes, the MCP4725) the parts' methods.
        self.tick_io = PartsIO(self, self.engine.io)
        if kind == "pwm" and getattr(sys, "platform", "") == "rp2":
            from tvns.board import rp2_regs

            self.tick_io = rp2_regs.tick_io(self, machine)

    def reset_cause(self):
        """'watchdog' after a machine.WDT reset, else None (power-on, button, soft)."""
        cause = getattr(self._machine, "reset_cause", None)
        wdt = getattr(self._machine, "WDT_RESET", None)
        if cause is not None and wdt is not None and cause() == wdt:
            return "watchdog"
        return None

    def disable_irq(self):
        """Interrupts off (the fault latch): machine.disable_irq(), a PRIMASK small int."""
        return self._machine.disable_irq()

    def enable_irq(self, state):
        self._machine.enable_irq(state)

    def safe_off(self):
        # The one abort path: no new pulse, both phases low now, amplitude 0.
        self.engine.gate(False)
        self.engine.stop()
        self.dac.set_ua(0)

    def idle_ms(self, ms):
        if hasattr(self._time, "sleep_ms"):
            self._time.sleep_ms(ms)
        else:
            self._time.sleep(ms / 1000)


def build(config, machine=None, rp2=None, time_mod=None):
    """Construct the board from a pin-map dict; modules default to the real ones. The map's
    checks (tvns/board/config.py) come first: a map unfit for the hazard table touches no pin."""
    check_or_raise(config)
    if machine is None:
        import machine
    if rp2 is None:
        import rp2
    if time_mod is None:
        import time as time_mod
    return Board(config, machine, rp2, time_mod)


def build_from_file(path):
    import json

    with open(path) as f:
        # One read, then parse from RAM: json.load(f) reads the stream byte by byte.
        return build(json.loads(f.read()))
