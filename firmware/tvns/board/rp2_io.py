# The rp2 board's tick array (tvns/tickio.py): the scheduler's words, then the state the
# pulse engine and the DAC share with the tick, then (on the chip) the register addresses
# the tick's viper functions read and write (board/rp2_regs.py). The engine and the DAC keep
# their state here on every host too, so the Python path and the register path share it.
from micropython import const

from tvns.tickio import IO_PENDING, IO_WORDS, new_io

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


def new():
    if KILL_WORD != IO_WORDS or IO_PENDING >= IO_WORDS:
        raise ValueError("rp2_io layout out of step with tickio.py")
    io = new_io(WORDS)
    io[KILL_WORD] = -1
    return io
