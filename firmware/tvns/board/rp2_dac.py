# RP2040 amplitude DACs: a PWM duty into an RC filter, or an MCP4725 on I2C. Both share the
# calibration (_DacBase) and apply a new code only between pulses (never inside a phase).
# set_ua is integer-only and allocates nothing on the success path (the tick calls it).
from tvns import limits
from tvns.board.config import gpio, need, num
from tvns.errors import ABOVE_CEILING, OUT_OF_RANGE, TvnsError

GPIO_MAX = 29  # RP2040: GPIO0..GPIO29
_PULSE_MAX_US = 2 * limits.WIDTH_MAX_US + limits.GAP_MAX_US  # longest pulse in flight


def _gpio(config, name):
    return gpio(config, name, GPIO_MAX)


class _DacBase:
    """Calibration: I = full_scale_ua * code / code_max + offset_ua (code 0 = 0 uA)."""

    def __init__(self, cfg, ceiling_ua, code_max, engine, clock):
        self._fs_ua = int(num(cfg, "full_scale_ua", "dac.full_scale_ua", ceiling_ua, 100_000))
        lim = self._fs_ua // 10
        self._offset_ua = int(num(cfg, "offset_ua", "dac.offset_ua", -lim, lim, 0))
        self._code_max = code_max
        self.ceiling_ua = ceiling_ua
        self._engine = engine
        self._clock = clock
        self.code = 0

    def code_for(self, ua):
        """DAC code for ua, rounded down (never above the setpoint)."""
        if ua <= 0:
            return 0
        code = (ua - self._offset_ua) * self._code_max // self._fs_ua
        if code < 0:
            return 0
        return code if code < self._code_max else self._code_max

    def set_ua(self, ua):
        if ua < 0:
            raise TvnsError(OUT_OF_RANGE, "current must be >= 0", "amplitude_ua")
        if ua > self.ceiling_ua:
            raise TvnsError(ABOVE_CEILING, "current above the board ceiling", "amplitude_ua")
        code = self.code_for(ua)
        # Apply between pulses: wait (bounded by the longest pulse) while SYNC is high.
        clock = self._clock
        t0 = clock.ticks_us()
        while self._engine.sync_high() and clock.ticks_diff(clock.ticks_us(), t0) < _PULSE_MAX_US:
            pass
        self._write(code)
        self.code = code


class PwmDac(_DacBase):
    """PWM duty into an RC filter; duty changes take effect at the PWM wrap (glitch-free)."""

    def __init__(self, machine, config, ceiling_ua, engine, clock):
        cfg = need(config, "dac", "dac")
        super().__init__(cfg, ceiling_ua, 65535, engine, clock)
        freq_hz = int(num(cfg, "pwm_freq_hz", "dac.pwm_freq_hz", 1000, 1_000_000, 30_000))
        self._pwm = machine.PWM(machine.Pin(_gpio(config, "dac_pwm")), freq=freq_hz, duty_u16=0)

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
        self._write(0)

    def _write(self, code):
        self._buf[0] = (code >> 8) & 0x0F
        self._buf[1] = code & 0xFF
        self._i2c.writeto(self._addr, self._buf)
