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
from test_numerics import mp_batch
from tiers import require
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
    ctx = TE.context(s)
    hot = array("i", bytes(4 * 31))
    io = array("i", bytes(4 * 7))
    assert TE.edge(hot, io, ctx) == 0  # no schedule
    ctx[TE.CTX_WORDS] = array("i", bytes(4 * 19))
    io[6] = 100
    hot[0] = 101  # t0 after now: t = -1
    assert TE.edge(hot, io, ctx) == 0
    hot[0] = 0
    hot[28] = 1  # stopping, from a stop time no session time can be
    for at in (-1, 0x20000000):
        hot[29] = at
        before = list(hot)
        assert TE.edge(hot, io, ctx) == 0 and list(hot) == before
