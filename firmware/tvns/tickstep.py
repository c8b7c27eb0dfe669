# The control tick's step (Scheduler._step, tvns/scheduler.py): where the schedule says a
# running session is, the stop ramp, the amplitude rules and the gate, in machine words over
# the scheduler's hot state (docs/SPEED.md); and the output calls it makes (set_amp,
# set_gate, output_off). Module-level viper and native functions that take the scheduler:
# scheduler.py makes them its methods (_step, _set_amp, _set_gate, _output_off: the names
# the tests and the bench's profile use), and the step calls the others, and
# tvns/ticklook.py's monitor, as this module's globals: no look-up on self (~20 us on the
# rp2 port, docs/SPEED.md), so the split costs no call across modules.
# Longer than ~300 lines on purpose: the step is one viper function (a call split out of it
# costs ~10 us a tick on the rp2 port), and the numbers it folds are its own consts.
#
# Concurrency (scheduler.py's header has the rules): the step runs only in the tick (the
# timer's callback, or start's first tick with the timer stopped); while a session runs
# only the step changes the session state: a stop from the main loop is a request
# (stop_requested) it carries out. Integer-only and allocation-free; every integer it keeps
# stays a small int (< 2**30); times are ticks_* values, their arithmetic inline.
#
# Nominal and delivered: nom_ua/nom_gate are what the active arm commands; amp_ua/gate_on
# what goes to the DAC and the engine. They differ only in the blinded sham arm, where the
# states, the stop ramp's length and the status the operator sees follow the nominal
# values (docs/BLINDING.md) and the monitors the delivered ones.
import sys

import micropython
from micropython import const

from tvns import schedule as SCH
from tvns import session as S
from tvns.ticklook import monitor

if sys.implementation.name != "micropython":  # the viper casts, for CPython (the host)
    from tvns.tickfast import ptr32

    def ptr8(b):
        return b


# ptr32 and ptr8 are builtins of the viper emitter (not Python names) on a board.
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
_FLOOR_UA = const(50)
_LEAD_OFF_MIN_UA = const(200)
_STATE = const(21)
_IO_PENDING = const(5)
_RUN_BITS = const(0x3C)
# The step's own words, appended to tickfast's (scheduler.py: its descriptors over them)
_NOM = const(22)  # (nom_ua) the active arm's amplitude (== amp_ua unless blinded sham)
_NOM_GATE = const(23)  # (nom_gate) 1: the active arm's gate open
_LAST_UP = const(24)  # (last_up_ms) session time of the last upward amplitude step
_UP_FROM = const(25)  # (up_from_ua) the nominal amplitude before the last upward step
_UP_GAP = const(26)  # (up_gap_ms) upward steps at least this far apart (a pulse period)
# The stop's request and progress (scheduler.py: stop(), start(); ticklook's keep-alive): words
# too, so that the timer's callback reads them without a lookup (tvns/tickedge.py)
_STOP_REQ = const(27)  # (stop_requested) 1: a stop asked for, not yet begun by the step
_STOPPING = const(28)  # (stopping) 1: the stop's ramp down runs
_STOP_AT = const(29)  # (stop_at_ms) session time of the stop's first step
_STOP_FROM = const(30)  # (stop_from_ua) the nominal amplitude the stop ramps down from
_STEP_UA = const(100)  # limits.RAMP_STEP_MAX_UA
_STOP_STEP_MS = const(10)  # limits.STOP_RAMP_STEP_MS
# ticks_ms arithmetic inline (MicroPython's period, 2**30): no intermediate reaches 2**30
_MASK = const(0x3FFFFFFF)
_HALF = const(0x20000000)
# Every number above in one constant: tickfast.LAYOUT's order, then the step's words and
# limits; the Scheduler refuses to build when it is out of step (scheduler.py __init__).
LAYOUT = (_T0, _WORK, _ELAPSED, _CAP, _HELD_WIN, _HELD_SINCE, _HELD_HI, _HELD_PREV, _AMP,
          _PREV_AMP, _CEIL, _MARGIN, _KA, _HOST, _GATE, _GATE_MS, _PERIOD, _FEED, _DUE, _TRIG,
          _BEATS, _WORDS, _IO_KILL, _IO_ESTOP, _IO_UA, _IO_COMP, _IO_SENSE, _IO_NOW,
          _FLOOR_UA, _LEAD_OFF_MIN_UA, _STATE, _IO_PENDING, _RUN_BITS, _NOM, _NOM_GATE,
          _LAST_UP, _UP_FROM, _UP_GAP, _STOP_REQ, _STOPPING, _STOP_AT, _STOP_FROM, _STEP_UA,
          _STOP_STEP_MS)  # fmt: skip
_eval = SCH.eval_words  # Schedule.eval over its words (viper: the step's one call for it)
# The schedule's answer in its words (tvns/schedule.py ANSWER) and the states it names
_W_PHASE = const(13)
_W_AMP = const(14)
_W_GATE = const(15)
_W_NEXT = const(16)
_W_OUT = const(17)
_W_OUT_GATE = const(18)
_W_GE = const(6)
_RAMP_DOWN = const(5)
_DONE = const(6)
_EV_STOP = const(7)
_NO_TRIGGER = None  # (viper compares an object with an object, not with the literal None)
_EV_STOPPED = const(8)
if (_W_PHASE, _W_AMP, _W_GATE, _W_NEXT, _W_OUT, _W_OUT_GATE, _W_GE) != SCH.ANSWER or (
    _RAMP_DOWN,
    _DONE,
    _EV_STOP,
    _EV_STOPPED,
) != (S.RAMP_DOWN, S.DONE, S.EV_STOP, S.EV_STOPPED):
    raise ValueError("scheduler's schedule words out of step with schedule.py")
_OUTPUT_ALLOWED = S.OUTPUT_ALLOWED  # a module global: one lookup fewer per use in the tick
# The event that moves the session into each schedule phase (indexed by state: session.py)
_EVENT_FOR_PHASE = S.EVENT_FOR_PHASE


@micropython.viper  # machine words and ptr32 over the arrays (docs/SPEED.md)
def step(self):
    # The hot state's and the schedule's words through ptr32 (every word read so is >= 0
    # but last_up_ms, read through the array object: a 64-bit host runtime's viper reads
    # a ptr32 word zero-extended); the session, the trigger and the schedule's call are
    # objects as before. (What the step calls, monitor, set_amp, set_gate, output_off,
    # are this module's globals: a method looked up on self first misses the scheduler's
    # nearly full instance dict, ~20 us on the rp2 port, docs/SPEED.md.)
    # 1. A running session only (tick checks): where are we in it?
    s = self.session
    hot = self._hot
    h = ptr32(hot)
    now = ptr32(self._io)[_IO_NOW]  # the poll's (tick): the time the monitors judge with
    trg = self._trg
    if trg is not _NO_TRIGGER and trg.waiting:
        # Start mode: session time stays 0 until the input's edge, then counts from it.
        trg.poll(now, 0)
        if trg.waiting:
            h[_T0] = now
            if h[_STOP_REQ] == 0:  # a stop's work_ms (stop()) ends the wait now
                h[_WORK] = int(trg.due_ms)
        else:
            h[_T0] = int(trg.edge_ms)
            h[_WORK] = now
    t = now - h[_T0]  # ticks_diff, inline
    if t >= _HALF:
        t = t - _MASK - 1
    elif t < -_HALF:
        t = t + _MASK + 1
    h[_ELAPSED] = t
    # 2. Monitors on every tick: e-stop, session cap, overcurrent, lead-off, keep-alive.
    if monitor(self, now, t):
        return
    # 2b. The trigger input, sampled every tick (tvns/trigger.py): its permission, caps.
    if trg is not _NO_TRIGGER:
        if trg.waiting and h[_STOP_REQ] == 0:
            return  # nothing runs before the start edge; a stop ends the wait
        if trg.poll(now, t):
            h[_WORK] = now
    # 3. Deadline-driven: nothing else can change before work_ms.
    d = now - h[_WORK]  # ticks_diff, inline
    if d >= _HALF:
        d = d - _MASK - 1
    elif d < -_HALF:
        d = d + _MASK + 1
    if d < 0:
        return
    # The schedule's answer in its words (tvns/schedule.py: one viper call, no attribute
    # on the schedule read or written; a descriptor read would be a call each).
    words = self.sched.words
    w = ptr32(words)
    allowed = ptr8(_OUTPUT_ALLOWED)
    # 4. A stop request: ramp down one 0.1 mA step per _STOP_STEP_MS, then STOPPED.
    #    Timed on the nominal amplitude, so a blinded sham's stop lasts as long. Step k
    #    falls due at stop_at_ms + (k - 1) * _STOP_STEP_MS, from the stop, not from when
    #    this tick ran: a late tick takes every step that fell due (one larger step down),
    #    so late ticks never stretch a stop. Never above the schedule's own ramp down, and
    #    over by the gate's end: a stop never runs into the session's end.
    if h[_STOP_REQ] != 0 and h[_STOPPING] == 0:
        h[_STOPPING] = 1
        h[_STOP_AT] = t
        h[_STOP_FROM] = h[_NOM]
        s.fire(_EV_STOP, t)
    if h[_STOPPING] != 0:
        at = int(hot[_STOP_AT])  # (signed, as last_up_ms)
        k = (t - at) // _STOP_STEP_MS + 1
        nom = h[_STOP_FROM] - k * _STEP_UA
        _eval(words, t)
        if w[_W_PHASE] >= _RAMP_DOWN and w[_W_AMP] < nom:
            nom = w[_W_AMP]
        if nom <= 0 or h[_NOM_GATE] == 0 or allowed[h[_STATE]] == 0 or t >= w[_W_GE]:
            output_off(self)
            s.fire(_EV_STOPPED, t)
            return
        h[_NOM] = nom
        a = h[_AMP]
        set_amp(self, a if a < nom else nom)
        nx = at + k * _STOP_STEP_MS
        if w[_W_NEXT] < nx:  # the schedule's own step down or the gate's end first
            nx = w[_W_NEXT]
        t0 = h[_T0]  # 0 <= nx < 2**30: ticks_add, inline
        h[_WORK] = t0 + nx if t0 <= _MASK - nx else t0 - (_MASK - nx) - 1
        return
    # 5. Where the schedule says the session is now.
    _eval(words, t)
    phase = w[_W_PHASE]
    if phase != h[_STATE]:
        s.fire(ptr8(_EVENT_FOR_PHASE)[phase], t)
    if phase == _DONE:
        output_off(self)
        return
    # 6. Amplitude: at most one 0.1 mA step up, upward steps at least one pulse period
    #    apart and only while pulses run, so late ticks delay a ramp but never steepen
    #    it. Never above the ceiling. Decreases apply at once. Worked out on the
    #    nominal amplitude; the delivered one is never above it.
    amp = w[_W_AMP]
    nom = h[_NOM]
    t0 = h[_T0]
    nx = w[_W_NEXT]  # 0 <= nx < 2**30: ticks_add, inline
    due = t0 + nx if t0 <= _MASK - nx else t0 - (_MASK - nx) - 1
    sgate = w[_W_GATE]
    last_up = int(hot[_LAST_UP])  # (-up_gap_ms before the first step: signed)
    gap = h[_UP_GAP]
    if sgate == 0 and nom > h[_UP_FROM] and t - last_up < gap:
        # The gate closes less than a period after a step up: maybe no pulse showed it.
        # Withdrawn, so the next train's first step starts from what a pulse did show.
        nom = h[_UP_FROM]
    if amp > nom:
        wait = last_up + gap - t
        held = sgate == 0
        if not held and trg is not _NO_TRIGGER and nom > 0:
            if trg.holds_ramp():
                held = True
        if held:
            amp = nom  # no pulses now: steps taken here would add up unseen
        elif wait > 0:
            amp = nom
            if wait < nx - t:  # never past the schedule's own next change
                # 0 < wait < 2**30: ticks_add, inline
                due = now + wait if now <= _MASK - wait else now - (_MASK - wait) - 1
        else:
            if amp > nom + _STEP_UA:
                amp = nom + _STEP_UA
                if gap < nx - t:  # 0 <= gap < 2**30: ticks_add, inline
                    due = now + gap if now <= _MASK - gap else now - (_MASK - gap) - 1
            h[_LAST_UP] = t
            h[_UP_FROM] = nom
    if amp > h[_CEIL]:
        amp = h[_CEIL]
    ok = allowed[h[_STATE]]
    h[_NOM] = amp
    h[_NOM_GATE] = 1 if sgate != 0 and ok != 0 else 0
    if w[_W_OUT] < amp:
        amp = w[_W_OUT]
    gate = 0
    if w[_W_OUT_GATE] != 0 and ok != 0:
        gate = 1
        if trg is not _NO_TRIGGER and not trg.open:
            gate = 0
    # 7. Order matters: amplitude before gate-on, gate-off before amplitude changes.
    #    (_set_amp inline, and the gate's call only for a change: a call costs ~10 us on
    #    the rp2 port.)
    if gate == 0 and h[_GATE] != 0:
        set_gate(self, False)
    old = h[_AMP]
    if amp != old:
        self._dac.set_ua(amp)
        h[_PREV_AMP] = old
        h[_AMP] = amp
        if old > h[_HELD_HI]:
            h[_HELD_HI] = old  # the hold may show it for a window yet (ticklook.monitor)
    if gate != 0 and h[_GATE] == 0:
        set_gate(self, True)
    h[_WORK] = due


@micropython.native  # machine code (mpy-cross -march): the hot path
def set_amp(self, amp):
    h = self._hot
    old = h[_AMP]
    if amp != old:
        self._dac.set_ua(amp)
        h[_PREV_AMP] = old
        h[_AMP] = amp
        if old > h[_HELD_HI]:
            h[_HELD_HI] = old  # the hold may show it for a window yet (ticklook.monitor)


@micropython.native  # machine code (mpy-cross -march): the hot path
def set_gate(self, on):
    h = self._hot
    if (1 if on else 0) != h[_GATE]:
        self._engine.gate(on)
        h[_GATE] = 1 if on else 0
        if on:
            h[_GATE_MS] = self._io[_IO_NOW]  # the tick's time (the poll's): the fast edge's too
        mk = self._marker
        if mk is not None and self._trg is None:
            mk.value(1 if on else 0)  # scheduled trains: the marker is the train


@micropython.native  # machine code (mpy-cross -march): the hot path
def output_off(self):
    # Normal end: close the gate (the pulse in flight finishes balanced), then 0 uA.
    set_gate(self, False)  # an untriggered protocol's marker falls with the gate
    set_amp(self, 0)
    h = self._hot
    h[_NOM] = 0
    h[_NOM_GATE] = 0
    trg = self._trg
    if trg is not None:
        trg.off()
