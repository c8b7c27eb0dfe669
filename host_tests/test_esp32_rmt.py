"""The ESP32 RMT pulse engine (board/esp32_rmt.py) on the silicon model: what its frames
put on the pins equals the sim board's exact model engine, shifted by the engine's constant
pipeline latency, over >= 100 periods of the edge protocols (20 and 1000 us phases, 0 and
100 us gaps, 1 and 100 Hz); A and B are never high together; the gap grows by the channel
start skew only, within the bound the engine measures; 15-bit items; no write ever
blocks; the dead man; late ticks stretch periods and never shrink them."""

import pytest
from esp32_support import build, esp32_config, pulses, run_ms, sim_config
from hypothesis import given, settings
from hypothesis import strategies as st
from sim_support import doc
from tvns.board import esp32_rmt
from tvns.board.sim import SimBoard
from tvns.board.simesp32 import SimEsp32Board
from tvns.board.simrun import simulate
from tvns.board.simtrace import iter_pulses

ENTRY_US, RETURN_US = 20, 10  # the silicon model's cost of one write_pulses call

EDGE = {
    "20us-0gap-100hz": doc(
        pulse_width_us=20, interphase_gap_us=0, frequency_hz=100, amplitude_ma=2,
        on_s=1, off_s=1, ramp_up_s=2, ramp_down_s=2, session_s=8,
    ),
    "1000us-100gap-100hz": doc(
        pulse_width_us=1000, interphase_gap_us=100, frequency_hz=100, amplitude_ma=1,
        electrode_area_cm2=3, on_s=1, off_s=0.5, ramp_up_s=2, ramp_down_s=2, session_s=6,
    ),
    "20us-100gap-1hz": doc(
        pulse_width_us=20, interphase_gap_us=100, frequency_hz=1, amplitude_ma=1,
        on_s=60, off_s=0, ramp_up_s=11, ramp_down_s=11, session_s=120,
    ),
    "1000us-0gap-1hz": doc(
        pulse_width_us=1000, interphase_gap_us=0, frequency_hz=1, amplitude_ma=1,
        on_s=50, off_s=10, ramp_up_s=11, ramp_down_s=11, session_s=130,
    ),
}  # fmt: skip


def _instants(edges, wires):
    """[(t, {wire: level})]: every instant at which one of the wires changes, in order."""
    out = {}
    for w in wires:
        for t, v in edges[w]:
            out.setdefault(t, {})[w] = v
    return sorted(out.items())


def _trains(result):
    """Gate-on instants (us) of a run."""
    return [t for t, level in result["gate_edges"] if level]


@pytest.mark.parametrize("name", sorted(EDGE))
def test_rmt_frames_equal_the_model_engine_shifted_by_the_pipeline(name):
    d = EDGE[name]
    model = simulate(d, board=SimBoard())
    board = SimEsp32Board(sim_config(), entry_us=ENTRY_US, return_us=RETURN_US)
    board.engine.keep_frames = True
    rmt = simulate(d, board=board)
    assert rmt["final_state"] == model["final_state"] == "DONE"
    m = list(iter_pulses(model["segments"]))
    r = list(iter_pulses(rmt["segments"]))
    assert len(r) == len(m) >= 100 and rmt["pulses"] == model["pulses"]
    lat = rmt["rmt"]["latency_us"]
    assert lat == 6000
    m_on, r_on = _trains(model), _trains(rmt)
    assert len(m_on) == len(r_on)
    width, gap = d["pulse_width_us"], d["interphase_gap_us"]
    skews = set()
    for (ms, ma, mw, mg), (rs, ra, rw, rg) in zip(m, r, strict=True):
        assert ra == ma and mw == rw == width and mg == gap  # amplitude, widths exact
        k = max(i for i, t in enumerate(m_on) if t <= ms)  # the train it belongs to
        shift = r_on[k] - m_on[k]  # the tick grid and the load's cost at that gate edge
        assert -1000 < shift < 1000  # the ms grid of the soft timer, against the run start
        assert rs - ms == lat + ENTRY_US + shift  # a constant: the pipeline
        skews.add(rg - gap)
    # the gap grows by the start skew of B's channel after A's: one call's return + entry
    assert skews == {RETURN_US + ENTRY_US}
    assert rmt["rmt"]["skew_bound_us"] >= RETURN_US + ENTRY_US
    assert rmt["rmt"]["skew_bound_us"] <= rmt["rmt"]["skew_max_us"] and rmt["rmt"]["skew_over"] == 0
    # straight from the pads: A and B never high together, SYNC covers every pulse
    edges = rmt["rmt_edges"]
    level = {"phase_a": 0, "phase_b": 0, "sync": 0}
    for t, changes in _instants(edges, level):
        level.update(changes)
        assert not (level["phase_a"] and level["phase_b"]), t
        if level["phase_a"] or level["phase_b"]:
            assert level["sync"], t
    # nothing waited, nothing spun, each item buffer grew once (the priming write)
    assert rmt["rmt"]["blocked_us"] == 0 and rmt["rmt"]["spin_us"] == 0
    assert set(rmt["rmt"]["item_buffer_grows"]) == {1}


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(sorted(EDGE)),
    st.integers(0, 150),
    st.integers(0, 150),
    st.integers(0, 120),
    st.integers(1, 10_000),
)
def test_a_and_b_never_overlap_whatever_the_calls_cost(name, entry, ret, jitter, seed):
    """Any cost of write_pulses, constant or not: B's rise is never before A's fall + gap,
    and the gap grows by no more than the skew bound the engine measured."""
    d = dict(EDGE[name], session_s=6, on_s=1, off_s=0.5, ramp_up_s=2, ramp_down_s=2)
    if d["frequency_hz"] == 1:
        d.update(frequency_hz=100, amplitude_ma=1)
    board = SimEsp32Board(
        sim_config(), entry_us=entry, return_us=ret, latency_jitter_us=jitter, seed=seed
    )
    board.engine.keep_frames = True
    r = simulate(d, board=board)
    gap = d["interphase_gap_us"]
    bound = r["rmt"]["skew_bound_us"]
    got = list(iter_pulses(r["segments"]))
    assert got and r["final_state"] == "DONE"
    for _start, _amp, width, g in got:
        assert width == d["pulse_width_us"] and gap <= g <= gap + bound
    level = {"phase_a": 0, "phase_b": 0}
    for t, changes in _instants(r["rmt_edges"], level):
        level.update(changes)
        assert not (level["phase_a"] and level["phase_b"]), t


def test_skew_comp_gives_the_gap_back_when_set_to_the_measured_skew():
    cfg = sim_config()
    cfg["rmt"]["skew_comp_us"] = RETURN_US + ENTRY_US
    r = simulate(EDGE["20us-0gap-100hz"], board=SimEsp32Board(cfg))
    assert {g for _s, _a, _w, g in iter_pulses(r["segments"])} == {0}


@given(st.integers(1, 80_000_000), st.integers(0, 3))
def test_split_keeps_every_item_15_bit_and_the_sum_exact(ticks, extra):
    n = esp32_rmt.items_for(ticks) + extra
    if ticks < n:
        n = ticks
    durs = [0] * (n + 2)
    esp32_rmt.split(durs, 1, n, ticks)
    assert durs[0] == durs[-1] == 0  # only its own slots
    assert sum(durs) == ticks and all(1 <= x <= esp32_rmt.PULSE_MAX for x in durs[1:-1])


def test_80mhz_resolution_splits_long_phases_and_keeps_them_exact():
    cfg = esp32_config(**{"rmt.resolution_hz": 80_000_000})
    board, chip = build(cfg)
    board.engine.load(1000, 100, 10000)  # 80,000 ticks per phase: 3 items each
    board.engine.gate(True)
    run_ms(board, chip, 40)
    got = pulses(chip, cfg)
    assert len(got) == 4  # 6, 16, 26, 36 ms: one per 10 ms period after the 6 ms pipeline
    for ra, fa, rb, fb in got:
        assert fa - ra == 1000 and fb - rb == 1000 and rb - fa >= 100
    for ch in chip.channels:
        for _start, items, _end in ch.tx:
            assert all(d <= esp32_rmt.PULSE_MAX * ch.div for d, _lv in items)
    # and the model is as unforgiving as silicon: a 15-bit field truncates, it does not clip
    rmt = chip.esp32.RMT(pin=chip.machine.Pin(14), resolution_hz=1_000_000)
    rmt.write_pulses([10, 40000, 1], [0, 1, 0])
    assert rmt._ch.tx[-1][1][1][0] == (40000 & 0x7FFF) * 80  # 7232 us, not 40 ms


def test_the_engine_refuses_what_one_rmt_block_cannot_hold():
    cfg = esp32_config(**{"rmt.resolution_hz": 80_000_000, "rmt.latency_us": 7000})
    board, _chip = build(cfg)
    board.engine.load(1000, 100, 1_000_000)  # fits: 18 + 3 + 1 items
    assert esp32_rmt.latency_for(board.engine.cfg, 1000, 100, 10000) == 7000
    assert esp32_rmt.latency_for(board.engine.cfg, 1000, 100, 9000) < 7000  # shortened


@pytest.mark.parametrize("hz", [1, 25, 100])
def test_dead_man_a_stalled_cpu_lets_out_at_most_one_pulse(hz):
    d = doc(
        frequency_hz=hz,
        amplitude_ma=1,
        on_s=30,
        off_s=0,
        ramp_up_s=11,
        ramp_down_s=11,
        session_s=60,
    )
    at_ms = 20_500
    board = SimEsp32Board(sim_config())
    r = simulate(d, board=board, inject=[("stall", at_ms)])
    after = [p for p in iter_pulses(r["segments"]) if p[0] >= at_ms * 1000]
    assert len(after) <= 1  # the bound asked is 2
    assert r["resets"] and r["resets"][0][1] == "watchdog"


def test_late_ticks_stretch_periods_and_never_shrink_them():
    d = doc(
        frequency_hz=100, amplitude_ma=2, on_s=2, off_s=1, ramp_up_s=2, ramp_down_s=2, session_s=12
    )
    board = SimEsp32Board(sim_config(), jitter_ms=20, seed=7)
    r = simulate(d, board=board)
    got = list(iter_pulses(r["segments"]))
    assert r["rmt"]["late"] > 0  # 20 ms late ticks miss the 6 ms pipeline
    prev_start, prev_amp = None, 0
    for start, amp, _w, _g in got:
        if prev_start is not None:
            assert start - prev_start >= 10_000  # never faster than 100 Hz
        assert amp - prev_amp <= 100  # and no ramp step above 0.1 mA between pulses
        prev_start, prev_amp = start, amp
