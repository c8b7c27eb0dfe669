# The rp2 board's tick array (tvns/tickio.py): the scheduler's words, then the state the
# pulse engine and the DAC share with the tick, then (on the chip) the register addresses
# the tick's viper functions read and write (board/rp2_regs.py). The engine and the DAC keep
# their state here on every host too, so the Python path and the register path share it.
from micropython import const

from tvns.tickio import IO_NOW, IO_PENDING, IO_WORDS, new_io  # noqa: F401 - IO_NOW: rp2_regs

# Shared state (every host)
KILL_WORD = const(7)  # -1 while the kill machine has not fired since load; else its snapshot
LOADED = const(8)  # 1: the pulse machine is loaded and running
PULLED = const(9)  # pulses the PIO has taken (TX FIFO words), wrapping at 2**30
N_O = const(10)  # the word fed per pulse (the off count)
FEED_MS = const(11)  # ms until the next feed is due, from a feed
CODE = const(12)  # the DAC code on the DAC now
CC_PENDING = const(13)  # the PWM compare level of the pending code (register path)
# Register addresses and bits (the chip only: setup())
A_GPIO_IN = const(14)  # SIO GPIO_IN
ESTOP_BIT = const(15)
ESTOP_ACT = const(16)
COMP_BIT = const(17)  # -1: no comparator
COMP_ACT = const(18)
SYNC_BIT = const(19)
A_FLEVEL = const(20)  # the PIO block's FLEVEL
KILL_SHIFT = const(21)  # the kill machine's RX level in FLEVEL; -1: no kill machine
A_ADC_CS = const(22)  # ADC CS (RESULT follows it)
AINSEL = const(23)
K_Q12 = const(24)  # the sense's scale (board/rp2.py Sense)
SENSE_OFF = const(25)
A_TXF = const(26)  # the pulse machine's TX FIFO
TX_SHIFT = const(27)  # its TX level in FLEVEL
A_CC = const(28)  # the amplitude PWM's CC register
CC_SHIFT = const(29)  # 0: channel A, 16: channel B
FEED = const(30)  # safety.DEADMAN_PULSES
DAC_FS = const(31)  # the DAC's calibration (board/dac.py DacCal)
DAC_OFF = const(32)
DAC_MAX = const(33)
TOP1 = const(34)  # the PWM slice's TOP + 1
A_TIMER = const(35)  # TIMER TIMERAWH (TIMERAWL follows): the time, as time.ticks_ms
# The DAC's setpoint limit and the setpoint asked for last (every host: their only home,
# board/rp2_dac.py's ceiling_ua and value_ua; the chip's set_ua checks and writes them)
DAC_CEIL = const(36)
DAC_UA = const(37)
# The gate as the tick commanded it and the MCP4725 transfer's hold (every host: their only
# home, board/rp2_engine.py's _gate_on and _held), then the chip's SIO GPIO_OUT_SET (CLR
# follows) and the gate's GPIO: the chip's gate() writes the pin without Pin.value.
GATE_ON = const(38)
HELD = const(39)
A_GPIO_SET = const(40)
GATE_BIT = const(41)
# The marker's GPIO (-1: none): the chip's fast edge (board/rp2_fast.py) writes it through the
# same SIO registers as the gate, as the marker Pin's value() does (scheduled trains only)
MARKER_BIT = const(42)
# The fast edge's arrays by address (the chip only: rp2_fast.addresses, once, when the
# Scheduler builds the callback; 0: no edge): the session's ring (its words, its kinds) and
# scheduler.EDGE_TABLES. None of them is ever replaced or resized after: the addresses stay true.
A_RING_W = const(43)
A_RING_K = const(44)
A_TABLES = const(45)
WORDS = const(46)


def new():
    if KILL_WORD != IO_WORDS or IO_PENDING >= IO_WORDS:
        raise ValueError("rp2_io layout out of step with tickio.py")
    io = new_io(WORDS)
    io[KILL_WORD] = -1
    io[MARKER_BIT] = -1
    return io
