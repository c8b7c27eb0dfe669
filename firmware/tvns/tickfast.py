# The running tick's common case in one viper function (docs/SPEED.md "What the hot path
# does for speed"): "nothing due, every monitor clean". run() reads the board's inputs (one
# poll, which also gives the time), judges them against the scheduler's hot state and
# answers 1 ("clean, nothing due": it then also fed the dead man and set the next due time,
# as the full path would) or 0 ("look": the full Python path in scheduler.py runs, judging
# the very readings this took, in the io array: never read twice).
#
# It may only ever decide "nothing to do" (and roll the sense hold's window over, as the full
# path's monitor would on the same sample): every fault and every state change stays in
# scheduler.py, or in the fast edge (tvns/tickedge.py), which does the schedule's work exactly
# as the full path would. So each test below answers 0 wherever the full path might do
# anything else (a monitor's input past its threshold, keep-alive expired, a trigger
# protocol), 2 where every monitor is clean and the schedule's deadline (or a stop) is due,
# and may answer 0 where it would not (stricter is only slower): host_tests/test_tickfast.py
# compares the two over generated states and readings on CPython and both MicroPython
# runtimes, host_tests/test_tickedge.py the edge with the full path.
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
# (Private consts: folded into the code, never stored as module globals.)
_T0 = const(0)  # (t0_ms) ticks_ms at the session's start
_WORK = const(1)  # (work_ms) ticks_ms at which the schedule next has work
_ELAPSED = const(2)  # (elapsed_ms) session time at the last tick
_CAP = const(3)  # (cap_ms) session time beyond which the session-cap monitor faults
_HELD_WIN = const(4)  # (held_win_ms) the sense hold's window: a pulse period + apply time
_HELD_SINCE = const(5)  # (held_since_ms) ticks_ms the present hold window began
_HELD_HI = const(6)  # (held_hi_ua) highest amplitude replaced in this hold window
_HELD_PREV = const(7)  # (held_hi_prev_ua) ... and in the window before
_AMP = const(8)  # (amp_ua) last amplitude commanded to the DAC
_PREV_AMP = const(9)  # (prev_amp_ua) the amplitude before it
_CEIL = const(10)  # (ceiling_ua)
_MARGIN = const(11)  # (ceiling_margin_ua) overcurrent tolerance at the ceiling
_KA = const(12)  # (keepalive_ms) 0: off
_HOST = const(13)  # (host_ms) ticks_ms of the last host message
_GATE = const(14)  # (gate_on) 1: the gate is open (the engine's last command)
_GATE_MS = const(15)  # (gate_on_ms) ticks_ms when the gate last opened
_PERIOD = const(16)  # (period_ms) the pulse period, ms rounded up
_FEED = const(17)  # (feed_ms) ticks_ms by which the dead man needs its next feed
_DUE = const(18)  # (due_ms) ticks_ms at which the next tick has work
_TRIG = const(19)  # 1 while a protocol with a trigger block is loaded (trigger)
_BEATS = const(20)  # (beats) every tick call: the main loop's proof of life (wraps at 2**30 - 1)
_STATE = const(21)  # (Session.state) the session's state: its only home once a Scheduler is
# built over the session (tvns/session.py), so the timer's callback reads it without a lookup
_WORDS = const(22)

# tvns/tickio.py's words and safety.py's numbers
_IO_KILL = const(0)
_IO_ESTOP = const(1)
_IO_UA = const(2)
_IO_COMP = const(3)
_IO_SENSE = const(4)
_IO_PENDING = const(5)
_IO_NOW = const(6)
_RUN_BITS = const(0x3C)  # session.RUNNING as bits: RAMP_UP, ON, OFF, RAMP_DOWN (1 << state)
_FLOOR_UA = const(50)  # safety.SENSE_FLOOR_UA
_LEAD_OFF_MIN_UA = const(200)  # safety.LEAD_OFF_MIN_SETPOINT_UA
_MASK = const(0x3FFFFFFF)
_HALF = const(0x20000000)
_NONE = None  # (viper compares an object with an object, not with the literal None)
_STOP_REQ = const(27)  # (stop_requested) the step's word (tvns/tickstep.py): keep-alive's skip
STOP_WORDS = (_STOP_REQ,)  # checked against tickstep's by the Scheduler (scheduler.py)
# Every number above in one constant (no module global each: boot time on the rp2 port),
# in this order, for scheduler.py and board/rp2_fast.py to check theirs against.
LAYOUT = (_T0, _WORK, _ELAPSED, _CAP, _HELD_WIN, _HELD_SINCE, _HELD_HI, _HELD_PREV, _AMP,
          _PREV_AMP, _CEIL, _MARGIN, _KA, _HOST, _GATE, _GATE_MS, _PERIOD, _FEED, _DUE, _TRIG,
          _BEATS, _WORDS, _IO_KILL, _IO_ESTOP, _IO_UA, _IO_COMP, _IO_SENSE, _IO_NOW,
          _FLOOR_UA, _LEAD_OFF_MIN_UA, _STATE, _IO_PENDING, _RUN_BITS)  # fmt: skip


def new():
    """The hot state (main loop, once): all zero, as a Scheduler is built."""
    from array import array

    return array("i", bytes(4 * _WORDS))


@micropython.viper
def run(hot, io, poll, finish) -> int:
    """One running tick's common case: 1 when it was "nothing due, every monitor clean"
    (the session time, the dead man's feed and the due time then set here, nothing else
    changed but the hold window's roll), 2 when every monitor is clean and the schedule's
    deadline is due (the fast edge's case: nothing changed but the roll), else 0 with the
    readings left in io for the full path. The checks mirror Scheduler._monitor and _step in
    their order; each answers 0 at or before the point where the full path would act."""
    h = ptr32(hot)
    o = ptr32(io)
    gate = h[_GATE]
    o[_IO_SENSE] = gate  # the sense and the comparator only while the gate is on
    poll(io)  # every input and the time (tvns/tickio.py), once
    if h[_TRIG] != 0:
        return 0  # the trigger's input is sampled by the full path (tvns/trigger.py)
    if o[_IO_KILL] != 0 or o[_IO_ESTOP] != 0:
        return 0
    now = o[_IO_NOW]
    t = now - h[_T0]  # ticks_diff, inline
    if t >= _HALF:
        t = t - _MASK - 1
    elif t < -_HALF:
        t = t + _MASK + 1
    if t > h[_CAP]:
        return 0
    if gate != 0:
        d = now - h[_HELD_SINCE]
        if d >= _HALF:
            d = d - _MASK - 1
        elif d < -_HALF:
            d = d + _MASK + 1
        win = h[_HELD_WIN]
        if d >= win:  # the hold window rolls over, as the full path's monitor rolls it
            if win <= 0:
                return 0  # (no window: a state no loaded protocol leaves)
            h[_HELD_PREV] = h[_HELD_HI]
            h[_HELD_HI] = 0
            h[_HELD_SINCE] = now
        ua = o[_IO_UA]
        amp = h[_AMP]
        hi = amp
        if h[_HELD_HI] > hi:
            hi = h[_HELD_HI]
        if h[_HELD_PREV] > hi:
            hi = h[_HELD_PREV]
        if ua > hi + hi // 10 + _FLOOR_UA or ua > h[_CEIL] + h[_MARGIN]:
            return 0
        if o[_IO_COMP] != 0:
            return 0
        if amp >= _LEAD_OFF_MIN_UA:
            lo = h[_PREV_AMP]
            if amp < lo:
                lo = amp
            if ua < lo // 2:
                d = now - h[_GATE_MS]
                if d >= _HALF:
                    d = d - _MASK - 1
                elif d < -_HALF:
                    d = d + _MASK + 1
                if d > h[_PERIOD]:
                    return 0  # maybe a lead-off (the full path also asks the trigger)
    ka = h[_KA]
    if ka != 0 and h[_STOP_REQ] == 0:  # (as the full path: not once a stop is requested)
        d = now - h[_HOST]
        if d >= _HALF:
            d = d - _MASK - 1
        elif d < -_HALF:
            d = d + _MASK + 1
        if d > ka:
            return 0
    w = h[_WORK]
    d = now - w
    if d >= _HALF:
        d = d - _MASK - 1
    elif d < -_HALF:
        d = d + _MASK + 1
    if d >= 0:
        return 2  # the schedule (or a stop) has work now: the fast edge's, else the full path's
    # Clean and nothing due: what the full path's tick then does (scheduler.tick).
    h[_ELAPSED] = t
    fed = int(finish(io))  # a pending setpoint to the DAC, then the dead man fed
    f = now + fed if now <= _MASK - fed else now - (_MASK - fed) - 1
    h[_FEED] = f
    d = f - w
    if d >= _HALF:
        d = d - _MASK - 1
    elif d < -_HALF:
        d = d + _MASK + 1
    h[_DUE] = f if d < 0 else w
    return 1


def callback(hot, io, parts):
    """The timer's callback (Scheduler.tick_cb) on a board without its own (the rp2 chip's:
    board/rp2_fast.py): one viper function the board's timer calls with itself. parts is
    (poll, finish, look, exception, edge context, edge): look(timer) is the scheduler's
    guarded full path (Scheduler._look), exception() its latch, the context and the edge the
    fast edge's (tvns/tickedge.py edge; None: no fast edge on this board). It counts the
    beat, and then:
    - no session running: returns, or, with a DAC setpoint pending, hands the tick to look
      (which applies it);
    - running: run() above; "clean" ends the tick here, "due" (2) is the fast edge's (when
      it answers 0, and on "look", the tick goes to look: the full path, on run's sample).
      An exception from run or the edge (the board's poll or finish, the DAC's refusal)
      goes to the latch, as the full path's own do (nothing may escape a hard IRQ's
      callback).
    A closure over three names: MicroPython calls a closure with its cells and arguments on
    the C stack up to 5 in all (objclosure.c; more would allocate in the IRQ); a closure's
    call measured cheaper than a module-level viper function's globals or a bound method's
    attributes (docs/SPEED.md "The timer's callback")."""

    @micropython.viper
    def tick_cb(timer):
        h = ptr32(hot)
        b = h[_BEATS]
        h[_BEATS] = b + 1 if b < _MASK else 0  # b + 1 at 2**30 - 1 would be a heap int
        if ((_RUN_BITS >> h[_STATE]) & 1) == 0:
            # bit 31: -1 "none pending" whether the host's viper reads the word signed or not
            if ((ptr32(io)[_IO_PENDING] >> 31) & 1) == 0:
                parts[2](timer)
            return
        try:
            r = int(run(hot, io, parts[0], parts[1]))
            if r == 1:
                return
            if r == 2:
                ctx = parts[4]
                if ctx is not _NONE and int(parts[5](hot, io, ctx)) == 1:
                    return
        except Exception:  # noqa: BLE001 - whatever it was, the output goes off
            parts[3]()
            return
        parts[2](timer)

    return tick_cb
