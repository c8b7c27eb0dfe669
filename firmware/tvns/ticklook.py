# The control tick's full path (tvns/tickfast.py's "look": Scheduler._look, tvns/scheduler.py)
# and its monitors: look runs the step (tvns/tickstep.py) guarded, then the dead man's feed
# and the next due time; monitor judges the tick's one sample (e-stop, the kill path, session
# cap, overcurrent, lead-off, keep-alive); TimedPoll gives a board's poll the time.
# Module-level native and viper functions that take the scheduler: scheduler.py makes them
# its methods (_look, _exception, _monitor, _pulsing_for: the names the tests and the
# bench's profile use), and the step calls monitor as its module's global (no look-up on
# self: the split costs no call across modules, docs/SPEED.md).
#
# Concurrency rules of the tick's body (scheduler.py's header has the others):
# - The tick body is guarded: an exception there (the rp2 port stops calling a callback
#   that raised) turns the output off and latches `exception`; nothing escapes the tick.
# - Every integer the tick keeps stays a small int (< 2**30) forever: counters wrap to 0
#   before _WRAP + 1 is ever formed; times are ticks_* values (the audit: SAFETY.md).
# - The pulse engine is a dead man: each tick tops up its permission (engine.feed), at most
#   safety.DEADMAN_PULSES pulses beyond the last tick that ran; due_ms includes the time
#   the engine's permission runs out, so the sim board (ticks only at deadlines) feeds it too.
import sys

import micropython
from micropython import const

from tvns import safety as F
from tvns import session as S

if sys.implementation.name != "micropython":  # the viper cast, for CPython (the host)
    from tvns.tickfast import ptr32


# ptr32 is a builtin of the viper emitter (not a Python name) on a board.
# ruff: noqa: F821

# The hot state's words (tvns/tickfast.py's, which LAYOUT below repeats in its order; viper
# folds only this module's consts), tvns/tickio.py's and safety.py's numbers
_T0 = const(0)
_WORK = const(1)
_ELAPSED = const(2)
_CAP = const(3)
_HELD_WIN = const(4)
_HELD_SINCE = const(5)
_HELD_HI = const(6)
_HELD_PREV = const(7)
_AMP = const(8)
_PREV_AMP = const(9)
_CEIL = const(10)
_MARGIN = const(11)
_KA = const(12)
_HOST = const(13)
_GATE = const(14)
_GATE_MS = const(15)
_PERIOD = const(16)
_FEED = const(17)
_DUE = const(18)
_TRIG = const(19)
_BEATS = const(20)
_WORDS = const(22)
_IO_KILL = const(0)
_IO_ESTOP = const(1)
_IO_UA = const(2)
_IO_COMP = const(3)
_IO_SENSE = const(4)
_IO_NOW = const(6)
_FLOOR_UA = const(50)  # safety.SENSE_FLOOR_UA
_LEAD_OFF_MIN_UA = const(200)  # safety.LEAD_OFF_MIN_SETPOINT_UA
_STATE = const(21)
_IO_PENDING = const(5)
_RUN_BITS = const(0x3C)
# Every number above in one constant, in tickfast.LAYOUT's order: the Scheduler refuses to
# build when it is out of step (scheduler.py __init__).
LAYOUT = (_T0, _WORK, _ELAPSED, _CAP, _HELD_WIN, _HELD_SINCE, _HELD_HI, _HELD_PREV, _AMP,
          _PREV_AMP, _CEIL, _MARGIN, _KA, _HOST, _GATE, _GATE_MS, _PERIOD, _FEED, _DUE, _TRIG,
          _BEATS, _WORDS, _IO_KILL, _IO_ESTOP, _IO_UA, _IO_COMP, _IO_SENSE, _IO_NOW,
          _FLOOR_UA, _LEAD_OFF_MIN_UA, _STATE, _IO_PENDING, _RUN_BITS)  # fmt: skip
_STOP_REQ = const(27)  # (stop_requested) the step's word (tvns/tickstep.py): keep-alive sets it
STOP_WORDS = (_STOP_REQ,)  # checked against tickstep's by the Scheduler (scheduler.py)
_WRAP = const(0x3FFFFFFF)  # counters wrap here: 2**30 - 1, the largest small int of a 32-bit port
# ticks_ms arithmetic inline (MicroPython's period, 2**30): a call of clock.ticks_diff costs
# ~10 us on the rp2 port; no intermediate reaches 2**30 (a heap int on a 32-bit port).
_MASK = const(0x3FFFFFFF)
_HALF = const(0x20000000)
# safety.py's fault codes the monitors latch (viper folds only this module's consts)
_NONE = const(0)
_OVERCURRENT = const(1)
_LEAD_OFF = const(2)
_ESTOP = const(3)
_HOST_LOSS = const(5)
_SESSION_CAP = const(6)
_KILL = const(9)
if (_NONE, _OVERCURRENT, _LEAD_OFF, _ESTOP, _HOST_LOSS, _SESSION_CAP, _KILL) != (
    F.NONE,
    F.OVERCURRENT,
    F.LEAD_OFF,
    F.ESTOP,
    F.HOST_LOSS,
    F.SESSION_CAP,
    F.KILL,
):
    raise ValueError("scheduler's fault codes out of step with safety.py")
_RUNNING = S.RUNNING  # a module global: one lookup fewer per use in the tick


@micropython.native  # machine code (mpy-cross -march): the hot path
def look(self, _timer=None):
    """The full path (tick_cb's "look"), guarded: an exception turns the output off and
    latches `exception` (nothing may escape: the rp2 port stops calling a callback that
    raised). Running: the step (tvns/tickstep.py) judges the readings tick_cb took (io: never read
    twice), then a pending DAC setpoint is applied when no pulse is in flight (never a
    wait here) and, while the session still runs, the dead-man engine fed (after the gate
    decision, so a feed never releases a pulse into a train this tick closed) and the
    deadline set. Not running: a setpoint left pending reaches the DAC."""
    try:
        h = self._hot
        io = self._io
        if _RUNNING[h[_STATE]] == 1:  # only a running session is advanced
            self._step()
            if _RUNNING[h[_STATE]] == 1:
                # A pending setpoint to the DAC (between pulses), then the dead man fed.
                fed = self._finish(io)
                now = io[_IO_NOW]  # the step's: a feed deadline never later than due
                f = now + fed if now <= _MASK - fed else now - (_MASK - fed) - 1
                h[_FEED] = f
                w = h[_WORK]
                trg = self._trg
                if trg is not None and self._clock.ticks_diff(trg.due_ms, w) < 0:
                    w = trg.due_ms
                d = f - w  # ticks_diff, inline
                if d >= _HALF:
                    d = d - _MASK - 1
                elif d < -_HALF:
                    d = d + _MASK + 1
                h[_DUE] = f if d < 0 else w
                return
        if io[_IO_PENDING] >= 0:  # a setpoint left pending reaches the DAC
            self._dac.apply()
    except Exception:  # noqa: BLE001 - whatever it was, the output goes off
        self._exception()


def exception(self):
    n = self.exceptions
    self.exceptions = n + 1 if n < _WRAP else 0
    try:
        self.fault(F.EXCEPTION)
    except Exception:  # noqa: BLE001
        # The output-off path itself raised: the main loop stops feeding the watchdog,
        # which resets the chip (and so stops the PIO) within its timeout.
        self.off_failed = True


@micropython.viper  # machine words and ptr32 over the arrays (docs/SPEED.md)
def monitor(self, now: int, t: int) -> bool:
    """Runs on every tick while a session runs. Returns True after a fault."""
    # The hardware kill path has already cut the output (rp2: the PIO's kill machine);
    # here it is latched with its cause. The polls below are the second line of defence.
    # The inputs were read once by the fast path's poll (tvns/tickfast.py), the sense and
    # the comparator while the gate is on: this judges the same sample, never a second.
    # Every word read is >= 0 but IO_KILL (-1: the kill machine fired), which a 64-bit
    # host runtime's viper reads zero-extended: both spellings of -1 are tested.
    io = ptr32(self._io)
    h = ptr32(self._hot)
    gate_on = h[_GATE]
    code = io[_IO_KILL]
    if code < 0 or code > 0xFFFF:  # the board's poll saw the kill machine fire: its cause
        code = int(self._kill.tripped())
        if code == _NONE:
            code = _KILL
    if code != _NONE:
        pass
    elif io[_IO_ESTOP] != 0:
        code = _ESTOP
    elif t > h[_CAP]:
        code = _SESSION_CAP
    elif gate_on != 0:
        ua = io[_IO_UA]
        # The highest amplitude the sense may show: the one commanded, or one replaced
        # since the last pulse the hold shows could have started (a sample-and-hold keeps
        # the last pulse: a stop ramp at 25 Hz takes up to 4 steps between two pulses, at
        # 1 Hz the whole ramp). Two windows of a period + _APPLY_MS: an amplitude replaced
        # at t counts until t + 1 to 2 windows, never less than it can show. Inline: a
        # method call costs ~10 us on the rp2 port (docs/SPEED.md).
        d = now - h[_HELD_SINCE]  # ticks_diff, inline
        if d >= _HALF:
            d = d - _MASK - 1
        elif d < -_HALF:
            d = d + _MASK + 1
        if d >= h[_HELD_WIN]:
            h[_HELD_PREV] = h[_HELD_HI]
            h[_HELD_HI] = 0
            h[_HELD_SINCE] = now
        amp = h[_AMP]
        hi = amp
        if h[_HELD_HI] > hi:
            hi = h[_HELD_HI]
        if h[_HELD_PREV] > hi:
            hi = h[_HELD_PREV]
        if ua > hi + hi // 10 + _FLOOR_UA or ua > h[_CEIL] + h[_MARGIN]:
            code = _OVERCURRENT
        elif io[_IO_COMP] != 0:
            code = _LEAD_OFF
        elif amp >= _LEAD_OFF_MIN_UA:
            # The peak hold shows the last pulse, maybe still at the previous (lower)
            # amplitude: on the rp2 port a 100 -> 200 uA ramp step read 96 uA here.
            low = h[_PREV_AMP]
            if amp < low:
                low = amp
            if ua < low // 2:
                d = now - h[_GATE_MS]  # ticks_diff, inline
                if d >= _HALF:
                    d = d - _MASK - 1
                elif d < -_HALF:
                    d = d + _MASK + 1
                if d > h[_PERIOD] and int(self._pulsing_for(now)) > h[_PERIOD]:
                    code = _LEAD_OFF  # the source cannot drive the setpoint into this load
    if code != _NONE:
        self.fault(code)
        return True
    ka = h[_KA]
    if ka != 0 and h[_STOP_REQ] == 0:
        d = now - h[_HOST]  # ticks_diff, inline
        if d >= _HALF:
            d = d - _MASK - 1
        elif d < -_HALF:
            d = d + _MASK + 1
        if d <= ka:
            return False
        h[_STOP_REQ] = 1  # host silent: ramp down fast, end STOPPED
        self.stop_reason = _HOST_LOSS
        self.stop_ms = t
        h[_WORK] = now
    return False


def pulsing_for(self, now):
    """ms since the present burst of pulses began (a large number without a trigger:
    pulses run whenever the gate is open); -1 while no pulse runs."""
    trg = self._trg
    if trg is None:
        return 0x100000
    return trg.flowing_ms(now)


class TimedPoll:
    """A board's own poll that does not read the time (tickio.py IO_NOW), as the Scheduler
    takes it: the clock's ticks_ms written first, so every poll gives the tick its time."""

    def __init__(self, clock, poll):
        self._clock = clock
        self._poll = poll
        self.poll = self._timed  # bound once: the tick must not allocate a bound method

    def _timed(self, io):
        io[_IO_NOW] = self._clock.ticks_ms()
        self._poll(io)
