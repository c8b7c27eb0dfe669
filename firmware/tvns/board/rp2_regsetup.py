# The register addresses of the tick's register path (board/rp2_regs.py), set up once at
# build on the chip. A module of its own so that board/rp2.py drops it after use: its code
# would otherwise stay in the heap for good (RAM is short on the Pico, docs/SPEED.md).
from tvns import safety as F
from tvns.board import rp2_io as R
from tvns.board import rp2_regs

_SIO_GPIO_IN = 0xD0000004
_PIO0 = 0x50200000
_ADC_CS = 0x4004C000
_PWM = 0x40050000


def _s32(addr):
    """An address as an array('i') word (the viper code reads it back as 32 bits)."""
    return addr - (1 << 32) if addr >= 1 << 31 else addr


def tick_io(board, machine):
    """RegIO for this board: the addresses and bits of its pins, PIO machines, ADC input and
    PWM channel in its array, and PwmDac.set_ua's work handed to rp2_regs.set_ua."""
    io = board.engine.io
    eng, sense, dac, estop = board.engine, board.sense, board.dac, board.estop
    io[R.A_GPIO_IN] = _s32(_SIO_GPIO_IN)
    io[R.ESTOP_BIT] = estop.gpio
    io[R.ESTOP_ACT] = estop.active
    io[R.COMP_BIT] = sense.comp_gpio  # -1: no comparator
    io[R.COMP_ACT] = sense.comp_active
    io[R.SYNC_BIT] = eng.sync_gpio
    sm = eng.sm_id
    block = _PIO0 + 0x100000 * (sm // 4)
    io[R.A_FLEVEL] = _s32(block + 0x0C)
    io[R.A_TXF] = _s32(block + 0x10 + 4 * (sm % 4))
    io[R.TX_SHIFT] = 8 * (sm % 4)
    k = eng.kill_sm_id
    io[R.KILL_SHIFT] = -1 if k < 0 else 8 * (k % 4) + 4  # its RX level
    io[R.A_ADC_CS] = _s32(_ADC_CS)
    io[R.AINSEL] = sense.adc_gpio - 26
    io[R.K_Q12] = sense.k_q12
    io[R.SENSE_OFF] = sense.offset_ua
    g = dac.gpio
    slice_ = _PWM + 0x14 * ((g >> 1) & 7)
    io[R.A_CC] = _s32(slice_ + 0x0C)
    io[R.CC_SHIFT] = 16 * (g & 1)
    io[R.TOP1] = machine.mem32[slice_ + 0x10] + 1
    io[R.FEED] = F.DEADMAN_PULSES
    io[R.DAC_FS] = dac.fs_ua
    io[R.DAC_OFF] = dac.offset_ua
    io[R.DAC_MAX] = dac.code_max
    dac.fast_set = rp2_regs.set_ua  # from here on set_ua's code, level and write in one call
    return rp2_regs.RegIO(io)
