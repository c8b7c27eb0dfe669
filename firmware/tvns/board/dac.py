# Amplitude DAC calibration shared by every board (rp2_dac.py, esp32_dac.py), and the
# MCP4725 fast-write encoding (an I2C DAC both boards can use). Touches no hardware.
from tvns.board.config import num


class DacCal:
    """Calibration: I = full_scale_ua * code / code_max + offset_ua (code 0 = 0 uA)."""

    def __init__(self, cfg, ceiling_ua, code_max):
        self.fs_ua = int(num(cfg, "full_scale_ua", "dac.full_scale_ua", ceiling_ua, 100_000))
        lim = self.fs_ua // 10
        self.offset_ua = int(num(cfg, "offset_ua", "dac.offset_ua", -lim, lim, 0))
        self.code_max = code_max
        self.ceiling_ua = ceiling_ua
        self.code = 0  # the code on the DAC now

    def code_for(self, ua):
        """DAC code for ua, rounded down (never above the setpoint)."""
        if ua <= 0:
            return 0
        code = (ua - self.offset_ua) * self.code_max // self.fs_ua
        if code < 0:
            return 0
        return code if code < self.code_max else self.code_max


def mcp4725_encode(buf, code):
    """MCP4725 fast-write command into a preallocated 2-byte buffer (power-down bits 00)."""
    buf[0] = (code >> 8) & 0x0F
    buf[1] = code & 0xFF
