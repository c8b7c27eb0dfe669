# ESP32 amplitude DACs: the chip's own 8-bit DAC (machine.DAC, GPIO25/26) or an MCP4725 on
# I2C (12-bit, as on the Pico). Both use the shared calibration (board/dac.py).
#
# The setpoint is pending: the RMT engine has a pulse written ahead (esp32_rmt.py), so a
# new code may only reach the DAC while no pulse is written and unfinished. set_ua writes
# at once when the engine is idle; otherwise the tick's apply() does once the pulse has
# ended, or the engine just before it writes the next one (commit_ua), which leaves the
# whole pipeline latency for the output stage's setpoint filter to settle. The MCP4725's
# I2C transfer is handed to micropython.schedule (a bound method made once): safe_off runs
# with interrupts off, where a bus transfer must not.
#
# Slew limit: while pulses run, the amplitude rises by at most limits.RAMP_STEP_MAX_UA from
# one pulse to the next. The scheduler spaces its ramp steps a pulse period apart; a pulse
# placed late (a soft timer late by milliseconds) must not carry two steps at once.
# Decreases apply in full. Everything here that the tick calls is integer-only and
# allocates nothing.
from micropython import const

try:
    from micropython import schedule as _schedule
except ImportError:  # CPython host: no scheduler (the transfer runs at once)
    _schedule = None

from tvns.board.config import gpio, need, num
from tvns.board.dac import DacCal, mcp4725_encode
from tvns.errors import ABOVE_CEILING, OUT_OF_RANGE, TvnsError

_STEP_UA = const(100)  # limits.RAMP_STEP_MAX_UA (checked in the constructor)
GPIO_MAX = 39
DAC_PINS = (25, 26)  # the ESP32's two DAC channels


class _PendingDac(DacCal):
    def __init__(self, cfg, ceiling_ua, code_max, engine):
        from tvns import limits

        if _STEP_UA != limits.RAMP_STEP_MAX_UA:
            raise ValueError("esp32_dac._STEP_UA out of step with limits.py")
        super().__init__(cfg, ceiling_ua, code_max)
        self._engine = engine
        self.setpoint_ua = 0  # what the tick asked for
        self.value_ua = 0  # what the DAC holds now
        self.last_pulse_ua = 0  # the amplitude of the last pulse written
        engine.attach_dac(self)

    def set_ua(self, ua):
        if ua < 0:
            raise TvnsError(OUT_OF_RANGE, "current must be >= 0", "amplitude_ua")
        if ua > self.ceiling_ua:
            raise TvnsError(ABOVE_CEILING, "current above the board ceiling", "amplitude_ua")
        self.setpoint_ua = ua
        if self._engine.idle():
            self.idle_apply()

    def apply(self):
        """The tick's part: a setpoint held while a pulse was in flight, once it has ended."""
        if self.setpoint_ua != self.value_ua and self._engine.idle():
            self.idle_apply()

    def idle_apply(self):
        """No pulse in flight now: bring the DAC to the setpoint (slew-limited)."""
        ua = self._limited(self.setpoint_ua)
        if ua != self.value_ua:
            self._apply(ua)

    def commit_ua(self):
        """Engine: a pulse is about to be written; the amplitude it carries."""
        self.idle_apply()
        self.last_pulse_ua = self.value_ua
        return self.value_ua

    def reset_pulses(self):
        """A new train after a stop: the slew limit starts from 0 again."""
        self.last_pulse_ua = 0

    def _limited(self, ua):
        cap = self.last_pulse_ua + _STEP_UA
        if self._engine.gated and ua > cap:
            return cap
        return ua

    def _apply(self, ua):
        code = self.code_for(ua)
        if self._write(code):
            self.code = code
            self.value_ua = ua


class Esp32Dac(_PendingDac):
    """machine.DAC: 8 bits, 0..VDD on GPIO25 or GPIO26 (dac.kind = "dac")."""

    def __init__(self, machine, config, ceiling_ua, engine):
        cfg = need(config, "dac", "dac")
        super().__init__(cfg, ceiling_ua, 255, engine)
        pin = gpio(config, "dac", GPIO_MAX)
        if pin not in DAC_PINS:
            raise TvnsError(OUT_OF_RANGE, "pins.dac must be GPIO25 or GPIO26", "pins.dac")
        self._dac = machine.DAC(machine.Pin(pin))  # outputs 0 from here on
        self._write(0)

    def _write(self, code):
        self._dac.write(code)  # a register write (safe with interrupts off)
        return True


class Esp32Mcp4725(_PendingDac):
    """MCP4725 12-bit DAC on I2C (dac.kind = "mcp4725"); program its EEPROM to 0 once."""

    def __init__(self, machine, config, ceiling_ua, engine):
        cfg = need(config, "dac", "dac")
        super().__init__(cfg, ceiling_ua, 4095, engine)
        self._addr = int(num(cfg, "i2c_addr", "dac.i2c_addr", 0x60, 0x67, 0x60))
        self._i2c = machine.I2C(
            int(num(cfg, "i2c_id", "dac.i2c_id", 0, 1, 0)),
            scl=machine.Pin(gpio(config, "i2c_scl", GPIO_MAX)),
            sda=machine.Pin(gpio(config, "i2c_sda", GPIO_MAX)),
            freq=400_000,
        )
        self._buf = bytearray(2)  # preallocated: no allocation in the tick
        self._next = 0
        self._xfer_cb = self._xfer  # bound once: micropython.schedule must not allocate
        self._xfer(0)

    def _write(self, code):
        self._next = code
        if _schedule is None:
            self._xfer(0)
            return True
        try:
            _schedule(self._xfer_cb, 0)  # runs in the VM right after this code returns
        except RuntimeError:  # the queue is full: still pending, the next tick tries again
            return False
        return True

    def _xfer(self, _arg):
        mcp4725_encode(self._buf, self._next)
        self._i2c.writeto(self._addr, self._buf)


def build_dac(machine, config, ceiling_ua, engine):
    kind = need(need(config, "dac", "dac"), "kind", "dac.kind")
    if kind == "dac":
        return Esp32Dac(machine, config, ceiling_ua, engine)
    if kind == "mcp4725":
        return Esp32Mcp4725(machine, config, ceiling_ua, engine)
    raise TvnsError(OUT_OF_RANGE, "dac.kind must be dac or mcp4725 on the ESP32", "dac.kind")
