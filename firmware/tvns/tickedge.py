# Longer than ~300 lines on purpose: the edge is one viper function (a call split out of it
# costs ~10 us a tick on the rp2 port) and the numbers it folds are its own consts.
# The fast edge (docs/SPEED.md "The fast edge"): a running tick whose only work is the
# schedule's (its deadline due, every monitor clean, no trigger protocol), done in the timer's
# callback over arrays instead of the full path (Scheduler._look -> _step: a dozen calls and
# lookups, ~170-250 us on the rp2 port). edge() is the step's schedule work word for word
# (tvns/tickstep.py step: the stop's start and ramp, the phase event, output_off, the
# amplitude rules, the DAC and the gate in the same order), then the full path's tail
# (tvns/ticklook.py look: the DAC's pending level and the dead man's feed, the due time).
# Its few objects (the schedule's words, the session's ring, the calls) come from one list,
# the context, built once per Scheduler (scheduler.py edge_context, edge_bind); the schedule's
# words are put in it by the Scheduler's sched property on every load, so no old schedule's
# words are kept. Imported only by a Scheduler whose board asks for this edge without its
# own callback (the chip has its own copy: this module's machine code stays out of its heap).
#
# tvns/tickfast.callback calls edge() (handed to it in its parts) when tickfast.run answers
# 2 ("clean, the schedule due") on a board whose tick I/O asks for it (fast_edge); the rp2
# chip's callback (board/rp2_fast.py) has the same code inline, with the DAC, the gate and
# the marker as register writes. edge() answers 1 when it did the tick, 0 when the full path
# must: then nothing was changed (only states no running session reaches: a negative session
# time, a stop time out of a session's range, a phase the table has no event for, schedule
# words the eval would divide by zero with).
# Proved against the full path (same hot words, schedule words, session state, ring, DAC and
# gate commands in the same order) on CPython and both MicroPython runtimes:
# host_tests/test_tickedge.py; the chip's inline copy against this: mp_tickedge_rp2.py.
import sys

import micropython
from micropython import const

from tvns import session as S

if sys.implementation.name != "micropython":  # the viper casts, for CPython (the host)

    def ptr32(b):
        if isinstance(b, list):  # a test's board may hand the tick a list (test_tick_mutants)
            return b
        return memoryview(b).cast("B").cast("i")

    def ptr8(b):
        return b


# ptr32/ptr8 are builtins of the viper emitter (not Python names) on a board.
# ruff: noqa: F821

# The hot state's words (tvns/tickfast.py, then the step's: tvns/tickstep.py), in its LAYOUT's
# order (LAYOUT below: the Scheduler refuses to build when they disagree)
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
_NOM = const(22)
_NOM_GATE = const(23)
_LAST_UP = const(24)
_UP_FROM = const(25)
_UP_GAP = const(26)
_STOP_REQ = const(27)
_STOPPING = const(28)
_STOP_AT = const(29)
_STOP_FROM = const(30)
_STEP_UA = const(100)  # limits.RAMP_STEP_MAX_UA
_STOP_STEP_MS = const(10)  # limits.STOP_RAMP_STEP_MS
LAYOUT = (_T0, _WORK, _ELAPSED, _CAP, _HELD_WIN, _HELD_SINCE, _HELD_HI, _HELD_PREV, _AMP,
          _PREV_AMP, _CEIL, _MARGIN, _KA, _HOST, _GATE, _GATE_MS, _PERIOD, _FEED, _DUE, _TRIG,
          _BEATS, _WORDS, _IO_KILL, _IO_ESTOP, _IO_UA, _IO_COMP, _IO_SENSE, _IO_NOW,
          _FLOOR_UA, _LEAD_OFF_MIN_UA, _STATE, _IO_PENDING, _RUN_BITS, _NOM, _NOM_GATE,
          _LAST_UP, _UP_FROM, _UP_GAP, _STOP_REQ, _STOPPING, _STOP_AT, _STOP_FROM, _STEP_UA,
          _STOP_STEP_MS)  # fmt: skip
_MASK = const(0x3FFFFFFF)
_HALF = const(0x20000000)
# The schedule's answer in its words (tvns/schedule.py ANSWER), the states and events it names
_W_PHASE = const(13)
_W_AMP = const(14)
_W_GATE = const(15)
_W_NEXT = const(16)
_W_OUT = const(17)
_W_OUT_GATE = const(18)
_W_GE = const(6)
_W_DOWN = const(3)  # the protocol's words eval_words divides by (tvns/schedule.py)
_W_SESSION = const(4)
_W_DS = const(5)
_W_ON = const(7)
_W_CYCLE = const(9)
_W_N = const(10)
_RAMP_DOWN = const(5)
_DONE = const(6)
_EV_STOP = const(7)
_EV_STOPPED = const(8)
_N_EVENTS = const(12)
_NO_EVENT = const(255)
# The tables' bytes (scheduler.py EDGE_TABLES: the session's three tables in one bytes, one
# load in the tick): the event for each phase, OUTPUT_ALLOWED from here, the TABLE from here
_TB_ALLOWED = const(9)
_TB_TABLE = const(18)
# The ring's words (tvns/ring.py)
_R_HEAD = const(0)
_R_TAIL = const(1)
_R_LOST = const(2)
_R_SIZE = const(3)
_R_SPAN = const(4)
_R_T = const(5)
_WRAP = const(0x3FFFFFFF)
# The context's slots (a list: the Scheduler's _edge, scheduler.py edge_context: its EDGE_SLOTS
# are checked against CTX below when a Scheduler takes this edge)
CTX_WORDS = const(0)  # the loaded schedule's words (Schedule.words), None without one
_CTX_RING_W = const(1)
_CTX_RING_K = const(2)
_CTX_TABLES = const(3)
_CTX_EVAL = const(4)  # the schedule's eval (tvns/tickstep.py _eval: schedule.eval_words)
_CTX_LATCH = const(5)  # the tick's exception latch (Scheduler._exception)
_CTX_DAC = const(6)
_CTX_ENGINE = const(7)
_CTX_MARKER = const(8)  # the marker pin (scheduled trains), None without one
_CTX_FINISH = const(9)  # the board's finish (tvns/tickio.py)
_CTX_PUT = const(10)  # the ring's put, bound (for a caller that puts an entry by a call)
_CTX_NONE = const(11)  # None, always (board/rp2_fast.py compares with it: no global read)
_CTX_SLOTS = const(12)
# The slots in one constant, for board/rp2_fast.py to check its numbers against
CTX = (CTX_WORDS, _CTX_RING_W, _CTX_RING_K, _CTX_TABLES, _CTX_EVAL, _CTX_LATCH, _CTX_DAC,
       _CTX_ENGINE, _CTX_MARKER, _CTX_FINISH, _CTX_PUT, _CTX_NONE, _TB_ALLOWED,
       _TB_TABLE)  # fmt: skip
_NONE = None  # (viper compares an object with an object, not with the literal None)
if (
    _W_PHASE,
    _W_AMP,
    _W_GATE,
    _W_NEXT,
    _W_OUT,
    _W_OUT_GATE,
    _W_GE,
    _RAMP_DOWN,
    _DONE,
    _EV_STOP,
    _EV_STOPPED,
    _N_EVENTS,
    _NO_EVENT,
    len(S.EVENT_FOR_PHASE),
    len(S.OUTPUT_ALLOWED),
) != (13, 14, 15, 16, 17, 18, 6, S.RAMP_DOWN, S.DONE, S.EV_STOP, S.EV_STOPPED, S.N_EVENTS,
      S.NO_EVENT, _TB_ALLOWED, _TB_TABLE - _TB_ALLOWED):  # fmt: skip
    raise ValueError("tickedge's numbers out of step with session.py")


@micropython.viper
def edge(hot, io, ctx) -> int:
    """The running tick when tickfast.run answered 2 (every monitor clean on this tick's
    sample, the hold window rolled, the schedule's deadline due, no trigger protocol): the
    step's work (tvns/tickstep.py step after its monitors) and the full path's tail, or 0
    (nothing changed: the full path runs) for a state no running session reaches. An
    exception (the DAC's refusal) leaves what the step would have changed by then: the
    caller's latch, as look's."""
    ws = ctx[CTX_WORDS]
    if ws is _NONE:
        return 0
    h = ptr32(hot)
    o = ptr32(io)
    now = o[_IO_NOW]
    t = ((now - h[_T0] + _HALF) & _MASK) - _HALF  # ticks_diff (MicroPython's, branch-free)
    if t < 0:
        return 0  # (before the session's start: only a trigger's start mode, not here)
    stopping = h[_STOPPING]
    at = h[_STOP_AT]
    if stopping != 0 and (at < 0 or at >= _HALF):
        return 0  # (a stop time no session time can be: the full path's signed read)
    w = ptr32(ws)
    # eval_words raises on a zero divisor only, in words no loaded protocol has: the full path
    # runs those (into its latch), so that the chip's copy never raises in its hard IRQ
    if w[_W_N] <= 0 or w[_W_CYCLE] <= 0 or w[_W_ON] <= 0:
        return 0
    if w[_W_DOWN] <= 0 and w[_W_DS] < w[_W_SESSION]:
        return 0
    tb = ptr8(ctx[_CTX_TABLES])
    rw = ptr32(ctx[_CTX_RING_W])
    rk = ptr8(ctx[_CTX_RING_K])
    evaluate = ctx[_CTX_EVAL]
    dac = ctx[_CTX_DAC]
    engine = ctx[_CTX_ENGINE]
    marker = ctx[_CTX_MARKER]
    h[_ELAPSED] = t
    while True:  # one pass; "break": the step is done, the full path's tail follows
        # ---- 4. the stop: its start (EV_STOP), then one step of its ramp down ----
        if h[_STOP_REQ] != 0 and stopping == 0:
            stopping = 1
            h[_STOPPING] = 1
            at = t
            h[_STOP_AT] = t
            h[_STOP_FROM] = h[_NOM]
            st = h[_STATE]  # Session.fire(EV_STOP, t): the table, the state, the ring
            nxt = tb[_TB_TABLE + st * _N_EVENTS + _EV_STOP]
            if nxt != _NO_EVENT and nxt != st:
                h[_STATE] = nxt
                size = rw[_R_SIZE]
                span = rw[_R_SPAN]
                hd = rw[_R_HEAD]
                i = hd % size
                rw[_R_T + i] = t
                rk[i] = nxt
                hd = (hd + 1) % span
                rw[_R_HEAD] = hd
                if (hd - rw[_R_TAIL]) % span > size:
                    rw[_R_TAIL] = (rw[_R_TAIL] + 1) % span
                    n = rw[_R_LOST]
                    if n < _WRAP:
                        rw[_R_LOST] = n + 1
        if stopping != 0:
            k = (t - at) // _STOP_STEP_MS + 1
            nom = h[_STOP_FROM] - k * _STEP_UA
            evaluate(ws, t)
            if w[_W_PHASE] >= _RAMP_DOWN and w[_W_AMP] < nom:
                nom = w[_W_AMP]
            if nom <= 0 or h[_NOM_GATE] == 0 or tb[_TB_ALLOWED + h[_STATE]] == 0 or t >= w[_W_GE]:
                # output_off: the gate closed (the marker with it), then 0 uA
                if h[_GATE] != 0:
                    engine.gate(False)
                    h[_GATE] = 0
                    if marker is not _NONE:
                        marker.value(0)
                old = h[_AMP]
                if old != 0:
                    dac.set_ua(0)
                    h[_PREV_AMP] = old
                    h[_AMP] = 0
                    if old > h[_HELD_HI]:
                        h[_HELD_HI] = old
                h[_NOM] = 0
                h[_NOM_GATE] = 0
                st = h[_STATE]  # Session.fire(EV_STOPPED, t)
                nxt = tb[_TB_TABLE + st * _N_EVENTS + _EV_STOPPED]
                if nxt != _NO_EVENT and nxt != st:
                    h[_STATE] = nxt
                    size = rw[_R_SIZE]
                    span = rw[_R_SPAN]
                    hd = rw[_R_HEAD]
                    i = hd % size
                    rw[_R_T + i] = t
                    rk[i] = nxt
                    hd = (hd + 1) % span
                    rw[_R_HEAD] = hd
                    if (hd - rw[_R_TAIL]) % span > size:
                        rw[_R_TAIL] = (rw[_R_TAIL] + 1) % span
                        n = rw[_R_LOST]
                        if n < _WRAP:
                            rw[_R_LOST] = n + 1
                break
            h[_NOM] = nom
            old = h[_AMP]
            a = old if old < nom else nom
            if a != old:  # set_amp
                dac.set_ua(a)
                h[_PREV_AMP] = old
                h[_AMP] = a
                if old > h[_HELD_HI]:
                    h[_HELD_HI] = old
            nx = at + k * _STOP_STEP_MS
            if w[_W_NEXT] < nx:
                nx = w[_W_NEXT]
            t0 = h[_T0]  # 0 <= nx < 2**30: ticks_add, inline
            h[_WORK] = t0 + nx if t0 <= _MASK - nx else t0 - (_MASK - nx) - 1
            break
        # ---- 5. where the schedule says the session is now ----
        evaluate(ws, t)
        phase = w[_W_PHASE]
        st = h[_STATE]
        if phase != st:
            e = tb[phase]
            if e == _NO_EVENT:
                return 0  # (the full path's fire of "no event": its error, its latch)
            nxt = tb[_TB_TABLE + st * _N_EVENTS + e]  # Session.fire(e, t)
            if nxt != _NO_EVENT and nxt != st:
                h[_STATE] = nxt
                size = rw[_R_SIZE]
                span = rw[_R_SPAN]
                hd = rw[_R_HEAD]
                i = hd % size
                rw[_R_T + i] = t
                rk[i] = nxt
                hd = (hd + 1) % span
                rw[_R_HEAD] = hd
                if (hd - rw[_R_TAIL]) % span > size:
                    rw[_R_TAIL] = (rw[_R_TAIL] + 1) % span
                    n = rw[_R_LOST]
                    if n < _WRAP:
                        rw[_R_LOST] = n + 1
        if phase == _DONE:  # output_off
            if h[_GATE] != 0:
                engine.gate(False)
                h[_GATE] = 0
                if marker is not _NONE:
                    marker.value(0)
            old = h[_AMP]
            if old != 0:
                dac.set_ua(0)
                h[_PREV_AMP] = old
                h[_AMP] = 0
                if old > h[_HELD_HI]:
                    h[_HELD_HI] = old
            h[_NOM] = 0
            h[_NOM_GATE] = 0
            break
        # ---- 6. the amplitude rules (no trigger: the gate alone holds a ramp) ----
        amp = w[_W_AMP]
        nom = h[_NOM]
        t0 = h[_T0]
        nx = w[_W_NEXT]  # 0 <= nx < 2**30: ticks_add, inline
        due = t0 + nx if t0 <= _MASK - nx else t0 - (_MASK - nx) - 1
        sgate = w[_W_GATE]
        last_up = int(hot[_LAST_UP])  # (-up_gap_ms before the first step: signed)
        gap = h[_UP_GAP]
        if sgate == 0 and nom > h[_UP_FROM] and t - last_up < gap:
            nom = h[_UP_FROM]
        if amp > nom:
            wait = last_up + gap - t
            if sgate == 0:
                amp = nom
            elif wait > 0:
                amp = nom
                if wait < nx - t:
                    due = now + wait if now <= _MASK - wait else now - (_MASK - wait) - 1
            else:
                if amp > nom + _STEP_UA:
                    amp = nom + _STEP_UA
                    if gap < nx - t:
                        due = now + gap if now <= _MASK - gap else now - (_MASK - gap) - 1
                h[_LAST_UP] = t
                h[_UP_FROM] = nom
        if amp > h[_CEIL]:
            amp = h[_CEIL]
        ok = tb[_TB_ALLOWED + h[_STATE]]
        h[_NOM] = amp
        h[_NOM_GATE] = 1 if sgate != 0 and ok != 0 else 0
        if w[_W_OUT] < amp:
            amp = w[_W_OUT]
        gate = 0
        if w[_W_OUT_GATE] != 0 and ok != 0:
            gate = 1
        # ---- 7. amplitude before gate-on, gate-off before amplitude changes ----
        if gate == 0 and h[_GATE] != 0:
            engine.gate(False)
            h[_GATE] = 0
            if marker is not _NONE:
                marker.value(0)
        old = h[_AMP]
        if amp != old:
            dac.set_ua(amp)
            h[_PREV_AMP] = old
            h[_AMP] = amp
            if old > h[_HELD_HI]:
                h[_HELD_HI] = old
        if gate != 0 and h[_GATE] == 0:
            engine.gate(True)
            h[_GATE] = 1
            h[_GATE_MS] = now
            if marker is not _NONE:
                marker.value(1)
        h[_WORK] = due
        break
    # ---- the full path's tail (tvns/ticklook.py look) ----
    if ((_RUN_BITS >> h[_STATE]) & 1) == 0:
        # bit 31: -1 "none pending" whether the host's viper reads the word signed or not
        if ((o[_IO_PENDING] >> 31) & 1) == 0:
            dac.apply()  # a setpoint left pending reaches the DAC
        return 1
    fed = int(ctx[_CTX_FINISH](io))  # a pending setpoint to the DAC, then the dead man fed
    now = o[_IO_NOW]
    f = now + fed if now <= _MASK - fed else now - (_MASK - fed) - 1
    h[_FEED] = f
    wk = h[_WORK]
    d = ((f - wk + _HALF) & _MASK) - _HALF
    h[_DUE] = f if d < 0 else wk
    return 1
