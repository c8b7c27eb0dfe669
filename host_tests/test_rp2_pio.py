"""The PIO program board/rp2.py loads, assembled on the host and run cycle-exactly in pioemu.

Fast-forward (tools/tvns_tools/pio_sim.run) skips the middle iterations of a delay
loop; test_fast_forward_matches_pure_emulation proves it gives the same edges as running
every cycle through pioemu, so the long-period tests may use it.
"""

from dataclasses import replace

import adafruit_pioasm
import pytest
from pioemu import emulate
from tvns.board import rp2_pio
from tvns.errors import TvnsError
from tvns_tools import pio_sim

CLOCK_HZ = 125_000_000
CPU = CLOCK_HZ // 1_000_000
SETUP_CYCLES = 5  # pull, mov, pull, mov before the first `wait`, then the dead man's pull

PIOASM_TEXT = """
.side_set 3
    pull block      side 0
    mov isr, osr    side 0
    pull block      side 0
    mov y, osr      side 0
.wrap_target
    wait 1 pin 0    side 0
    pull block      side 0
    mov x, isr      side 5
a:
    jmp x-- a       side 5
    jmp !y b        side 5
    mov x, y        side 4
g:
    jmp x-- g       side 4
b:
    mov x, isr      side 6 [1]
bl:
    jmp x-- bl      side 6
    mov x, osr      side 0
o:
    jmp x-- o       side 0
.wrap
"""

# (width_us, gap_us, period_us): the default protocol and the hard-limit edges.
CASES = [
    (250, 0, 40_000),
    (250, 5, 40_000),
    (20, 0, 10_000),
    (20, 100, 10_000),
    (1000, 0, 10_000),
    (1000, 100, 10_000),
    (20, 0, 1_000_000),
    (1000, 100, 1_000_000),
]


always_on = pio_sim.Gate([(0, None)])


def pulses(edges):
    """[(a_rise, a_fall, b_rise, b_fall)] from [(cycle, a, b, sync)]; checks the shape."""
    out = []
    i = 0
    while i + 2 < len(edges):
        c, a, b, s = edges[i]
        assert (a, b, s) == (1, 0, 1), edges[i]
        a_rise = c
        c, a, b, s = edges[i + 1]
        if (a, b, s) == (0, 0, 1):  # gap
            a_fall = c
            i += 1
            if i + 2 >= len(edges):
                break
            c, a, b, s = edges[i + 1]
        else:
            a_fall = c
        assert (a, b, s) == (0, 1, 1), edges[i + 1]
        b_rise = c
        c, a, b, s = edges[i + 2]
        assert (a, b, s) == (0, 0, 0), edges[i + 2]
        out.append((a_rise, a_fall, b_rise, c))
        i += 3
    return out


def timing_errors(edges, width_cyc, gap_cyc, period_cyc):
    """Largest absolute error in cycles over all pulses: (width A, gap, width B, period)."""
    ps = pulses(edges)
    err = [0, 0, 0, 0]
    for k, (ar, af, br, bf) in enumerate(ps):
        err[0] = max(err[0], abs(af - ar - width_cyc))
        err[1] = max(err[1], abs(br - af - gap_cyc))
        err[2] = max(err[2], abs(bf - br - width_cyc))
        if k + 1 < len(ps):
            err[3] = max(err[3], abs(ps[k + 1][0] - ar - period_cyc))
    return err, len(ps)


def test_opcodes_match_independent_pioasm_encoding():
    opcodes, wrap_target, wrap_top, side_count = pio_sim.program()
    ref = adafruit_pioasm.Program(PIOASM_TEXT)
    assert opcodes == list(ref.assembled)
    assert wrap_target == ref.pio_kwargs["wrap_target"]
    assert wrap_top == ref.pio_kwargs["wrap"]
    assert side_count == ref.pio_kwargs["sideset_pin_count"] == rp2_pio.SIDESET_COUNT
    assert len(opcodes) <= 32  # fits one PIO block's instruction memory


def test_safe_instruction_encoding():
    rp2 = pio_sim.fake_rp2()
    op = rp2.asm_pio_encode(rp2_pio.SAFE_INSTR, rp2_pio.SIDESET_COUNT)
    assert op == adafruit_pioasm.assemble(".side_set 3\nnop side 0")[0]
    assert (op >> 10) & 0b111 == 0  # side-set field: A, B, SYNC all low


@pytest.mark.parametrize("width_us,gap_us,period_us", CASES)
def test_timing_exact_over_100_periods(width_us, gap_us, period_us):
    words = rp2_pio.counts(width_us, gap_us, period_us, CLOCK_HZ)
    w, g, p = width_us * CPU, gap_us * CPU, period_us * CPU
    stop = SETUP_CYCLES + 1 + 101 * p
    edges = pio_sim.edges_in_cycles(words, always_on, stop)
    err, n = timing_errors(edges, w, g, p)
    assert n >= 100
    assert err == [0, 0, 0, 0]
    assert edges[0][0] == SETUP_CYCLES + 1  # gate already high: first pulse right after setup
    assert all(not (a and b) for _c, a, b, _s in edges)


def test_fast_forward_matches_pure_emulation():
    # At 1 MHz (1 cycle per us) pure emulation of several periods is affordable.
    for width_us, gap_us, period_us in [(20, 0, 10_000), (1000, 100, 10_000), (250, 3, 10_000)]:
        words = rp2_pio.counts(width_us, gap_us, period_us, 1_000_000)
        stop = 3 * period_us + 50
        assert pio_sim.edges_in_cycles(words, always_on, stop, fast=False) == (
            pio_sim.edges_in_cycles(words, always_on, stop, fast=True)
        )
    # ... and with the gate toggling (stalls on `wait` fast-forwarded to the gate's edges).
    words = rp2_pio.counts(250, 10, 10_000, 1_000_000)
    gate = pio_sim.Gate([(0, 1500), (12_000, 25_000), (33_333, None)])
    pure = pio_sim.edges_in_cycles(words, gate, 45_000, fast=False)
    assert pure == pio_sim.edges_in_cycles(words, gate, 45_000, fast=True)
    assert [p[0] for p in pulses(pure)] == [6, 12_002, 22_002, 33_335, 43_335]


@pytest.mark.parametrize("width_us,gap_us", [(20, 0), (20, 100), (250, 0), (1000, 100)])
def test_first_pulse_pure_emulation_at_125mhz(width_us, gap_us):
    # Every cycle of the first pulse through pioemu, both phases checked at every cycle.
    words = rp2_pio.counts(width_us, gap_us, 10_000, CLOCK_HZ)
    w, g = width_us * CPU, gap_us * CPU
    stop = SETUP_CYCLES + 1 + 2 * w + g + 10
    both_high = 0
    edges = []
    last = 0
    mask = 0b111 << pio_sim.PIN_A
    for before, after in pio_sim.run(words, always_on, stop, fast=False):
        v = after.pin_values
        both_high += (v >> pio_sim.PIN_A & 1) and (v >> pio_sim.PIN_B & 1)
        if v & mask != last:
            last = v & mask
            edges.append(
                (
                    before.clock,
                    v >> pio_sim.PIN_A & 1,
                    v >> pio_sim.PIN_B & 1,
                    v >> pio_sim.PIN_SYNC & 1,
                )
            )
    t0 = SETUP_CYCLES + 1
    expect = [(t0, 1, 0, 1)]
    if g:
        expect.append((t0 + w, 0, 0, 1))
    expect += [(t0 + w + g, 0, 1, 1), (t0 + 2 * w + g, 0, 0, 0)]
    assert edges == expect
    assert both_high == 0


@pytest.mark.parametrize("fraction", [0.01, 0.5, 0.99])
@pytest.mark.parametrize("segment", ["a", "gap", "b"])
def test_gate_drop_mid_pulse_finishes_that_pulse_only(segment, fraction):
    width_us, gap_us, period_us = 250, 50, 10_000
    words = rp2_pio.counts(width_us, gap_us, period_us, CLOCK_HZ)
    w, g, p = width_us * CPU, gap_us * CPU, period_us * CPU
    t0 = SETUP_CYCLES + 1
    start = {"a": t0, "gap": t0 + w, "b": t0 + w + g}[segment]
    length = g if segment == "gap" else w
    drop = start + int(length * fraction)
    edges = pio_sim.edges_in_cycles(words, pio_sim.Gate([(0, drop)]), 4 * p)
    assert pulses(edges) == [(t0, t0 + w, t0 + w + g, t0 + 2 * w + g)]
    assert edges[-1][1:] == (0, 0, 0)


def test_gate_on_again_before_period_end_waits_for_period_end():
    width_us, gap_us, period_us = 250, 0, 10_000
    words = rp2_pio.counts(width_us, gap_us, period_us, CLOCK_HZ)
    w, p = width_us * CPU, period_us * CPU
    t0 = SETUP_CYCLES + 1
    off, on_again = t0 + w // 2, t0 + p // 2  # drop mid-pulse, back on mid off-time

    gate = pio_sim.Gate([(0, off), (on_again, None)])
    ps = pulses(pio_sim.edges_in_cycles(words, gate, t0 + 3 * p))
    assert [ar for ar, *_ in ps[:3]] == [t0, t0 + p, t0 + 2 * p]


def test_gate_to_first_edge_latency_is_two_cycles():
    # wait (sees the gate), then the dead man's pull: the cost of the feed is one cycle
    words = rp2_pio.counts(250, 0, 10_000, CLOCK_HZ)
    for rise in (100, 1001, 5000):
        edges = pio_sim.edges_in_cycles(
            words, lambda c, r=rise: 1 if c >= r else 0, rise + 20, fast=False
        )
        assert edges == [(rise + 2, 1, 0, 1)]
    assert gate_latency_cycles() == 2


def gate_latency_cycles():
    words = rp2_pio.counts(20, 0, 10_000, CLOCK_HZ)
    edges = pio_sim.edges_in_cycles(words, lambda c: 1 if c >= 50 else 0, 80, fast=False)
    return edges[0][0] - 50


@pytest.mark.parametrize("segment_cycle", [SETUP_CYCLES + 1 + 1000, SETUP_CYCLES + 1 + 31_300])
def test_safe_stop_sequence_leaves_both_phases_low(segment_cycle):
    # Stop mid phase A (first) and mid phase B (second) of a 250 us pulse.
    words = rp2_pio.counts(250, 0, 10_000, CLOCK_HZ)
    opcodes, wrap_target, wrap_top, side_count = pio_sim.program()
    state = None
    for _before, after in pio_sim.run(words, always_on, segment_cycle, fast=True):
        state = after
    assert state.pin_values & (0b11 << pio_sim.PIN_A)  # a phase is high when we stop
    # 1. sm.active(0): the machine is frozen, nothing runs any more.
    # 2. sm.exec(safe_op): pioemu runs the single exec'd instruction on that state.
    rp2 = pio_sim.fake_rp2()
    safe_op = rp2.asm_pio_encode(rp2_pio.SAFE_INSTR, rp2_pio.SIDESET_COUNT)
    steps = list(
        emulate(
            [safe_op],
            stop_when=lambda _op, s: s.clock > state.clock,
            initial_state=replace(state, program_counter=0),
            side_set_base=pio_sim.SIDE_BASE,
            side_set_count=side_count,
        )
    )
    assert len(steps) == 1
    assert steps[-1][1].pin_values & (0b111 << pio_sim.PIN_A) == 0
    # 3. pins go back to GPIO low: checked with the fakes in test_rp2_board.py.


def test_exec_on_running_machine_alone_would_not_be_safe():
    # Why stop() freezes the machine before the exec: if it kept running, the next
    # instruction of the delay loop side-sets phase A high again.
    words = rp2_pio.counts(250, 0, 10_000, CLOCK_HZ)
    opcodes, wrap_target, wrap_top, side_count = pio_sim.program()
    state = None
    for _before, after in pio_sim.run(words, always_on, SETUP_CYCLES + 1 + 1000, fast=True):
        state = after
    rp2 = pio_sim.fake_rp2()
    safe_op = rp2.asm_pio_encode(rp2_pio.SAFE_INSTR, rp2_pio.SIDESET_COUNT)
    low = next(
        emulate(
            [safe_op],
            stop_when=lambda _o, s: False,
            initial_state=replace(state, program_counter=0),
            side_set_base=pio_sim.SIDE_BASE,
            side_set_count=side_count,
        )
    )[1]
    resumed = replace(low, program_counter=state.program_counter)
    _b, after = next(
        emulate(
            opcodes,
            stop_when=lambda _o, s: False,
            initial_state=resumed,
            side_set_base=pio_sim.SIDE_BASE,
            side_set_count=side_count,
            wrap_target=wrap_target,
            wrap_top=wrap_top,
        )
    )
    assert after.pin_values >> pio_sim.PIN_A & 1 == 1


def test_counts_formula_and_limits():
    # W = n_w + 3, G = n_g + 2 (or 0), O = n_o + 4.
    assert rp2_pio.counts(250, 0, 40_000, CLOCK_HZ) == (31_247, 0, 5_000_000 - 62_500 - 4)
    assert rp2_pio.counts(250, 5, 40_000, CLOCK_HZ) == (31_247, 623, 5_000_000 - 63_125 - 4)
    assert rp2_pio.counts_from_cycles(3, 0, 10) == (0, 0, 0)
    assert rp2_pio.counts_from_cycles(3, 3, 13) == (0, 1, 0)
    for bad in [(2, 0, 100), (3, 1, 100), (3, 2, 100), (3, 0, 9), (50, 0, 100)]:
        with pytest.raises(TvnsError):
            rp2_pio.counts_from_cycles(*bad)
    with pytest.raises(TvnsError) as e:
        rp2_pio.counts(250, 0, 40_000, 133_333_333)  # not whole MHz
    assert e.value.field == "clock_hz"


def test_pio_sim_edges_shape():
    edges = pio_sim.simulate(250, 0, 40_000, gate_us=((0, 100_000),), duration_us=200_000)
    assert len(edges) == 3 * 3  # gap 0: A rise, A->B, B fall; 3 pulses in 100 ms at 25 Hz
    t0 = edges[0][0]
    assert edges[:3] == [(t0, 1, 0), (t0 + 250, 0, 1), (t0 + 500, 0, 0)]
    assert edges[3][0] - t0 == 40_000
    assert t0 * CLOCK_HZ / 1_000_000 == SETUP_CYCLES + 1


def test_bench_rows():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "_tvns_bench_pio", pio_sim.ROOT / "tools" / "bench_pio.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = dict(bench.rows())
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in rows.items())
    assert rows["PIO timing error (emulated, 100 periods x 6 protocols)"] == "0 cycles"
    assert rows["PIO resolution @ 125 MHz (clock divider 1)"] == "8 ns"
