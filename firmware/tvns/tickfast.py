# The running tick's common case in one viper function (docs/SPEED.md "What the hot path
# does for speed"): "nothing due, every monitor clean". run() reads the board's inputs (one
# poll, which also gives the time), judges them against the scheduler's hot state and
# answers 1 ("clean, nothing due": it then also fed the dead man and set the next due time,
# as the full path would) or 0 ("look": the full Python path in scheduler.py runs, judging
# the very readings this took, in the io array: never read twice).
#
# It may only ever decide "nothing to do": every fault and every state change stays in
# scheduler.py. So each test below answers 0 wherever the full path might do anything (a
# monitor's input past its threshold, the hold window to roll, keep-alive expired, the
# schedule's deadline due, a trigger protocol), and may answer 0 where it would not (stricter
# is only slower): host_tests/test_tickfast.py compares the two over generated states and
# readings on CPython and both MicroPython runtimes.
#
# The hot state is an array('i') whose words are the only home of these values (the
# Scheduler's attributes of the same names are properties over it, scheduler.py): no mirror
# can go stale. Every value is a ticks_ms time, a session time or an amount < 2**30, so the
# machine words never overflow; the ticks_diff arithmetic is inline (MicroPython's period,
# 2**30). Every word it reads is >= 0 but IO_KILL (-1: the kill machine fired), which it only
# compares with 0: a 64-bit host runtime's viper reads a ptr32 word zero-extended, the
# boards' 32-bit one as the signed word it is, and both then give the same answers.
import sys

import micropython
from micropython import const

if sys.implementation.name != "micropython":  # the viper cast, for CPython (the host)

    def ptr32(b):
        if isinstance(b, list):  # a test's board may hand the tick a list (test_tick_mutants)
            return b
        return memoryview(b).cast("B").cast("i")  # the host's words: 32-bit little-endian


# ptr32 and the viper casts are builtins of the viper emitter (not Python names) on a board.
# ruff: noqa: F821

# The words of the hot state (Scheduler._hot); the Scheduler's property of each name in ().
T0 = const(0)  # (t0_ms) ticks_ms at the session's start
WORK = const(1)  # (work_ms) ticks_ms at which the schedule next has work
ELAPSED = const(2)  # (elapsed_ms) session time at the last tick
CAP = const(3)  # (cap_ms) session time beyond which the session-cap monitor faults
HELD_WIN = const(4)  # (held_win_ms) the sense hold's window: a pulse period + apply time
HELD_SINCE = const(5)  # (held_since_ms) ticks_ms the present hold window began
HELD_HI = const(6)  # (held_hi_ua) highest amplitude replaced in this hold window
HELD_PREV = const(7)  # (held_hi_prev_ua) ... and in the window before
AMP = const(8)  # (amp_ua) last amplitude commanded to the DAC
PREV_AMP = const(9)  # (prev_amp_ua) the amplitude before it
CEIL = const(10)  # (ceiling_ua)
MARGIN = const(11)  # (ceiling_margin_ua) overcurrent tolerance at the ceiling
KA = const(12)  # (keepalive_ms) 0: off
HOST = const(13)  # (host_ms) ticks_ms of the last host message
GATE = const(14)  # (gate_on) 1: the gate is open (the engine's last command)
GATE_MS = const(15)  # (gate_on_ms) ticks_ms when the gate last opened
PERIOD = const(16)  # (period_ms) the pulse period, ms rounded up
FEED = const(17)  # (feed_ms) ticks_ms by which the dead man needs its next feed
DUE = const(18)  # (due_ms) ticks_ms at which the next tick has work
TRIG = const(19)  # 1 while a protocol with a trigger block is loaded (trigger)
BEATS = const(20)  # (beats) every tick call: the main loop's proof of life (wraps at 2**30 - 1)
WORDS = const(21)

# tvns/tickio.py's words and safety.py's numbers (public: scheduler.py checks them at construction)
IO_KILL = const(0)
IO_ESTOP = const(1)
IO_UA = const(2)
IO_COMP = const(3)
IO_SENSE = const(4)
IO_NOW = const(6)
FLOOR_UA = const(50)  # safety.SENSE_FLOOR_UA
LEAD_OFF_MIN_UA = const(200)  # safety.LEAD_OFF_MIN_SETPOINT_UA
_MASK = const(0x3FFFFFFF)
_HALF = const(0x20000000)


def new():
    """The hot state (main loop, once): all zero, as a Scheduler is built."""
    from array import array

    return array("i", bytes(4 * WORDS))


@micropython.viper
def run(hot, io, poll, finish) -> int:
    """One running tick's common case: 1 when it was "nothing due, every monitor clean"
    (the session time, the dead man's feed and the due time then set here, nothing else
    changed), else 0 with the readings left in io for the full path. The checks mirror
    Scheduler._monitor and _step in their order; each answers 0 at or before the point where
    the full path would act."""
    h = ptr32(hot)
    o = ptr32(io)
    gate = h[GATE]
    o[IO_SENSE] = gate  # the sense and the comparator only while the gate is on
    poll(io)  # every input and the time (tvns/tickio.py), once
    if h[TRIG] != 0:
        return 0  # the trigger's input is sampled by the full path (tvns/trigger.py)
    if o[IO_KILL] != 0 or o[IO_ESTOP] != 0:
        return 0
    now = o[IO_NOW]
    t = now - h[T0]  # ticks_diff, inline
    if t >= _HALF:
        t = t - _MASK - 1
    elif t < -_HALF:
        t = t + _MASK + 1
    if t > h[CAP]:
        return 0
    if gate != 0:
        d = now - h[HELD_SINCE]
        if d >= _HALF:
            d = d - _MASK - 1
        elif d < -_HALF:
            d = d + _MASK + 1
        if d >= h[HELD_WIN]:
            return 0  # the hold window rolls over: a state change
        ua = o[IO_UA]
        amp = h[AMP]
        hi = amp
        if h[HELD_HI] > hi:
            hi = h[HELD_HI]
        if h[HELD_PREV] > hi:
            hi = h[HELD_PREV]
        if ua > hi + hi // 10 + FLOOR_UA or ua > h[CEIL] + h[MARGIN]:
            return 0
        if o[IO_COMP] != 0:
            return 0
        if amp >= LEAD_OFF_MIN_UA:
            lo = h[PREV_AMP]
            if amp < lo:
                lo = amp
            if ua < lo // 2:
                d = now - h[GATE_MS]
                if d >= _HALF:
                    d = d - _MASK - 1
                elif d < -_HALF:
                    d = d + _MASK + 1
                if d > h[PERIOD]:
                    return 0  # maybe a lead-off (the full path also asks the trigger)
    ka = h[KA]
    if ka != 0:  # (stricter than the full path, which skips it once a stop is requested)
        d = now - h[HOST]
        if d >= _HALF:
            d = d - _MASK - 1
        elif d < -_HALF:
            d = d + _MASK + 1
        if d > ka:
            return 0
    w = h[WORK]
    d = now - w
    if d >= _HALF:
        d = d - _MASK - 1
    elif d < -_HALF:
        d = d + _MASK + 1
    if d >= 0:
        return 0  # the schedule (or a stop, or keep-alive's stop) has work now
    # Clean and nothing due: what the full path's tick then does (scheduler.tick).
    h[ELAPSED] = t
    fed = int(finish(io))  # a pending setpoint to the DAC, then the dead man fed
    f = now + fed if now <= _MASK - fed else now - (_MASK - fed) - 1
    h[FEED] = f
    d = f - w
    if d >= _HALF:
        d = d - _MASK - 1
    elif d < -_HALF:
        d = d + _MASK + 1
    h[DUE] = f if d < 0 else w
    return 1
