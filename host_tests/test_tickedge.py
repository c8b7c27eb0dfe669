"""The fast edge (tvns/tickedge.py: a schedule's deadline, a stop's ramp and its end done in
the timer's callback over arrays) does exactly what the full path (Scheduler._look: the step,
tvns/tickstep.py) does: generated sessions (ramps, duty cycles, continuous trains, the
visible and the blinded sham, ceilings below the protocol, a DAC that refuses, stops, keep-
alive losses, late ticks, the ms wrap, readings past each monitor's threshold, hot words set
to states no session reaches) run on two schedulers, one with the edge and one with the full
path alone, and after every event the hot words, the schedule's words, the session's state
and ring, the fault latch and the commands to the DAC, the engine and the marker (in their
order) are the same (mp_tickedge.py judges each session). On CPython and both MicroPython
runtimes (the viper machine code; the edge's ticks under heap_lock there).
The chip's own copy (board/rp2_fast.py, registers) against this edge: test_tickedge_rp2.py."""

import random

import mp_tickedge
import pytest
import test_tickfast
from test_numerics import mp_batch
from tiers import require
from tvns import scheduler as SC
from tvns import tickedge as TE
from tvns_tools.firmware import micropython_binary, numerics_binary

_MASK = 0x3FFFFFFF
# hot words a case may set (tvns/tickedge.py LAYOUT): amplitudes, the amplitude rules' memory,
# the hold, the gate's time, the stop's time and amplitude
_WORDS = {
    "amp": TE.LAYOUT[8],
    "prev_amp": TE.LAYOUT[9],
    "held_hi": TE.LAYOUT[6],
    "gate_ms": TE.LAYOUT[15],
    "nom": TE.LAYOUT[33],
    "nom_gate": TE.LAYOUT[34],
    "last_up": TE.LAYOUT[35],
    "up_from": TE.LAYOUT[36],
    "stop_at": TE.LAYOUT[40],
    "stop_from": TE.LAYOUT[41],
}


def _protocol(rnd):
    amp = rnd.choice((100, 200, 1000, 2000, 3500, rnd.randint(1, 4000)))
    period = rnd.choice((1000, 10000, 40000, 100000, rnd.randint(1000, 200000)))
    up = rnd.choice((0, 100, 400, 1000, rnd.randint(0, 1500)))
    down = rnd.choice((0, 100, 300, 1000, rnd.randint(0, 1500)))
    if rnd.random() < 0.3:
        on, off = rnd.randint(20, 400), 0
    else:
        on, off = rnd.choice(((100, 100), (300, 200), (rnd.randint(10, 500), rnd.randint(10, 500))))
    session = up + down + rnd.choice((on + off, 2 * (on + off), rnd.randint(200, 3000)))
    return {
        "amp": amp,
        "width": rnd.choice((100, 200, 1000)),
        "period": period,
        "on": on,
        "off": off,
        "up": up,
        "down": down,
        "session": session,
        "sham": rnd.random() < 0.05,
        "blind": rnd.random() < 0.2,
        "ka": rnd.choice((0, 0, 300, 1000)),
    }


def _case(rnd):
    c = _protocol(rnd)
    c["ceiling"] = rnd.choice((8000, 8000, 8000, max(1, c["amp"] * 2 // 3), max(1, c["amp"] - 1)))
    c["dac_ceiling"] = rnd.choice((8000,) * 9 + (max(0, c["amp"] // 2),))
    c["marker"] = rnd.random() < 0.6
    c["fed"] = rnd.choice((40, 40, 1, rnd.randint(1, 1000)))
    c["pending"] = rnd.choice((-1, -1, 0))
    c["t0"] = rnd.choice((0, 1000, _MASK - rnd.randint(0, 3000), rnd.randint(0, _MASK)))
    events = []
    stop_at = rnd.randint(0, 300) if rnd.random() < 0.6 else -1
    ping = c["ka"] and rnd.random() < 0.8
    faults = rnd.random() < 0.3
    odd = rnd.random() < 0.3
    t = 0
    while t < c["session"] + 200 and len(events) < 700:
        dt = rnd.choice((1, 1, 1, 2, 3, 5, 10, 10, 17, 40, rnd.randint(1, 120)))
        t += dt
        mode = 0
        if faults and rnd.random() < 0.01:
            mode = rnd.randint(1, 5)
        noise = rnd.choice((0, 0, rnd.randint(-30, 30)))
        events.append([0, dt, mode, noise, rnd.choice((0, 1, 3))])
        if len(events) == stop_at:
            events.append([1])
        if ping and rnd.random() < 0.2:
            events.append([2])
        if odd and rnd.random() < 0.02:
            name = rnd.choice(sorted(_WORDS))
            value = rnd.choice((0, 1, 100, 900, rnd.randint(0, 5000)))
            if name == "last_up":
                value = rnd.randint(-200, 5000)
            elif name == "gate_ms":
                value = rnd.randint(0, _MASK)
            events.append([3, _WORDS[name], value])
        if rnd.random() < 0.01:
            events.append([4, rnd.choice((-1, 0, 1234))])
    c["events"] = events
    if rnd.random() < 0.3:  # the ring (64 entries) one to three short of full: it overflows
        head = rnd.randint(0, 127)
        c["ring"] = [head, (head - rnd.randint(61, 64)) % 128, rnd.choice((0, _MASK - 1, _MASK))]
    return c


def _cases(seed, n):
    rnd = random.Random(seed)
    return [_case(rnd) for _ in range(n)]


def _check(got):
    bad = [g for g in got if g[0] != "ok"]
    assert not bad, bad[:2]
    total = [sum(g[i] for g in got) for i in range(1, 8)]
    ones, zeros, dac, gate, state, stopped, faulted = total
    # every kind of edge ran often enough that a difference would have shown
    assert ones > 1200 and dac > 500 and gate > 100 and state > 100 and stopped > 15, total
    assert faulted > 3 and faulted < len(got) // 2, total  # faults too, not every run
    return total


def test_the_fast_edge_does_what_the_full_path_does_on_cpython():
    cases = _cases(9, 120)
    _check([mp_tickedge.judge(c) for c in cases])


@pytest.mark.parametrize("which", ["pypi", "numerics"])
def test_the_fast_edge_does_what_the_full_path_does_on_micropython(which, tmp_path):
    """The viper machine code (and the edge's ticks under heap_lock), on cases of its own,
    and the same answers as CPython gives for them."""
    runtime = micropython_binary() if which == "pypi" else require(numerics_binary(), "numerics")
    cases = _cases(10 + (which == "pypi"), 120)
    got = mp_batch(runtime, cases, tmp_path, "mp_tickedge.py")
    assert len(got) == len(cases)
    _check(got)
    assert got == [mp_tickedge.judge(c) for c in cases]


def test_the_edge_refuses_states_no_session_reaches():
    """The edge answers 0 (the full path runs) with nothing changed for what it does not do:
    no schedule loaded, a session time before the start, a stop time out of range."""
    from array import array

    from tvns import session as S

    s = S.Session()
    ctx = SC.edge_context(s)
    hot = array("i", bytes(4 * 31))
    io = array("i", bytes(4 * 7))
    assert TE.edge(hot, io, ctx) == 0  # no schedule
    ctx[SC.EDGE_WORDS] = array("i", bytes(4 * 19))
    io[6] = 100
    hot[0] = 101  # t0 after now: t = -1
    assert TE.edge(hot, io, ctx) == 0
    hot[0] = 0
    hot[28] = 1  # stopping, from a stop time no session time can be
    for at in (-1, 0x20000000):
        hot[29] = at
        before = list(hot)
        assert TE.edge(hot, io, ctx) == 0 and list(hot) == before


# ---- the chip's own copy (board/rp2_fast.py: the edge inline, registers) ----
def _rp2_edge_case(rnd):
    """A hot state, the board's words and registers (test_tickfast's) with a protocol's
    schedule, the session at a time within it, the deadline mostly due, the step's and the
    stop's words, the DAC's calibration and the gate's and the marker's pins."""
    c = test_tickfast._rp2_case(rnd)
    p = _protocol(rnd)
    c.update(p)
    hot = c["hot"]
    us = (c["TMH"] << 32) + (c["TML"] & 0xFFFFFFFF)
    now = (us // 1000) & _MASK
    t = rnd.choice((0, rnd.randint(0, p["session"] + 60), p["session"], p["up"], p["up"] - 1))
    t = max(-2, t) if rnd.random() < 0.98 else -rnd.randint(1, 5)
    hot[_T0_I] = (now - t) & _MASK
    hot[3] = p["session"] + 50  # cap
    if rnd.random() < 0.85:
        hot[1] = (now - rnd.choice((0, 0, 1, 5, rnd.randint(0, 200)))) & _MASK  # due
    if rnd.random() < 0.9:
        hot[19] = 0  # no trigger
    period = (p["period"] + 999) // 1000
    amp = hot[8]
    nom = rnd.choice((amp, amp, rnd.randint(0, 4000)))
    stop_req = 1 if rnd.random() < 0.25 else 0
    stopping = stop_req if rnd.random() < 0.7 else 0
    stop_at = max(0, t - rnd.choice((0, 5, 10, 11, 25, rnd.randint(0, 500))))
    if rnd.random() < 0.03:
        stop_at = rnd.choice((-1, 0x20000000, _MASK))
    hot += [
        nom,
        rnd.choice((1, 1, 0)),  # nom_gate
        rnd.choice((-period, t - rnd.randint(0, 2 * period + 2), rnd.randint(-100, 5000))),
        rnd.choice((0, max(0, nom - 100), rnd.randint(0, 4000))),  # up_from
        period,
        stop_req,
        stopping,
        stop_at,
        rnd.choice((nom, rnd.randint(0, 4000))),  # stop_from
    ]
    size = 64
    head = rnd.randint(0, 2 * size - 1)
    tail = rnd.choice((head, (head - rnd.randint(0, size)) % (2 * size)))
    c["ring"] = [head, tail, rnd.choice((0, _MASK - 1, _MASK)), size, 2 * size]
    c["has_words"] = rnd.random() < 0.97
    c["addresses"] = rnd.random() < 0.98
    # a schedule word eval_words divides by set to 0 (down, on, cycle, steps): no edge
    c["zero"] = rnd.choice((-1,) * 30 + (3, 7, 9, 10))
    c["GIN"] = c["GIN"] | (rnd.randint(0, 1) << 4)  # SYNC either way
    c["DAC_FS"], c["DAC_OFF"], c["DAC_MAX"], c["TOP1"] = rnd.choice(
        ((10000, -50, 65535, 4167), (5000, 500, 65535, 65536), (12000, 0, 4095, 16384))
    )
    # (a ceiling one below a setpoint the edge may ask for: the refusal's edge)
    near = (p["amp"] - 1, nom - 1, nom + _STEP - 1, hot[8] - 1)
    c["DAC_CEIL"] = max(0, rnd.choice((8000, 8000, 8000, rnd.randint(0, 4000)) + near))
    c["DAC_UA"] = rnd.randint(0, 4000)
    c["GATE_ON"] = hot[14]
    c["HELD"] = rnd.choice((0,) * 9 + (1,))
    c["GATE_BIT"] = 6
    c["MARKER_BIT"] = rnd.choice((11, 11, -1))
    c["SET"] = c["CLR"] = 0
    return c


_T0_I = TE.LAYOUT[0]
_STEP = TE.LAYOUT[42]  # limits.RAMP_STEP_MAX_UA


def test_the_chips_inline_edge_is_the_fast_edge_with_its_registers(tmp_path):
    """board/rp2_fast.callback (the edge inline, its DAC, gate and marker as register writes)
    leaves the same hot state, io array, ring, schedule words and registers as
    tickfast.callback with tickedge.edge and the chip's own DAC and gate functions, calls look
    and the latch where it does, under heap_lock (32-bit MicroPython)."""
    runtime = require(numerics_binary(), "numerics")
    rnd = random.Random(1814)
    cases = [_rp2_edge_case(rnd) for _ in range(4000)]
    got = mp_batch(runtime, cases, tmp_path, "mp_tickedge_rp2.py")
    assert len(got) == len(cases)
    bad = [(c, g) for c, g in zip(cases, got) if g[1] != "ok"]
    assert not bad, bad[:2]
    answers = [sum(1 for g in got if g[0] == a) for a in (0, 1, 2)]
    moved = [sum(g[i] for g in got if g[0] == 1) for i in (2, 3, 4)]
    # look, the chip's own tick and the latch all seen; the edge changed states, setpoints, gates
    assert answers[0] > 400 and answers[1] > 1500 and answers[2] > 5, answers
    assert moved[0] > 200 and moved[1] > 300 and moved[2] > 200, moved


def test_a_load_gives_the_edge_the_new_schedules_words():
    """The edge reads the schedule's words from its context, which the Scheduler's sched
    property writes on every load and use_arm: never an old schedule's (the same session
    run after a second load follows the second protocol, edge and full path alike)."""
    case = _cases(3, 1)[0]
    board, s, sch = mp_tickedge._build(case, True)
    first = sch.sched.words
    assert sch._edge[SC.EDGE_WORDS] is first
    p = mp_tickedge.P(dict(case, amp=case["amp"] // 2 + 1, session=case["session"] + 500))
    sch.load(p)
    assert sch._edge[SC.EDGE_WORDS] is sch.sched.words is not first
    sch.use_arm(True)
    assert sch._edge[SC.EDGE_WORDS] is sch.sched.words
    sch.sched = None
    assert sch._edge[SC.EDGE_WORDS] is None
    # a session after a reload, with the edge and without: the same
    second = dict(case, amp=case["amp"] // 2 + 1, session=case["session"] + 500, blind=False)
    got = mp_tickedge.judge(dict(second, reload=case))
    assert got[0] == "ok" and got[1] > 10, got


def test_the_edge_does_the_tick_at_every_edge_of_what_it_refuses():
    """The other side of each refusal (test_the_edge_refuses_states_no_session_reaches):
    the edge answers 1 at the session's first millisecond, for a stop at session time 0 or
    2**29 - 1, for a stop time it does not read (no stop under way), and with every divisor
    of the schedule at 1; it answers 0 with nothing changed for each divisor at 0 (eval would
    divide by it: on the chip nothing may raise in the IRQ). Kills the boundary mutants of
    the refusals that the generated sessions never reach (make mutation's CPython set)."""
    from array import array

    case = dict(_cases(3, 1)[0], session=2000, up=100, down=100, on=100, off=100)

    def fresh(t, stopping=0, at=0):
        board, s, sch = mp_tickedge._build(case, True)
        s.fire(2, 0)  # START: a running state
        hot, io, ctx = sch._hot, sch._io, sch._edge
        io[6] = (hot[0] + t) & _MASK
        hot[28] = stopping
        hot[29] = at
        hot[30] = 500
        hot[27] = stopping
        return hot, io, ctx

    assert TE.edge(*fresh(0)) == 1  # t == 0: the session's first millisecond
    assert TE.edge(*fresh(5, 1, 0)) == 1  # a stop at session time 0
    assert TE.edge(*fresh(5, 1, 0x1FFFFFFF)) == 1  # the last time a stop may be
    assert TE.edge(*fresh(5, 0, -1)) == 1  # no stop: its time is not read
    for at in (-1, 0x20000000):  # a stop under way from a time no session time can be
        hot, io, ctx = fresh(5, 1, at)
        before = list(hot)
        assert TE.edge(hot, io, ctx) == 0 and list(hot) == before, at
    words = fresh(5)[2][SC.EDGE_WORDS]
    good = array("i", words)
    for i in (3, 7, 9, 10):  # down, on, cycle, steps at 1: eval divides, the edge runs
        for j in range(len(words)):
            words[j] = good[j]
        words[i] = 1
        hot, io, ctx = fresh(5)
        ctx[SC.EDGE_WORDS] = words
        assert TE.edge(hot, io, ctx) == 1, i
    for i in (7, 9, 10):  # on, cycle, steps at 0: refused, nothing changed
        for j in range(len(words)):
            words[j] = good[j]
        words[i] = 0
        hot, io, ctx = fresh(5)
        ctx[SC.EDGE_WORDS] = words
        before = (list(hot), list(words))
        assert TE.edge(hot, io, ctx) == 0 and (list(hot), list(words)) == before, i
    for j in range(len(words)):
        words[j] = good[j]
    words[3] = 0  # no ramp-down steps while the ramp down lies within the session
    words[5] = words[4] - 1
    hot, io, ctx = fresh(5)
    ctx[SC.EDGE_WORDS] = words
    before = list(hot)
    assert TE.edge(hot, io, ctx) == 0 and list(hot) == before


def test_a_stop_with_the_history_ring_full_loses_the_oldest_entry_as_the_full_path_does():
    """A stop's first step (EV_STOP through the edge's own ring write) while the session's
    history ring is full (the main loop has not drained it) and its lost counter at 0, one
    below and at its cap: the edge and the full path write the same ring, and the edge did
    the stop (the generated sessions seldom land a stop on a full ring)."""
    base = dict(
        _cases(3, 1)[0],
        amp=1000, period=10000, up=50, down=50, on=100, off=100, session=1000,
        sham=False, blind=False, ka=0, ceiling=8000, dac_ceiling=8000, t0=1000,
    )  # fmt: skip
    for stop_after in (20, 70, 170, 230, 890, 930, 960):  # ramp up, train, pause, train, ramp down
        for lost in (0, _MASK - 1, _MASK):
            ticks = [[0, 1, 0, 0, 0]] * stop_after + [[1]] + [[0, 1, 0, 0, 0]] * 150
            case = dict(base, ring=[5, (5 - 64) % 128, lost], events=ticks)
            got = mp_tickedge.judge(case)
            assert got[0] == "ok", (stop_after, lost, got)
            assert got[5] >= 1 and got[6] == 1, (stop_after, lost, got)  # a state change, the end


def test_deadlines_on_the_last_millisecond_before_the_wrap_are_the_full_paths():
    """Sessions placed so that one of their deadlines (a phase's start, a ramp step held a
    period, the dead man's feed) falls on the ms counter's last value (2**30 - 1) or beside
    it: the edge's inline ticks_add (t0 + next, now + wait, now + gap, now + fed) against the
    full path's at the exact wrap, which the generated sessions cross but seldom land on."""
    base = dict(
        _cases(3, 1)[0],
        amp=1000, period=10000, up=50, down=50, on=100, off=100, session=1000,
        sham=False, blind=False, ka=0, ceiling=8000, dac_ceiling=8000, fed=40, pending=-1,
    )  # fmt: skip
    ticks = [[0, 1, 0, 0, 0]] * 400 + [[1]] + [[0, 1, 0, 0, 0]] * 120
    for period in (10000, 25000):
        for d in (10, 11, 20, 40, 50, 51, 150, 250, 350, 370, 390, 401, 411):
            for k in (-1, 0, 1):
                case = dict(base, period=period, t0=(_MASK - d + k) & _MASK, events=ticks)
                got = mp_tickedge.judge(case)
                assert got[0] == "ok" and got[1] > 10, (period, d, k, got)
