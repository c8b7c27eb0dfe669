"""The trigger / gate input (docs/GATING.md) on the sim board, whose engine models the PIO's
triggered programs: gating (no pulse outside the input's active windows), the caps under a
hostile input (a 10 kHz square wave, a stuck-high line, bounce), the minimum gap, trains
per minute, the stimulation cap, start and train modes, the missing-trigger state, the
marker, the log's events; and the protocol's trigger block."""

import json
import sys

import pytest
from sim_support import DEFAULT, doc, gated, pulse_starts_us
from tvns import protocol as P
from tvns.board.simrun import simulate

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1] / "tools"))
from tvns_tools import trigtrace  # noqa: E402


def windows(trace, end_s=3700.0):
    """[(on_us, off_us)] of level 1 in a trace."""
    out, on = [], None
    for t, lv in trace:
        if lv and on is None:
            on = t
        elif not lv and on is not None:
            out.append((round(on * 1e6), round(t * 1e6)))
            on = None
    if on is not None:
        out.append((round(on * 1e6), round(end_s * 1e6)))
    return out


def events(result, name):
    return [t for t, what in result["trigger_events"] if what == name]


# ---- the protocol's block ----
def test_mode_gate_alone_is_valid_with_safe_defaults():
    p, errs = P.validate(gated())
    assert errs == []
    t = p.trigger.doc()
    assert t == {
        "mode": "gate",
        "polarity": "high",
        "debounce_s": 0.005,
        "min_gap_s": 0.2,
        "max_trains_per_min": 30,
        "max_stim_s": p.derived()["stim_s"],  # never more than the protocol validated
        "missing_s": 10.0,
    }
    assert p.doc["trigger"] == t


@pytest.mark.parametrize(
    "trig,field,code",
    [
        ({}, "trigger.mode", "missing"),
        ({"mode": "pulse"}, "trigger.mode", "out_of_range"),
        ({"mode": "gate", "polarity": "up"}, "trigger.polarity", "out_of_range"),
        ({"mode": "gate", "debounce_s": 0.0005}, "trigger.debounce_s", "resolution"),
        ({"mode": "gate", "debounce_s": 2}, "trigger.debounce_s", "out_of_range"),
        ({"mode": "gate", "max_trains_per_min": 0}, "trigger.max_trains_per_min", "out_of_range"),
        ({"mode": "gate", "max_trains_per_min": 1.5}, "trigger.max_trains_per_min", "resolution"),
        ({"mode": "gate", "max_stim_s": 59.5}, "trigger.max_stim_s", "out_of_range"),
        ({"mode": "gate", "missing_s": 0.5}, "trigger.missing_s", "out_of_range"),
        ({"mode": "gate", "gap_s": 1}, "trigger.gap_s", "unknown_field"),
        ({"mode": "gate", "min_gap_s": "1"}, "trigger.min_gap_s", "type"),
    ],
)
def test_bad_trigger_fields_are_named(trig, field, code):
    p, errs = P.validate(doc(session_s=60, on_s=30, off_s=0, trigger=trig))
    assert p is None
    assert (field, code) in [(e.field, e.code) for e in errs]


def test_train_mode_needs_off_s_0_and_blinded_refuses_a_trigger():
    _p, errs = P.validate(doc(trigger={"mode": "train"}))
    assert [(e.field, e.code) for e in errs] == [("off_s", "out_of_range")]
    _p, errs = P.validate(dict(gated(), blinded=True))
    assert ("trigger", "out_of_range") in [(e.field, e.code) for e in errs]


def test_the_block_is_judged_on_its_text():
    text = json.dumps(DEFAULT)[:-1] + ', "trigger": {"mode": "gate", "missing_s": 0}}'
    p, errs = P.parse(text)
    assert errs == [] and p.trigger.missing_ms == 0
    p, errs = P.parse(text.replace('"missing_s": 0', '"missing_s": 1e0'))
    assert errs == [] and p.trigger.missing_ms == 1000


def test_a_board_without_a_trigger_input_refuses_the_protocol():
    from tvns.app import App
    from tvns.board.sim import SimBoard

    board = SimBoard()
    board.trigger = None
    app = App(board)
    with pytest.raises(Exception) as exc:
        app.load(gated())
    assert exc.value.field == "trigger"
    assert app.protocol is None


# ---- gating ----
def test_no_pulse_outside_the_gate_with_a_breathing_belt():
    trace = trigtrace.breathing(60, breaths_per_min=15, exhale_fraction=0.45)
    r = simulate(gated(), trigger=trace)
    assert r["final_state"] == "DONE" and r["faults"] == []
    win = windows(trace)
    starts = pulse_starts_us(r)
    assert len(starts) > 300
    period = 40000
    for t in starts:  # every pulse starts inside an exhalation (the input active)
        assert any(a <= t < b for a, b in win), t
    for a, b in win:  # and each burst ends within one period of the input going inactive
        inside = [t for t in starts if a <= t < b]
        if inside and b < 59_000_000:  # (the session's own end closes the last one)
            assert b - inside[-1] <= period
            assert inside[0] - a <= period  # the first comes at the edge (or its period)
    # one burst per exhalation once the ramp's first step is on, each logged with its time
    assert len(events(r, "train")) == len([w for w in win if 500_000 <= w[0] < 59_900_000])


def test_bursts_start_at_the_edge_and_ramp_by_one_step_per_pulse():
    trace = [(1.5, 1), (3.5, 0), (5.5, 1), (7.5, 0)]
    r = simulate(gated(), trigger=trace, duration_ms=8000)
    segs = r["segments"]
    assert segs[0][0] == 1_500_000  # the first pulse at the input's edge (the model: 0 us)
    amps = []
    for _s, _p, n, amp, _w, _g in segs:
        amps += [amp] * n
    assert amps[0] == 100
    assert all(b - a <= 100 for a, b in zip(amps, amps[1:]))  # 0.1 mA per pulse at most
    assert all(a > 0 for a in amps)  # never a pulse at 0 uA


def test_a_10_khz_square_wave_never_speeds_the_pulses_up_and_the_stim_cap_holds():
    trace = trigtrace.square(20, 10_000, start_s=1.0)
    r = simulate(gated(max_stim_s=4), trigger=trace, duration_ms=20000)
    starts = pulse_starts_us(r)
    assert all(b - a >= 40000 for a, b in zip(starts, starts[1:]))  # never above 25 Hz
    assert len(starts) == 100  # 4 s of stimulation at 25 Hz, exactly, then nothing
    assert len(events(r, "cap_stim")) == 1
    assert r["faults"] == []


def test_a_stuck_high_input_in_train_mode_gives_one_train():
    p = gated("train")
    p["on_s"] = 2
    r = simulate(p, trigger=[(1.0, 1)], duration_ms=30000)
    assert len(events(r, "train")) == 1
    starts = pulse_starts_us(r)
    assert starts[0] == 1_000_000
    assert starts[-1] - starts[0] <= 2_001_000  # one train of on_s (+ the tick's 1 ms)


def test_bounce_on_the_edge_starts_one_train():
    p = gated("train")
    p["on_s"] = 1
    bounce = [(2.0 + k * 0.0003, 1 - k % 2) for k in range(9)]  # 9 edges in 2.4 ms, ends high
    trace = bounce + [(4.0, 0), (6.0, 1), (6.5, 0)]
    r = simulate(p, trigger=trace, duration_ms=9000)
    assert len(events(r, "train")) == 2  # the bouncy edge, then the clean one at 6 s
    starts = pulse_starts_us(r)
    assert starts[0] == 2_000_000


def test_train_mode_each_edge_one_train_of_on_s_with_the_minimum_gap():
    p = gated("train", min_gap_s=1.5)
    p["on_s"] = 1
    # short TTL pulses: the train runs its on_s whatever the input does
    trace = [(2.0, 1), (2.001, 0), (3.5, 1), (3.501, 0), (5.0, 1), (5.001, 0)]
    r = simulate(p, trigger=trace, duration_ms=8000)
    trains = events(r, "train")
    assert len(trains) == 2  # 3.5 s falls in the gap after the first train (ends ~3.04 s)
    starts = pulse_starts_us(r)
    first = [t for t in starts if t < 3_200_000]
    assert first[0] == 2_000_000 and first[-1] - first[0] < 1_001_000
    assert min(t for t in starts if t > 3_200_000) == 5_000_000


def test_trains_per_minute_cap_under_a_fast_input():
    p = gated("train", max_trains_per_min=5, min_gap_s=0)
    p["on_s"] = 0.1
    trace = []
    for k in range(40):  # an edge every 0.5 s
        trace += [(1.0 + k * 0.5, 1), (1.0 + k * 0.5 + 0.05, 0)]
    r = simulate(p, trigger=trace, duration_ms=21000)
    assert len(events(r, "train")) == 5
    assert len(events(r, "cap_rate")) >= 1


def test_missing_trigger_is_a_visible_state_and_clears_when_it_comes_back():
    r = simulate(
        gated(missing_s=2), trigger=[(1.0, 1), (1.5, 0), (6.0, 1), (6.5, 0)], duration_ms=8000
    )
    assert events(r, "missing") == [pytest.approx(3.0, abs=0.005)]  # 2 s after the edge
    assert events(r, "back") == [pytest.approx(6.0, abs=0.01)]


def test_start_mode_session_time_starts_at_the_edge():
    p = doc(session_s=20, on_s=5, off_s=5, trigger={"mode": "start"})
    r = simulate(p, trigger=[(3.0, 1)], duration_ms=30000)
    assert r["final_state"] == "DONE"
    starts = pulse_starts_us(r)
    # the ramp's first step (1 mA in 10 steps of 0.5 s) 0.5 s after the edge (1 ms tick)
    assert 3_500_000 <= starts[0] <= 3_502_000
    assert events(r, "start") == [0.0]


def test_the_marker_rises_at_each_train_onset_within_a_tick():
    trace = [(1.5, 1), (3.5, 0), (5.5, 1), (7.5, 0)]
    r = simulate(gated(), trigger=trace, duration_ms=8000)
    rises = [t for t, lv in r["marker_edges"] if lv]
    falls = [t for t, lv in r["marker_edges"] if not lv]
    assert len(rises) == 2 and len(falls) == 2
    for rise, onset in zip(rises, (1_500_000, 5_500_000)):
        assert 0 <= rise - onset <= 1000  # within the 1 ms tick of the first pulse
    for fall, end in zip(falls, (3_500_000, 7_500_000)):
        assert end <= fall <= end + 40000 + 2000  # a period after the last pulse


def test_scheduled_trains_drive_the_marker_too():
    r = simulate(doc(session_s=30, on_s=5, off_s=5), duration_ms=30000)
    rises = [t for t, lv in r["marker_edges"] if lv]
    gate_rises = [t for t, lv in r["gate_edges"] if lv]
    assert rises == gate_rises


def test_trigger_events_are_logged_with_session_time(tmp_path):
    from tvns.log import read_file

    path = tmp_path / "s.jsonl"
    simulate(gated(), trigger=[(1.5, 1), (3.5, 0)], duration_ms=5000, log_path=str(path))
    recs = [r for r in read_file(str(path)) if r["kind"] == "trigger"]
    assert [(r["event"], r["t_s"]) for r in recs][:3] == [
        ("train", 1.501),
        ("on", 1.501),
        ("off", 3.501),
    ]
    start = next(r for r in read_file(str(path)) if r["kind"] == "session_start")
    assert start["protocol"]["trigger"]["mode"] == "gate"


def _soft_board():
    """The sim board with an engine that does not follow the input (as the ESP32's RMT
    engine): the tick gates with the debounced level, a millisecond path."""
    from tvns.board.sim import SimBoard

    board = SimBoard()
    board.engine.set_trigger = None
    return board


def test_soft_path_gates_with_the_debounced_level_within_debounce_plus_a_tick():
    trace = [(1.5, 1), (3.5, 0), (5.5, 1), (7.5, 0)]
    r = simulate(gated(debounce_s=0.005), trigger=trace, duration_ms=8000, board=_soft_board())
    starts = pulse_starts_us(r)
    win = windows(trace)
    for a, b in win:
        inside = [t for t in starts if a <= t <= b + 40000]
        assert inside
        assert 5000 <= inside[0] - a <= 5000 + 2000  # debounce + at most the tick's 1 ms
        assert inside[-1] - b <= 6000  # closes within debounce + a tick of the input
    assert all(any(a <= t <= b + 6000 for a, b in win) for t in starts)


def test_soft_path_ignores_a_10_khz_square_wave():
    trace = trigtrace.square(5, 10_000, start_s=1.0)
    r = simulate(gated(), trigger=trace, duration_ms=5000, board=_soft_board())
    assert r["pulses"] == 0  # never held for the debounce: the gate never opens
