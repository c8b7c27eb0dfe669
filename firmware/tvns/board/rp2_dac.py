# RP2040 amplitude DACs: a PWM duty into an RC filter, or an MCP4725 on I2C. Both share the
# calibration (_DacBase) and apply a new code only between pulses (never inside a phase).
# set_ua and apply are integer-only, never wait and allocate nothing (the tick calls them):
# set_ua records the setpoint as pending and applies it at once when no pulse is in flight
# (SYNC low); otherwise the tick's apply() does at its first tick with SYNC low. So an
# amplitude change reaches the DAC within 3 ticks (a pulse is at most 2.1 ms), never inside a
# pulse. The MCP4725's I2C transfer never runs in the tick (a hard IRQ): apply() hands it to
# micropython.schedule (a preallocated bound method), and the transfer holds the gate low
# while it runs, so no pulse can start under it.
try:
    from micropython import schedule as _schedule
except ImportError:  # CPython host: no scheduler (tests inject one)
    _schedule = None

from tvns.board import rp2_io as RIO
from tvns.board.config import gpio, need, num
from tvns.board.dac import DacCal, mcp4725_encode
from tvns.errors import ABOVE_CEILING, OUT_OF_RANGE, TvnsError

GPIO_MAX = 29  # RP2040: GPIO0..GPIO29


def _gpio(config, name):
    return gpio(config, name, GPIO_MAX)


class _DacBase(DacCal):
    """The shared calibration (board/dac.py), plus where a new code goes: between pulses."""

    def __init__(self, cfg, ceiling_ua, code_max, engine, clock):
        # The tick's array (board/rp2_io.py): pending, code. Without an engine (the host's
        # circuit tools drive a DAC alone) an array of its own.
        if engine is None:
            from array import array

            self._io = array("i", bytes(4 * RIO.WORDS))
        else:
            self._io = engine.io
        super().__init__(cfg, ceiling_ua, code_max)
        self._engine = engine
        self._clock = clock
        self.pending = -1  # a code waiting for a pulse boundary (-1: none)
        self.value_ua = 0  # the setpoint asked for last (main.py's abort event reports it)
        # On the chip with the PWM DAC, board/rp2_regs.tick_io replaces set_ua below by its
        # viper dac_set_ua (an instance attribute): the same checks on the same words.

    # In the tick's array: the idle tick tests IO_PENDING without a call (scheduler.tick),
    # and on the chip the tick's finish() applies it (board/rp2_regs.py).
    @property
    def pending(self):
        return self._io[RIO.IO_PENDING]

    @pending.setter
    def pending(self, code):
        self._io[RIO.IO_PENDING] = code

    # The setpoint limit and the setpoint asked for last: words of the array too (the chip's
    # set_ua checks the one and records the other without an attribute store).
    @property
    def ceiling_ua(self):
        return self._io[RIO.DAC_CEIL]

    @ceiling_ua.setter
    def ceiling_ua(self, ua):
        self._io[RIO.DAC_CEIL] = ua

    @property
    def value_ua(self):
        return self._io[RIO.DAC_UA]

    @value_ua.setter
    def value_ua(self, ua):
        self._io[RIO.DAC_UA] = ua

    @property
    def code(self):
        return self._io[RIO.CODE]

    @code.setter
    def code(self, code):
        self._io[RIO.CODE] = code

    def set_ua(self, ua):
        if ua < 0:
            raise TvnsError(OUT_OF_RANGE, "current must be >= 0", "amplitude_ua")
        if ua > self.ceiling_ua:
            raise TvnsError(ABOVE_CEILING, "current above the board ceiling", "amplitude_ua")
        self.value_ua = ua
        self.pending = self.code_for(ua)
        self.apply()

    def apply(self):
        """Write the pending code if no pulse is in flight (SYNC low); never waits."""
        code = self.pending
        if code < 0 or self._engine.sync_high():
            return
        self.pending = -1
        self._write(code)
        self.code = code


class PwmDac(_DacBase):
    """PWM duty into an RC filter; duty changes take effect at the PWM wrap (glitch-free)."""

    def __init__(self, machine, config, ceiling_ua, engine, clock):
        cfg = need(config, "dac", "dac")
        super().__init__(cfg, ceiling_ua, 65535, engine, clock)
        freq_hz = int(num(cfg, "pwm_freq_hz", "dac.pwm_freq_hz", 1000, 1_000_000, 30_000))
        self.gpio = _gpio(config, "dac_pwm")
        self._pwm = machine.PWM(machine.Pin(self.gpio), freq=freq_hz, duty_u16=0)

    def _write(self, code):
        self._pwm.duty_u16(code)


class Mcp4725Dac(_DacBase):
    """MCP4725 12-bit DAC, fast-write command (2 bytes, power-down bits 00)."""

    def __init__(self, machine, config, ceiling_ua, engine, clock):
        cfg = need(config, "dac", "dac")
        super().__init__(cfg, ceiling_ua, 4095, engine, clock)
        self._addr = int(num(cfg, "i2c_addr", "dac.i2c_addr", 0x60, 0x67, 0x60))
        self._i2c = machine.I2C(
            int(num(cfg, "i2c_id", "dac.i2c_id", 0, 1, 0)),
            scl=machine.Pin(_gpio(config, "i2c_scl")),
            sda=machine.Pin(_gpio(config, "i2c_sda")),
            freq=400_000,
        )
        self._buf = bytearray(2)  # preallocated: no allocation in the tick
        self._schedule = _schedule
        self._xfer_cb = self._xfer  # bound once: micropython.schedule must not allocate
        self._busy = False
        self._next = 0
        self._transfer(0)

    def apply(self):
        """The tick's part: hand a pending code to the main loop (micropython.schedule), never
        a bus transfer here (a hard IRQ)."""
        code = self.pending
        if code < 0 or self._busy or self._engine.sync_high():
            return
        self._next = code
        self.pending = -1
        if self._schedule is None:  # host without a scheduler
            self._xfer(0)
            return
        self._busy = True
        try:
            self._schedule(self._xfer_cb, 0)
        except RuntimeError:  # the schedule queue is full: the next tick tries again
            self._busy = False
            self.pending = code

    def _xfer(self, _arg):
        # Main-loop context. Hold the gate low for the transfer (~60 us at 400 kHz): no
        # pulse can start under it; one in flight (SYNC high) sends the code back to pending.
        # A pulse due during the hold waits for it (its train shifts by at most the hold).
        engine = self._engine
        engine.hold(True)
        try:
            if engine.sync_high():
                if self.pending < 0:
                    self.pending = self._next
            else:
                self._transfer(self._next)
                self.code = self._next
        finally:
            engine.hold(False)
            self._busy = False

    def _transfer(self, code):
        mcp4725_encode(self._buf, code)
        self._i2c.writeto(self._addr, self._buf)
