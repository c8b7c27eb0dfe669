# Pure timing: protocol -> phase and amplitude at elapsed time t (ms since start).
# Integer-only and allocation-free in eval(): the control tick calls it.
# Longer than ~300 lines on purpose: the tick's eval (viper over the schedule's words) and the
# closed-form figures (gate windows, pulse count, output time) work out the same timeline
# below; kept together so a change to the timeline's rules changes both in one place.
#
# Timeline (elapsed ms):  [0, up) RAMP_UP | [up, down_start) ON/OFF duty cycle |
#                         [down_start, session) RAMP_DOWN | session.. DONE
# Ramps are staircases of n = ceil(target / 0.1 mA) equal-time steps, so no step
# exceeds 0.1 mA; the ramp up starts at 0 uA and reaches the target exactly at `up`,
# the ramp down leaves the target at `down_start` and reaches 0 uA one step before the end.
# A pulse at 0 uA is not a pulse: the gate stays closed while the amplitude is 0 (the first
# step of the ramp up, the last of the ramp down). A ramp down that begins in an OFF phase
# has nothing to ramp down: the session ends without new output (docs/PROTOCOL-FORMAT.md).
# The gate closes one pulse length (rounded up to 1 ms) plus END_GUARD_MS (50 ms) before the
# end, so that the last pulse finishes inside the session even if the tick runs late.
# Trains after the ramp start at the set amplitude: gating never changes the amplitude.
#
# Two answers per eval(): the nominal one (phase, amp_ua, gate: the active arm, which the
# session states and everything the operator sees follow) and the delivered one (out_ua,
# out_gate). They differ only for the blinded sham arm (docs/BLINDING.md): the same ramp
# up, then straight back down over ramp_down_ms of train time in the same staircase (the
# peak held for one step), then 0 uA and the gate closed. Delivered never exceeds nominal.
import sys

import micropython
from micropython import const

from tvns import limits as L
from tvns import session as S
from tvns.ring import array  # (an import of `array` here would search the file system first)
from tvns.safety import END_GUARD_MS

if sys.implementation.name != "micropython":  # the viper cast, for CPython (the host)

    def ptr32(b):
        return memoryview(b).cast("B").cast("i")  # the host's words: 32-bit little-endian


# ptr32 is a builtin of the viper emitter (not a Python name) on a board.
# ruff: noqa: F821

# The words of Schedule.words (array('i')): the protocol's numbers, then the last eval()'s
# answer. Every word the viper eval reads is >= 0 (a 64-bit host runtime's viper reads a
# ptr32 word zero-extended); the answer may hold a negative amplitude only for t < 0, which
# the eval writes and never reads back.
_OUTPUT = const(0)  # 1: pulses (0: the visible sham, 0 uA throughout)
_TARGET = const(1)  # target_ua
_UP = const(2)  # up_ms
_DOWN = const(3)  # down_ms
_SESSION = const(4)  # session_ms
_DS = const(5)  # down_start_ms
_GE = const(6)  # gate_end_ms
_ON = const(7)  # on_ms
_OFF = const(8)  # off_ms
_CYCLE = const(9)  # cycle_ms
_N = const(10)  # n_steps
_LIVE = const(11)  # down_live
_BLIND = const(12)  # blind_sham
PHASE = const(13)  # the answer: phase (a session state)
AMP = const(14)  # amp_ua: the nominal amplitude
GATE = const(15)  # gate: 1 open (nominal)
NEXT = const(16)  # next_ms: elapsed ms at which eval() can next give a different answer
OUT_UA = const(17)  # out_ua: the delivered amplitude (== amp_ua unless blind sham)
OUT_GATE = const(18)  # out_gate: the delivered gate
_WORDS = const(19)
# The session states the answer's phase takes (viper folds only this module's consts)
_RAMP_UP = const(2)
_ON_ = const(3)
_OFF_ = const(4)
_RAMP_DOWN = const(5)
_DONE = const(6)
if (_RAMP_UP, _ON_, _OFF_, _RAMP_DOWN, _DONE) != (S.RAMP_UP, S.ON, S.OFF, S.RAMP_DOWN, S.DONE):
    raise ValueError("schedule's states out of step with session.py")
# The answer's word numbers for the scheduler (a const of another module is not folded):
# it checks them against these (scheduler.py).
ANSWER = (PHASE, AMP, GATE, NEXT, OUT_UA, OUT_GATE, _GE)


def _ceil_div(a, b):
    return -(-a // b)


class _Int:
    """A Schedule attribute whose only home is word i of Schedule.words: the viper eval reads
    and writes the array, the names stay for the readers (the tick reads the words)."""

    def __init__(self, i):
        self.i = i

    def __get__(self, obj, cls):
        return obj.words[self.i]

    def __set__(self, obj, v):
        obj.words[self.i] = v


class _Bool(_Int):
    # (a store is _Int's: True and False are the words 1 and 0; nothing in the firmware
    # stores one after Schedule.__init__, which writes the words themselves)
    def __get__(self, obj, cls):
        return obj.words[self.i] != 0


@micropython.viper
def eval_words(w, t_ms: int):
    """Schedule.eval over its words (the tick calls it with Schedule.words): machine-word
    arithmetic, no attribute access, no allocation. Every product stays below 2**31 for any
    valid protocol (at most 100 steps, 3.6e6 ms): the sham's train-time step, whose product
    with a cycle could pass it, is only formed when it can come before the answer's next_ms.
    A zero divisor raises ZeroDivisionError, as the native code's integer division did."""
    s = ptr32(w)
    n = s[_N]
    sess = s[_SESSION]
    ds = s[_DS]
    up = s[_UP]
    down = s[_DOWN]
    target = s[_TARGET]
    output = s[_OUTPUT]
    gate = 0
    # The nominal answer (the active arm)
    if t_ms >= sess:
        phase = _DONE
        amp = 0
        nxt = sess
    elif t_ms >= ds:
        phase = _RAMP_DOWN
        if down == 0:
            raise ZeroDivisionError
        k = (t_ms - ds) * n // down + 1  # (<= n: t_ms - ds < down)
        if s[_LIVE] == 0:
            k = n  # nothing to ramp down: 0 uA at once
        nxt = ds - (-(k * down) // n)  # + ceil: the next step (at k == n the session's end)
        amp = target * (n - k) // n
        if t_ms >= s[_GE] or amp == 0:
            nxt = sess
        else:
            gate = output
            if nxt > s[_GE]:
                nxt = s[_GE]
    elif t_ms < up:
        if up == 0:
            raise ZeroDivisionError  # (t_ms < 0: never in a session)
        k = t_ms * n // up
        phase = _RAMP_UP
        amp = target * k // n
        if k > 0:
            gate = output  # step 0 is 0 uA: no pulses
        nxt = -(-((k + 1) * up) // n)  # ceil
    else:
        amp = target
        phase = _ON_
        if s[_OFF] == 0:
            nxt = ds
        else:
            c = s[_CYCLE]
            if c == 0:
                raise ZeroDivisionError
            p = (t_ms - up) % c
            if p < s[_ON]:
                nxt = t_ms + s[_ON] - p
            else:
                phase = _OFF_
                nxt = t_ms + c - p
        if nxt > ds:
            nxt = ds
        if phase == _ON_:
            gate = output
    s[PHASE] = phase
    s[AMP] = amp
    s[GATE] = gate
    # The delivered answer: the active arm's, unless the blinded sham's ramp down.
    out = amp
    out_gate = gate
    if s[_BLIND] != 0 and t_ms >= up:
        # The sham's ramp down runs on train time g (ms with the duty cycle ON since the
        # ramp up ended): it pauses through OFF phases, as the pulses do, so consecutive
        # pulses never differ by more than one step. Output ends when g reaches down_ms.
        on = s[_ON]
        c = s[_CYCLE]
        if c == 0:
            raise ZeroDivisionError
        u = t_ms - up
        p = u % c
        g = (u // c) * on + (p if p < on else on)
        if g >= down:
            out = 0
            out_gate = 0
        else:
            k = g * n // down  # step k of n from the peak, each down_ms / n of train time
            a2 = target * (n - k) // n
            if a2 < amp:
                out = a2  # >= target // n >= 1 uA (k < n): a pulse, the gate as it is
            g_next = -(-((k + 1) * down) // n)  # train time of the next step (ceil)
            if on == 0:
                raise ZeroDivisionError
            f = g_next // on
            r = g_next - f * on
            # up + (f - 1) * c is a lower bound of the sham's next step: past nxt, it cannot
            # come first (and f * c, which could pass 2**31, is not formed)
            if f - 1 <= (nxt - up) // c:
                if r != 0 or f == 0:
                    n2 = up + f * c + r
                else:
                    n2 = up + (f - 1) * c + on
                if n2 < nxt:
                    nxt = n2
    s[NEXT] = nxt
    s[OUT_UA] = out
    s[OUT_GATE] = out_gate


class Schedule:
    # The protocol's numbers and the last eval()'s answer, each a word of self.words (the
    # tick's viper eval works on the array; these names are for every other reader, and a
    # test may set one: the eval then sees it).
    output = _Bool(_OUTPUT)
    target_ua = _Int(_TARGET)
    up_ms = _Int(_UP)
    down_ms = _Int(_DOWN)
    session_ms = _Int(_SESSION)
    down_start_ms = _Int(_DS)
    gate_end_ms = _Int(_GE)
    on_ms = _Int(_ON)
    off_ms = _Int(_OFF)
    cycle_ms = _Int(_CYCLE)
    n_steps = _Int(_N)
    down_live = _Bool(_LIVE)
    blind_sham = _Bool(_BLIND)
    phase = _Int(PHASE)
    amp_ua = _Int(AMP)
    gate = _Bool(GATE)
    next_ms = _Int(NEXT)
    out_ua = _Int(OUT_UA)
    out_gate = _Bool(OUT_GATE)

    def __init__(self, p, blind_sham=False):
        """blind_sham: the blinded sham arm (p.blinded with the investigator's allocation
        "sham"). The visible `sham: true` protocol is a different thing: 0 uA throughout.
        The words written straight into the array (a store through a descriptor is a call:
        `load`'s time on the rp2 port, docs/SPEED.md)."""
        w = array("i", bytes(4 * _WORDS))
        self.words = w
        w[_OUTPUT] = 0 if p.sham else 1  # sham: the same states and timing, no pulses, 0 uA
        w[_TARGET] = 0 if p.sham else p.amplitude_ua
        w[_UP] = p.ramp_up_ms
        w[_DOWN] = p.ramp_down_ms
        w[_SESSION] = p.session_ms
        w[_DS] = p.session_ms - p.ramp_down_ms
        # The gate closes this early so that the last pulse also ends within the session.
        w[_GE] = gate_end_ms(p)
        w[_ON] = p.on_ms
        w[_OFF] = p.off_ms
        w[_CYCLE] = p.on_ms + p.off_ms
        w[_N] = steps(p)
        # A ramp down that begins in an OFF phase delivers nothing (see above).
        w[_LIVE] = 1 if down_live(p) else 0
        w[_BLIND] = 1 if blind_sham else 0
        # The answer before any eval(): RAMP_UP, 0 uA, gate closed, next_ms 0.
        w[PHASE] = _RAMP_UP

    def eval(self, t_ms):
        """The phase and amplitude at elapsed ms t_ms into the answer's words (and names)."""
        eval_words(self.words, t_ms)


def steps(p):
    """Equal-time steps of a ramp: ceil(amplitude / 0.1 mA), at least 1."""
    return max(_ceil_div(p.amplitude_ua, L.RAMP_STEP_MAX_UA), 1)


def down_live(p):
    """Does the ramp down deliver pulses? Only when it begins in an ON phase (or the duty
    cycle is continuous, or there is none): one that begins in OFF ends the session quietly."""
    if p.off_ms == 0:
        return True
    return (p.session_ms - p.ramp_down_ms - p.ramp_up_ms) % (p.on_ms + p.off_ms) < p.on_ms


def gate_end_ms(p):
    """The gate closes here: one whole pulse plus the late-tick guard before the end, so the
    last pulse ends inside the session even when the tick runs up to END_GUARD_MS late."""
    return p.session_ms - _ceil_div(2 * p.width_us + p.gap_us, 1000) - END_GUARD_MS


class _Plan:
    """The gate-on windows of a protocol as a handful of numbers (O(1) memory, whatever the
    number of trains). Window j < J is train j: window 0 starts at the ramp up's first
    non-zero step (the ramp up runs straight into the first train); the last train runs on
    through a live ramp down when it reaches it. A live ramp down that starts a new ON phase
    after the last train's OFF is a window of its own (j = J). No duty cycle (J = 0): one
    window through both ramps."""

    def __init__(self, p):
        n = steps(p)
        up = p.ramp_up_ms
        ds = p.session_ms - p.ramp_down_ms
        self.start_ms = _ceil_div(up, n)  # the ramp up's first non-zero step
        self.up_ms = up
        self.down_start_ms = ds
        self.on_ms = p.on_ms
        self.cycle_ms = p.on_ms + p.off_ms
        if p.off_ms == 0:
            self.trains = 0  # no duty cycle: window 0 runs through both ramps
        else:
            self.trains = _ceil_div(ds - up, self.cycle_ms)
        self.live = down_live(p)
        # The ramp down's pulses: while its step is above 0 uA and before the gate's end
        # (none when it is not live: the last train then ends at its start).
        end = ds
        if self.live:
            end = min(ds + _ceil_div((n - 1) * p.ramp_down_ms, n), gate_end_ms(p))
        self.down_end_ms = end
        self.count = self.trains if self.trains else 1
        if self.trains and (ds - up) % self.cycle_ms == 0:
            # The ramp down begins a new ON phase (so it is live): a window of its own. (Live
            # otherwise, it begins inside the last train, which runs on through it.)
            self.count += 1

    def window(self, j):
        """[start, end) ms of window j, 0 <= j < count (end <= start: empty)."""
        if j >= self.trains:  # the ramp down on its own (or, with no trains, both ramps)
            a = self.start_ms if j == 0 else self.down_start_ms
            return a, self.down_end_ms
        s = self.up_ms + j * self.cycle_ms
        b = s + self.on_ms
        if b >= self.down_start_ms:
            b = self.down_end_ms  # (down_start_ms when the ramp down is not live)
        return (self.start_ms if j == 0 else s), b


def gate_windows_ms(p):
    """The [start, end) ms windows with the gate on, adjacent ones merged, in order. A
    generator (host tools and tests): nothing is built, whatever the number of trains."""
    if p.sham:
        return
    plan = _Plan(p)
    for j in range(plan.count):
        a, b = plan.window(j)
        if b > a:
            yield a, b


def _window(a_ms, b_ms, period_us, free_us):
    """Pulses in one gate window: the first at gate-on or, if the engine's period has not
    ended yet, when it ends; then one per period while the gate is on. -> (pulses, free)."""
    first = max(a_ms * 1000, free_us)
    end = b_ms * 1000
    if end <= first:
        return 0, free_us
    c = _ceil_div(end - first, period_us)
    return c, first + c * period_us


def _whole_trains(count, d_us, on_us, period_us, cycle_us):
    """Pulses in `count` whole trains, the first starting its pulses d_us after it opens.
    A train's offset follows from the one before (the engine waits out its period after the
    gate closes), so the offsets run in a cycle: walk it once, then jump over the repeats.
    -> (pulses, offset of the next train)."""
    total = 0
    j = 0
    mark_j, mark_d, mark_total = 0, d_us, 0
    while j < count:
        if j > mark_j and d_us == mark_d:
            # (after a jump fewer than `span` trains are left: it never comes back here)
            span = j - mark_j
            reps = (count - j) // span
            j += reps * span
            total += reps * (total - mark_total)
            if j >= count:
                break
        elif d_us == 0 and mark_d != 0:
            mark_j, mark_d, mark_total = j, 0, total  # from 0 the offsets always cycle
        m = max(_ceil_div(on_us - d_us, period_us), 0)  # (none when d_us >= on_us)
        total += m
        d_us = max(d_us + m * period_us - cycle_us, 0)
        j += 1
    return total, d_us


def pulse_count(p, plan=None):
    """Pulses the engine delivers over the session (closed form, O(1) memory): a pulse
    starts at gate-on, then every period while the gate stays on; after the gate closes, the
    next pulse waits for the period to end. plan: _Plan(p) when the caller has it."""
    if p.sham:
        return 0
    if plan is None:
        plan = _Plan(p)
    period = p.period_us
    n, free = _window(*plan.window(0), period, 0)
    # Whole trains 1 .. J-2 in one walk, train 1's first pulse waiting out window 0's last
    # period; none when J <= 2 (free then only moves up to train 1's start, where a window 1
    # starts: train 1, or the ramp down's own window right after one train).
    a1 = (plan.up_ms + plan.cycle_ms) * 1000
    on_us = plan.on_ms * 1000
    m, d = _whole_trains(plan.trains - 2, max(free - a1, 0), on_us, period, plan.cycle_ms * 1000)
    n += m
    last = max(plan.trains - 1, 1)  # then window by window: the last train, the ramp down's own
    free = (plan.up_ms + last * plan.cycle_ms) * 1000 + d
    for j in range(last, plan.count):
        c, free = _window(*plan.window(j), period, free)
        n += c
    return n


def output_ms(p, plan=None):
    """Time with the gate on over the session, in ms (closed form). plan: as pulse_count's."""
    if p.sham:
        return 0
    if plan is None:
        plan = _Plan(p)
    # Whole trains 1 .. J-2: on_ms each (they end before the ramp down); the others by window
    total = max(plan.trains - 2, 0) * plan.on_ms
    j = 0
    while j < plan.count:
        a, b = plan.window(j)
        total += max(b - a, 0)
        j = j + 1 if j else max(plan.trains - 1, 1)  # (window 0, then past the whole trains)
    return total
