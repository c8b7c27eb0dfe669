"""The PIO block cycle by cycle (tools/tvns_tools/pio_block.py): the dead-man pulse machine
fed by a 1 ms tick, the kill machine above it, their writes combined by the RP2040's
output-priority rule; and `tvns simulate --engine pio --inject ...` driving both from a
simulated session. CPython only (pioemu)."""

import json
import subprocess
import sys
from fractions import Fraction

import pytest
from sim_support import doc
from tvns import safety as F
from tvns.board import rp2_pio
from tvns.board.simrun import simulate
from tvns_tools import pio_block, pio_sim
from tvns_tools.simulate import pio_trace

CLOCK_HZ = 125_000_000
CPU = CLOCK_HZ // 1_000_000
KILL_BOUND_CYCLES = 125  # 1 us at 125 MHz, the bound (input synchroniser included)
SYNC_CYCLES = 2  # the GPIO input synchroniser on silicon, which pioemu does not model


# ---- the output-priority rule itself ----
def test_combine_highest_numbered_writer_wins_and_levels_hold():
    low = [(0, 10, 0b001), (10, 11, 0b010), (20, 21, 0b100)]  # SM n: a write at 0..9, 10, 20
    high = [(5, 7, 0b000), (10, 11, 0b111)]  # SM n + 1 writes at 5, 6 and 10
    assert pio_block.combine([low, high], 30) == [
        (0, 0b001),  # only the low machine writes
        (5, 0b000),  # both write: the higher wins
        (7, 0b001),  # the low machine's write at 7 (it writes every cycle to 9)
        (10, 0b111),  # the same cycle again: the higher wins
        (20, 0b100),  # nobody wrote 11..19: the level held until the low machine's write
    ]
    assert pio_block.combine([low], 30) == [(0, 0b001), (10, 0b010), (20, 0b100)]


def test_without_a_kill_the_block_gives_the_pulse_machine_alone():
    words = rp2_pio.counts(250, 50, 10_000, CLOCK_HZ)
    gate = pio_sim.Gate([(0, 2_000_000), (3_000_000, None)])
    stop = 4 * 1_250_000
    alone = pio_sim.edges_in_cycles(words, gate, stop)
    block, snap = pio_block.block_edges(words, gate, stop)
    assert block == alone and snap is None and len(alone) > 10


# ---- the kill machine ----
def _first_pulse(words, stop):
    edges = pio_sim.edges_in_cycles(words, pio_sim.Gate([(0, None)]), stop)
    return edges[0][0]


@pytest.mark.parametrize(
    "where,offset_us", [("phase A", 125), ("gap", 275), ("phase B", 400), ("off time", 5000)]
)
def _off_for_good(edges, kill):
    """(cycles from the kill until both phases are low for the rest of the stretch, edges
    after that). An edge the pulse machine makes inside the kill's latency (e.g. phase B
    starting on the kill's own cycle) is part of the latency, not "after"."""
    after = [e for e in edges if e[0] >= kill]
    before = [e for e in edges if e[0] < kill]
    level = before[-1][1:] if before else (0, 0, 0)
    if level == (0, 0, 0) and not after:
        return 0, []
    for i, e in enumerate(after):
        if e[1:] == (0, 0, 0):
            return e[0] - kill, after[i + 1 :]
    return None, after


@pytest.mark.parametrize(
    "where,offset_us", [("phase A", 125), ("gap", 275), ("phase B", 400), ("off time", 5000)]
)
def test_kill_takes_both_phases_low_within_1_us_wherever_the_program_is(where, offset_us):
    words = rp2_pio.counts(250, 50, 10_000, CLOCK_HZ)
    stop = 4 * 1_250_000
    t0 = _first_pulse(words, stop)
    kill = t0 + offset_us * CPU + 3  # off the microsecond grid too
    edges, snap = pio_block.block_edges(
        words, pio_sim.Gate([(0, None)]), stop, kill_cycle=kill, kill_levels={10: 0}
    )
    latency, after = _off_for_good(edges, kill)
    assert not after, (where, after[:3])  # no rise after, for the rest of the stretch
    assert latency == (0 if where == "off time" else 2)  # wait sees it, `in`, `set pins, 0`
    assert latency + SYNC_CYCLES <= KILL_BOUND_CYCLES
    # the snapshot the firmware reads: KILL_n low (bit 0), OC_OK low (GP17 = GP7 + 10)
    assert snap is not None and snap & 1 == 0 and snap >> 10 & 1 == 0 and snap >> 9 & 1 == 1


def test_kill_worst_case_latency_over_every_cycle_of_a_pulse():
    # every 7th cycle from just before phase A to just after phase B of the shortest pulse
    words = rp2_pio.counts(20, 3, 10_000, CLOCK_HZ)  # 2 x 20 us + 3 us
    stop = 1_250_000
    t0 = _first_pulse(words, stop)
    worst = 0
    for kill in range(t0 - 2, t0 + 43 * CPU + 2, 7):
        edges, _ = pio_block.block_edges(
            words, pio_sim.Gate([(0, None)]), stop, kill_cycle=kill, kill_levels={9: 0}
        )
        latency, after = _off_for_good(edges, kill)
        assert not after and latency is not None
        worst = max(worst, latency)
    assert worst == 2 and worst + SYNC_CYCLES <= KILL_BOUND_CYCLES


# ---- through `tvns simulate` (the firmware's gate, the 1 ms tick's feed, the fault) ----
def _replay(d, inject, duration_s):
    r = simulate(d, int(duration_s * 1000), inject=inject)
    edges, _gate, snap = pio_block.replay(r, duration_s)
    return r, edges, snap


def _pulse_starts(edges):
    return [t for t, a, _b, _s in edges if a]


@pytest.mark.parametrize("kind,fault", [("overcurrent", "overcurrent"), ("estop", "estop")])
@pytest.mark.parametrize("offset_us", [100, 260, 400, 20_000])  # A, gap, B, off time
def test_simulate_kill_cuts_at_its_time_and_latches_the_cause(kind, fault, offset_us):
    d = doc(interphase_gap_us=20, off_s=0, session_s=60)
    probe = simulate(d, 13000)
    p0 = [s for s in probe["segments"] if s[0] < 12_000_000][-1]
    start = p0[0] + ((12_000_000 - p0[0]) // p0[1]) * p0[1]  # a pulse start near 12 s
    t_us = start + offset_us
    r, edges, _snap = _replay(d, [(kind, t_us / 1000)], 13)
    (f,) = r["faults"]
    assert f["fault"] == fault and f["latched"] and r["final_state"] == "FAULT"
    assert t_us <= round(f["t_s"] * 1e6) <= t_us + 1000  # latched at the next 1 ms tick
    t = Fraction(t_us)
    latency, after = _off_for_good([(c * CPU, a, b, s) for c, a, b, s in edges], t * CPU)
    assert not after  # no rise after, ever (the fault then hands the pins to GPIO low)
    assert latency <= (2 if offset_us < 520 else 0)  # PIO cycles: well within 1 us
    assert f["output_off_s"] == t_us / 1e6  # the model's kill path cut at the same instant


def test_cli_engine_pio_injects_a_kill_into_a_vcd(tmp_path):
    vcd = tmp_path / "kill.vcd"
    r = subprocess.run(
        [sys.executable, "-m", "tvns_tools.cli", "simulate", "firmware/protocols/default.json",
         "--runtime", "cpython", "--engine", "pio", "--duration", "13",
         "--inject", "overcurrent@12.0201", "--vcd", str(vcd), "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    (f,) = json.loads(r.stdout)["faults"]
    assert f["fault"] == "overcurrent"
    lines = vcd.read_text().split("\n")
    # a pulse starts at 12.02 s (the gate opened with the ramp's first step at 0.5 s, 40 ms
    # grid): 2 PIO cycles (16 ns) after the kill at 12.0201 s, inside its phase A
    i = lines.index("#12020100016")
    assert lines[i + 1 : i + 3] == ["0a", "0s"]
    assert "1a" not in lines[i:] and "1b" not in lines[i:]


@pytest.mark.parametrize("hz", [1, 7, 25, 100])
def test_simulate_engine_pio_stall_lets_at_most_2_pulses_out(hz):
    d = doc(frequency_hz=hz, on_s=60, off_s=0, session_s=120, ramp_up_s=11, ramp_down_s=11)
    worst = 0
    for stall_ms in (14003, 14500.5):
        r, edges, _ = _replay(d, [("stall", stall_ms)], 16)
        after = [t for t in _pulse_starts(edges) if t >= Fraction(int(stall_ms * 1000))]
        worst = max(worst, len(after))
        assert r["resets"][0][1] == "watchdog"
    assert worst <= F.DEADMAN_PULSES
    if hz >= 7:  # two periods fit before the watchdog's reset: the bound is reached
        assert worst == F.DEADMAN_PULSES


def test_engine_pio_without_faults_still_matches_the_model_after_the_dead_man():
    d = doc(frequency_hz=100, on_s=1, off_s=1, session_s=20)
    r = simulate(d, 6000)
    edges, _gate = pio_trace(r, 6)
    model_starts = [s[0] + k * s[1] for s in r["segments"] for k in range(s[2])]
    pio_starts = _pulse_starts(edges)
    assert len(pio_starts) == len(model_starts) == r["pulses"]
    assert {t - m for t, m in zip(pio_starts, model_starts)} <= {
        Fraction(6, CPU),
        Fraction(2, CPU),
    }
