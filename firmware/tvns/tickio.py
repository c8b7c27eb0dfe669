# The control tick's view of the board's monitors and its end-of-tick duties, in one
# preallocated array('i') (docs/SPEED.md): the tick makes one call to read every monitor
# input (poll) and one to apply a pending DAC setpoint and feed the dead-man engine
# (finish), instead of a dozen method calls of ~10 us each on the rp2 port.
#
# Every board can run it: PartsIO below does it through the parts' own methods (ESP32, the
# sim boards, the rp2 board on a host with the fakes); the rp2 board on the chip hands the
# tick viper functions that read and write the registers themselves (board/rp2_regs.py).
# The words the scheduler reads and writes (the rest of the array is the board's own):
IO_KILL = 0  # != 0: the hardware kill path may have fired (the tick asks kill.tripped())
IO_ESTOP = 1  # 1: the e-stop reads pressed
IO_UA = 2  # the sense reading, uA (valid after a poll with IO_SENSE set)
IO_COMP = 3  # 1: the compliance comparator reads "at compliance" (with IO_SENSE)
IO_SENSE = 4  # set by the tick: 1 while the gate is on (read the sense and the comparator)
IO_PENDING = 5  # < 0: no DAC setpoint pending for sure (the idle tick skips the DAC)
IO_NOW = 6  # ticks_ms of this tick, written by a poll whose tick_io says reads_time (else the
# scheduler writes it before the poll): the one time a running tick judges (tvns/tickfast.py)
IO_WORDS = 7  # the scheduler's words; a board's own follow


def new_io(words=IO_WORDS):
    """The preallocated array (main loop): nothing pending, no sense read asked for."""
    from array import array

    io = array("i", bytes(4 * words))
    io[IO_PENDING] = -1
    return io


class PartsIO:
    """Any board: the monitors through the parts' methods. Without the board's own array,
    IO_PENDING stays 0 ("maybe"): the DAC's apply() runs on every tick, as its own test."""

    reads_time = True  # poll() writes IO_NOW (the board's clock)

    def __init__(self, board, io=None):
        """io: the board's own array, whose IO_PENDING its DAC keeps (rp2_dac.py)."""
        if io is None:
            io = new_io()
            io[IO_PENDING] = 0
        self.io = io
        self._board = board  # its parts looked up at each call: a test may swap one
        self._kill = getattr(board, "kill", None)  # the hardware kill path, if any
        # Bound once: the tick must not allocate a bound method on every call.
        self.poll = self._poll
        self.finish = self._finish

    def _poll(self, io):
        b = self._board
        io[IO_NOW] = b.clock.ticks_ms()
        k = self._kill
        io[IO_KILL] = 0 if k is None else k.tripped()
        io[IO_ESTOP] = 1 if b.estop.pressed() else 0
        if io[IO_SENSE]:
            sense = b.sense
            io[IO_UA] = sense.read_ua()
            io[IO_COMP] = 1 if sense.read_compliance() else 0

    def _finish(self, io):
        """A pending setpoint to the DAC (between pulses), then the dead man fed: the ms
        until its next feed is due."""
        b = self._board
        b.dac.apply()
        return b.engine.feed()
