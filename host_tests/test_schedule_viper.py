"""Schedule.eval in viper over the schedule's words (tvns/schedule.py, issue 18: the ramp
step's and the train edge's tick) gives exactly the answers of the native eval it replaced
(mp_schedule_eval.OldSchedule): over generated protocols (every amplitude step count, ramps,
duty cycles from 100 ms to an hour, continuous ones, the visible sham, both arms) and times
at and around every boundary the answer can change at, on CPython and on both MicroPython
runtimes (the viper machine code; on the 32-bit board-numerics one with the board's word
size), the new eval under heap_lock there."""

import random

import mp_schedule_eval
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from test_numerics import mp_batch
from tiers import require
from tvns import limits as L
from tvns import schedule as SCH
from tvns_tools.firmware import micropython_binary, numerics_binary


def _protocol(rnd):
    amp = rnd.choice((1, 99, 100, 101, 1000, 2000, 9999, L.CURRENT_MAX_UA, rnd.randint(1, 10000)))
    up = rnd.choice((0, 400, 1000, 1001, L.RAMP_MAX_MS, rnd.randint(1000, 60000)))
    down = rnd.choice((100, 300, 1000, 1337, L.RAMP_MAX_MS, rnd.randint(1000, 60000)))
    r = rnd.random()
    if r < 0.2:
        on, off = rnd.randint(100, 5000), 0  # continuous
    elif r < 0.35:
        # short trains, long pauses: the sham's train-time steps far apart (the products
        # the viper eval must not form past 2**31)
        on, off = (
            rnd.choice((100, 101, 250)),
            rnd.choice((L.TRAIN_MAX_MS, rnd.randint(10**5, L.TRAIN_MAX_MS))),
        )
    else:
        on, off = (
            rnd.choice((100, 300, rnd.randint(100, 10000))),
            rnd.choice((1, 100, 200, rnd.randint(1, 10000))),
        )
    mid = rnd.choice(
        (0, 1, on, on + off - 1, rnd.randint(0, 3 * (on + off)), rnd.randint(0, 10**6))
    )
    session = min(L.SESSION_MAX_S * 1000, max(L.SESSION_MIN_S * 1000, up + down + mid))
    if up + down > session:
        down = max(100, session - up)
    return {
        "amplitude_ua": amp,
        "width_us": rnd.choice((20, 250, 1000)),
        "gap_us": rnd.choice((0, 20, 100)),
        "period_us": 10000,
        "on_ms": on,
        "off_ms": off,
        "ramp_up_ms": up,
        "ramp_down_ms": down,
        "session_ms": session,
        "sham": rnd.random() < 0.1,
    }


def _times(rnd, p, n):
    """Times at and around every point the answer can change at, and random ones."""
    ds = p["session_ms"] - p["ramp_down_ms"]
    up = p["ramp_up_ms"]
    c = p["on_ms"] + p["off_ms"]
    ge = p["session_ms"] - (2 * p["width_us"] + p["gap_us"] + 999) // 1000 - 50
    marks = [0, up, ds, ge, p["session_ms"]]
    for j in range(4):
        marks += [up + j * c, up + j * c + p["on_ms"], ds - j * c]
    steps = SCH._ceil_div(p["amplitude_ua"], 100)
    for j in range(4):
        marks += [
            ds + j * p["ramp_down_ms"] // steps,
            up * j // steps,
            up + j * p["ramp_down_ms"] // steps,
        ]
    ts = []
    for m in marks:
        ts += [m - 1, m, m + 1]
    ts += [rnd.randint(0, p["session_ms"] + 2) for _ in range(n)]
    rnd.shuffle(ts)
    return [t for t in ts if t >= 0]


def _cases(seed, n, times=40):
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        p = _protocol(rnd)
        out.append({"p": p, "blind": rnd.random() < 0.5, "ts": _times(rnd, p, times)})
    return out


# A division by zero (no valid protocol has one: ramps of 0 ms are the tests' own) raises as
# the native code did; t < 0 (never in a session) gives the same arithmetic too.
ZERO = [
    {"p": dict(_protocol(random.Random(1)), ramp_up_ms=0), "blind": False, "ts": [-1, 0, 5],
     "zero": True},
    {"p": dict(_protocol(random.Random(2)), ramp_up_ms=700), "blind": True, "ts": [-700, -1]},
]  # fmt: skip


@settings(
    max_examples=5,
    deadline=None,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=list(HealthCheck),
)
@given(st.integers(0, 2**32))
def test_the_viper_eval_answers_as_the_native_one_on_cpython(seed):
    cases = _cases(seed, 300) + ZERO
    bad = [(c["p"], c["blind"], g) for c in cases if (g := mp_schedule_eval.judge(c)) != "ok"]
    assert not bad, bad[:3]


@pytest.mark.parametrize("which", ["pypi", "numerics"])
def test_the_viper_eval_answers_as_the_native_one_on_micropython(which, tmp_path):
    """The machine code (64-bit host words, and the board's 32-bit ones), under heap_lock."""
    runtime = micropython_binary() if which == "pypi" else require(numerics_binary(), "numerics")
    cases = _cases(which == "pypi", 1500) + ZERO
    got = mp_batch(runtime, cases, tmp_path, "mp_schedule_eval.py")
    assert len(got) == len(cases)
    bad = [(c["p"], c["blind"], g) for c, g in zip(cases, got) if g != "ok"]
    assert not bad, bad[:3]


def test_the_tests_own_cases_reach_every_branch():
    """The generated cases give every phase, both gates, a sham step below the nominal
    amplitude and its end, and the zero-divisor answer (else the comparison proves little)."""
    seen = set()
    for c in _cases(7, 200) + ZERO:
        sc = mp_schedule_eval.OldSchedule(mp_schedule_eval.P(c["p"]), c["blind"])
        for t in c["ts"]:
            try:
                sc.eval(t)
            except ZeroDivisionError:
                seen.add("zero")
                continue
            seen.add(("phase", sc.phase))
            seen.add(("gate", sc.gate))
            if sc.out_ua < sc.amp_ua and sc.out_ua > 0:
                seen.add("sham step")
            if c["blind"] and sc.amp_ua > 0 and sc.out_ua == 0 and sc.phase != 6:
                seen.add("sham over")
    want = {("phase", s) for s in (2, 3, 4, 5, 6)} | {("gate", True), ("gate", False)}
    want |= {"sham step", "sham over", "zero"}
    assert want <= seen, want - seen


def test_a_test_may_set_a_number_and_the_eval_sees_it():
    """The schedule's numbers live in its words: a test that breaks one (test_faults) breaks
    what the tick's eval computes with."""
    p = mp_schedule_eval.P(_protocol(random.Random(3)))
    sc = SCH.Schedule(p)
    sc.session_ms = 10**7
    sc.down_start_ms = 10**7
    sc.eval(p.session_ms + 5)
    assert sc.phase != 6 and sc.words[SCH.PHASE] == sc.phase
    sc.target_ua = 9000
    assert sc.target_ua == 9000 and sc.down_live in (True, False)
