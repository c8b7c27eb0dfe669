"""`tvns simulate --engine pio --trigger FILE` (docs/GATING.md): the trigger trace fed to
the real triggered PIO program in pioemu at the board's 125 MHz. run_fast's fast-forward
(delay loops, `wait` stalls, the gated program's spin with the gate shut) gives the same
edges as emulating every cycle; the VCD shows the program's own edge-to-pulse latency
(5 cycles with the input synchroniser) and passes `tvns verify`."""

import random

import pytest
import verify_support as vc
from tvns.board import rp2_pio
from tvns_tools import cli, pio_sim, trigtrace

pio_trigger = pytest.importorskip("tvns_tools.pio_trigger")

CLK = 4_000_000


def _random_spans(rnd, stop, steps, start_on=False):
    ts, t = [], 0
    while t < stop:
        t += rnd.choice(steps)
        ts.append(t)
    if start_on:
        return [(0, ts[0])] + list(zip(ts[1::2], ts[2::2]))
    return list(zip(ts[0::2], ts[1::2]))


@pytest.mark.parametrize("mode", [rp2_pio.MODE_GATE, rp2_pio.MODE_TRAIN])
@pytest.mark.parametrize("active", [1, 0])
@pytest.mark.parametrize("seed", [1, 2])
def test_fast_forward_gives_the_edges_of_every_cycle(mode, active, seed):
    """Random trigger traces (bounce of 1-3 cycles, short and long stretches) against a
    random gate: run_fast and run (every cycle through pioemu) agree edge for edge."""
    rnd = random.Random(seed * 100 + mode * 10 + active)
    stop = 30_000
    trig = pio_sim.Gate(_random_spans(rnd, stop, [1, 3, 50, 400, 1200, 5000]))
    gate = pio_sim.Gate(_random_spans(rnd, stop, [1, 700, 3000, 9000], start_on=True))
    words = rp2_pio.counts(20, 10, 200, CLK, mode)
    ref, _pulls = pio_trigger.run(mode, active, words, trig, gate, stop)
    fast = pio_trigger.edges_of(pio_trigger.run_fast(mode, active, words, trig, gate, stop))
    assert len(ref) > 20
    assert fast == ref


GATED = {
    **vc.BENCH,
    "name": "gated-25hz",
    "frequency_hz": 25,
    "pulse_width_us": 250,
    "interphase_gap_us": 20,
    "on_s": 30,
    "off_s": 0,
    "session_s": 30,
    "trigger": {"mode": "gate", "min_gap_s": 0.5},
}


def _vcd_wires(path):
    from tvns_tools.verify import readers

    cap = readers.read(path)
    return {n: [(t, v) for t, v in seq[1:]] for n, seq in cap.digital.items()}


@pytest.mark.parametrize("polarity", ["high", "low"])
def test_simulate_engine_pio_follows_the_trigger_trace(tmp_path, polarity):
    doc = dict(GATED, trigger={**GATED["trigger"], "polarity": polarity})
    proto = vc.protocol_file(tmp_path, doc, "gated.json")
    breath = trigtrace.breathing(12)  # exhalation 3-5 s, 7-9 s, 11-12 s
    if polarity == "low":
        breath = [(0.0, 1)] + [(t, 1 - v) for t, v in breath]
    trace, vcd = tmp_path / "breath.csv", tmp_path / "pio.vcd"
    trigtrace.write(trace, breath)
    argv = ["simulate", proto, "--runtime", "cpython", "--engine", "pio", "--duration", "10"]
    argv += ["--trigger", trace, "--vcd", vcd]
    assert cli.main([str(a) for a in argv]) == 0
    assert "RP2040 PIO program in pioemu" in vcd.read_text()[:300]
    wires = _vcd_wires(vcd)
    active = 1 if polarity == "high" else 0
    rises = [t for t, v in wires["trigger"] if v == active]
    a_rises = [t for t, v in wires["phase_a"] if v]
    # every burst: its first phase A edge 5 cycles (40 ns) after the input's active edge
    firsts = [min(t for t in a_rises if t >= r) for r in rises if r < 9_000_000_000]
    lat = (rp2_pio.TRIGGER_TO_EDGE_CYCLES + rp2_pio.SYNC_CYCLES) * 8
    assert [f - r for f, r in zip(firsts, rises)] == [lat, lat]
    # no pulse while the input is inactive (5-7 s)
    assert not [t for t in a_rises if 5_000_000_100 < t < 7_000_000_000]
    # the untriggered program would have pulsed from the gate's opening at 0.1 s
    assert min(a_rises) == rises[0] + lat
    assert cli.main(["verify", str(vcd), str(proto)]) == 0


def test_engine_pio_start_mode_runs_the_untriggered_program(tmp_path):
    """Start mode: the edge only starts the session's clock; the replay's first pulse is the
    ramp's, 0.1 s after the edge, from the untriggered program."""
    doc = dict(GATED, on_s=5, off_s=5, trigger={"mode": "start"})
    proto = vc.protocol_file(tmp_path, doc, "start.json")
    trace, vcd = tmp_path / "edge.csv", tmp_path / "start.vcd"
    trigtrace.write(trace, [(1.0, 1), (1.2, 0)])
    argv = ["simulate", proto, "--runtime", "cpython", "--engine", "pio", "--duration", "3"]
    assert cli.main([str(a) for a in argv + ["--trigger", trace, "--vcd", vcd]]) == 0
    a_rises = [t for t, v in _vcd_wires(vcd)["phase_a"] if v]
    assert 1_100_000_000 <= a_rises[0] <= 1_102_000_000
