"""The triggered PIO programs (board/rp2_pio.assemble_triggered) in the cycle-exact
emulator (tools/tvns_tools/pio_trigger.py): the input edge to the first pulse edge is a
fixed 3 cycles (+2 for the input synchroniser on silicon: 40 ns at 125 MHz, far under 1 us),
no pulse without both the input and the firmware's gate, the period exact inside a burst,
a train latched by its edge, the dead man kept; and the rp2 engine swapping the programs
within the PIO's 32 instruction words."""

import pytest
from tvns import safety
from tvns.board import rp2_pio

pio_trigger = pytest.importorskip("tvns_tools.pio_trigger")

CLK = 4_000_000  # 4 cycles per us: every cycle emulated, periods stay short
CPU = CLK // 1_000_000


def words(mode, width_us=20, gap_us=5, period_us=1000):
    return rp2_pio.counts(width_us, gap_us, period_us, CLK, mode)


def spans_fn(spans, active=1):
    def f(c):
        v = pio_trigger.level_at(spans, c)
        return v if active else 1 - v

    return f


@pytest.mark.parametrize("mode", [rp2_pio.MODE_GATE, rp2_pio.MODE_TRAIN])
@pytest.mark.parametrize("active", [1, 0])
def test_input_edge_to_first_pulse_edge_is_fixed_and_under_1_us(mode, active):
    lat = pio_trigger.trigger_latency(mode, active, clock_hz=CLK)
    assert set(lat.values()) == {rp2_pio.TRIGGER_TO_EDGE_CYCLES}  # the same at every phase
    silicon = rp2_pio.TRIGGER_TO_EDGE_CYCLES + rp2_pio.SYNC_CYCLES
    assert silicon * 1000 / 125 <= 1000  # ns at 125 MHz: 40 ns
    assert silicon == 5


def test_gate_mode_no_pulse_without_both_and_bursts_end_within_a_period():
    trig = [(1000, 9000), (20000, 30000), (40000, None)]
    gate = [(0, 25000), (45000, None)]  # the firmware closes its gate at 25000 for a while
    edges, _ = pio_trigger.run(
        rp2_pio.MODE_GATE, 1, words(1), spans_fn(trig), spans_fn(gate), 60000
    )
    starts = pio_trigger.pulse_starts(edges)
    period = 1000 * CPU
    for s in starts:
        c = s - rp2_pio.TRIGGER_TO_EDGE_CYCLES
        assert pio_trigger.level_at(trig, c) and pio_trigger.level_at(gate, c + 1), s
    assert starts[0] == 1000 + 3
    assert all(b - a >= period for a, b in zip(starts, starts[1:]))
    in_burst = [b - a for a, b in zip(starts, starts[1:]) if b - a < 2 * period]
    assert set(in_burst) == {period}  # exact period inside a burst (n_o + 5 off cycles)
    assert max(s for s in starts if s < 10000) > 9000 - period  # ends within one period
    assert not [s for s in starts if 25000 + period < s < 45000]  # gate closed: nothing
    # the gate opening while the input is active: the 3-cycle `jmp pin` loop (2..4 cycles)
    assert 45000 + 2 <= min(s for s in starts if s >= 45000) <= 45000 + 4


def test_gate_mode_a_10_khz_square_wave_never_beats_the_period():
    half = 50 * CPU  # 50 us high, 50 us low
    trig = [(k * 2 * half, k * 2 * half + half) for k in range(300)]
    edges, _ = pio_trigger.run(rp2_pio.MODE_GATE, 1, words(1), spans_fn(trig), lambda c: 1, 60000)
    starts = pio_trigger.pulse_starts(edges)
    assert len(starts) >= 10
    assert all(b - a >= 1000 * CPU for a, b in zip(starts, starts[1:]))


def test_train_mode_an_edge_latches_a_train_until_the_gate_closes():
    trig = [(2000, 2040)]  # a 10 us TTL pulse
    gate = [(0, 12000)]
    edges, _ = pio_trigger.run(
        rp2_pio.MODE_TRAIN, 1, words(3), spans_fn(trig), spans_fn(gate), 30000
    )
    starts = pio_trigger.pulse_starts(edges)
    assert starts[0] == 2003
    assert set(b - a for a, b in zip(starts, starts[1:])) == {1000 * CPU}  # n_o + 4: exact
    assert starts[-1] < 12000 and 12000 - starts[-1] <= 1000 * CPU


def test_train_mode_stuck_high_and_a_closed_gate_use_up_the_edge():
    trig = [(2000, None)]  # goes high and stays high
    gate = [(0, 6000), (10000, None)]  # reopened later: no new edge, no new train
    edges, _ = pio_trigger.run(
        rp2_pio.MODE_TRAIN, 1, words(3), spans_fn(trig), spans_fn(gate), 30000
    )
    starts = pio_trigger.pulse_starts(edges)
    assert starts[0] == 2003 and max(starts) < 7000
    # an edge while the gate is closed starts nothing, then or later
    edges, _ = pio_trigger.run(
        rp2_pio.MODE_TRAIN, 1, words(3), spans_fn([(2000, None)]), spans_fn([(5000, None)]), 30000
    )
    assert pio_trigger.pulse_starts(edges) == []


@pytest.mark.parametrize("mode", [rp2_pio.MODE_GATE, rp2_pio.MODE_TRAIN])
def test_the_dead_man_holds_in_the_triggered_programs(mode):
    tick = 1000 * CPU // 4  # a tick every 250 us here (4 per period), stalled at 5000
    edges, pulls = pio_trigger.run(
        mode, 1, words(mode), spans_fn([(1000, None)]), lambda c: 1, 40000, tick, 5000
    )
    after = [c for c in pulls if c >= 5000]
    assert len(after) <= safety.DEADMAN_PULSES
    assert len(pio_trigger.pulse_starts(edges)) == len(pulls)


def test_the_engine_swaps_programs_within_the_instruction_memory():
    import json

    from rp2_support import ROOT, fakes
    from tvns.board import rp2

    machine, fake_rp2 = fakes()
    config = json.loads((ROOT / "hardware" / "boards" / "pico.json").read_text())
    board = rp2.build(config, machine, fake_rp2)
    eng = board.engine
    for mode, active in [(1, 1), (3, 0), (0, 1), (1, 0), (3, 1), (0, 1)] * 3:
        assert eng.set_trigger(mode, active)
        eng.load(250, 20, 40000)  # ENOMEM if a program were left behind
        sm = eng._sm
        if mode:
            assert sm.init_kw["in_base"] is eng.trigger_pin
            assert sm.init_kw["jmp_pin"] is eng._gate
            pull = machine.Pin.PULL_DOWN if active else machine.Pin.PULL_UP
            assert machine.pins[10]["pull"] == pull  # an open input reads inactive
        else:
            assert sm.init_kw["in_base"] is eng._gate and "jmp_pin" not in sm.init_kw
    used = sum(len(p[0]) for p in fake_rp2.PIO.loaded[0])
    assert used <= 32
