# The rp2 board's tick array (tvns/tickio.py): the scheduler's words, then the state the
# pulse engine and the DAC share with the tick, then (on the chip) the register addresses
# the tick's viper functions read and write (board/rp2_regs.py). The engine and the DAC keep
# their state here on every host too, so the Python path and the register path share it.
import sys

from micropython import const

from tvns import safety as F
from tvns.tickio import IO_PENDING, IO_WORDS, PartsIO, new_io

# Shared state (every host)
KILL_WORD = const(6)  # -1 while the kill machine has not fired since load; else its snapshot
LOADED = const(7)  # 1: the pulse machine is loaded and running
PULLED = const(8)  # pulses the PIO has taken (TX FIFO words), wrapping at 2**30
N_O = const(9)  # the word fed per pulse (the off count)
FEED_MS = const(10)  # ms until the next feed is due, from a feed
CODE = const(11)  # the DAC code on the DAC now
CC_PENDING = const(12)  # the PWM compare level of the pending code (register path)
# Register addresses and bits (the chip only: setup())
A_GPIO_IN = const(13)  # SIO GPIO_IN
ESTOP_BIT = const(14)
ESTOP_ACT = const(15)
COMP_BIT = const(16)  # -1: no comparator
COMP_ACT = const(17)
SYNC_BIT = const(18)
A_FLEVEL = const(19)  # the PIO block's FLEVEL
KILL_SHIFT = const(20)  # the kill machine's RX level in FLEVEL; -1: no kill machine
A_ADC_CS = const(21)  # ADC CS (RESULT follows it)
AINSEL = const(22)
K_Q12 = const(23)  # the sense's scale (board/rp2.py Sense)
SENSE_OFF = const(24)
A_TXF = const(25)  # the pulse machine's TX FIFO
TX_SHIFT = const(26)  # its TX level in FLEVEL
A_CC = const(27)  # the amplitude PWM's CC register
CC_SHIFT = const(28)  # 0: channel A, 16: channel B
FEED = const(29)  # safety.DEADMAN_PULSES
DAC_FS = const(30)  # the DAC's calibration (board/dac.py DacCal)
DAC_OFF = const(31)
DAC_MAX = const(32)
TOP1 = const(33)  # the PWM slice's TOP + 1
WORDS = const(34)

_SIO_GPIO_IN = 0xD0000004
_PIO0 = 0x50200000
_ADC_CS = 0x4004C000
_PWM = 0x40050000


def new():
    if KILL_WORD != IO_WORDS or IO_PENDING >= IO_WORDS:
        raise ValueError("rp2_io layout out of step with tickio.py")
    io = new_io(WORDS)
    io[KILL_WORD] = -1
    return io


def _s32(addr):
    """An address as an array('i') word (the viper code reads it back as 32 bits)."""
    return addr - (1 << 32) if addr >= 1 << 31 else addr


def setup(io, machine, feed, pins):
    """The register addresses of this board (main loop, once). pins: a dict of the GPIOs
    and levels: estop, estop_active, comp (-1: none), comp_active, sync, sm, kill_sm (-1:
    none), adc, k_q12, sense_off, pwm."""
    io[A_GPIO_IN] = _s32(_SIO_GPIO_IN)
    io[ESTOP_BIT] = pins["estop"]
    io[ESTOP_ACT] = pins["estop_active"]
    io[COMP_BIT] = pins["comp"]
    io[COMP_ACT] = pins["comp_active"]
    io[SYNC_BIT] = pins["sync"]
    sm = pins["sm"]
    block = _PIO0 + 0x100000 * (sm // 4)
    io[A_FLEVEL] = _s32(block + 0x0C)
    io[A_TXF] = _s32(block + 0x10 + 4 * (sm % 4))
    io[TX_SHIFT] = 8 * (sm % 4)
    k = pins["kill_sm"]
    io[KILL_SHIFT] = -1 if k < 0 else 8 * (k % 4) + 4
    io[A_ADC_CS] = _s32(_ADC_CS)
    io[AINSEL] = pins["adc"] - 26
    io[K_Q12] = pins["k_q12"]
    io[SENSE_OFF] = pins["sense_off"]
    g = pins["pwm"]
    io[A_CC] = _s32(_PWM + 0x14 * ((g >> 1) & 7) + 0x0C)
    io[CC_SHIFT] = 16 * (g & 1)
    io[FEED] = feed
    io[DAC_FS] = pins["dac_fs"]
    io[DAC_OFF] = pins["dac_off"]
    io[DAC_MAX] = pins["dac_max"]
    io[TOP1] = machine.mem32[_PWM + 0x14 * ((g >> 1) & 7) + 0x10] + 1


def tick_io(board, machine, kind):
    """The tick's board I/O (tvns/tickio.py): on the chip with the PWM DAC, viper functions
    on the registers (board/rp2_regs.py); elsewhere (a host with the fakes, or the MCP4725,
    whose transfer the main loop makes) the parts' methods, on the same array."""
    io = board.engine.io
    if kind != "pwm" or getattr(sys, "platform", "") != "rp2":
        return PartsIO(board, io)
    from tvns.board import rp2_regs

    eng = board.engine
    sense = board.sense
    dac = board.dac
    pins = {
        "estop": board.estop.gpio,
        "estop_active": board.estop.active,
        "comp": sense.comp_gpio,
        "comp_active": sense.comp_active,
        "sync": eng.sync_gpio,
        "sm": eng.sm_id,
        "kill_sm": eng.kill_sm_id,
        "adc": sense.adc_gpio,
        "k_q12": sense.k_q12,
        "sense_off": sense.offset_ua,
        "pwm": dac.gpio,
        "dac_fs": dac.fs_ua,
        "dac_off": dac.offset_ua,
        "dac_max": dac.code_max,
    }
    setup(io, machine, F.DEADMAN_PULSES, pins)
    dac.fast_set = rp2_regs.set_ua  # from here on set_ua's code, level and write in one
    return rp2_regs.RegIO(io)
