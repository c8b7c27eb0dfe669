"""Invariants 1, 3, 4, 5 and 6 of docs/ARCHITECTURE.md over many generated protocols
(hypothesis), checked on the exact trace of the sim board."""

from esp32_support import sim_esp32
from gen_support import OUTPUT_STATES, state_at, valid_protocols
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sim_support import DEFAULT, loop
from tvns import errors as E
from tvns import protocol
from tvns import session as S
from tvns.app import App
from tvns.board.sim import SimBoard
from tvns.board.simrun import simulate
from tvns.board.simtrace import iter_edges, iter_pulses


def pipeline_us(result):
    """How long after the control tick decided a pulse it reaches the pins: 0 on the sim
    board; on the ESP32 model the RMT engine's latency plus the write's entry cost (the
    commit is the decision: docs/ESP32.md)."""
    rmt = result.get("rmt")
    return 0 if rmt is None else rmt["latency_us"] + rmt["entry_us"]


def decided_in_output(states, start_us, shift_us):
    """Invariant 4 for a pulse that started at start_us, decided shift_us earlier (0 on the
    sim board). States are stamped in whole ms of session time; on the ESP32 a decision can
    fall inside the ms of the tick that then changed the state, after its stamp."""
    if not shift_us:
        return state_at(states, start_us / 1e6) in OUTPUT_STATES
    t = start_us - shift_us
    return state_at(states, t / 1e6) in OUTPUT_STATES or (
        state_at(states, (t - t % 1000 - 1) / 1e6) in OUTPUT_STATES
    )


def check_trace(doc, result, ceiling_ua):
    pulses = list(iter_pulses(result["segments"]))
    shift = pipeline_us(result)
    p = protocol.validate(doc)[0]
    session_us = p.session_ms * 1000
    # exact count, as derived independently from the schedule. The ESP32's first train opens a
    # few hundred us into its millisecond (the engine's load writes cost time on the silicon
    # model): with a period that is not whole ms its last pulse can fall past the gate edge.
    first_gate = min([t for t, level in result["gate_edges"] if level] or [0])
    short = 1 if shift and first_gate > 0 else 0
    assert len(pulses) == result["pulses"]
    assert 0 <= p.derived()["pulses_total"] - result["pulses"] <= short
    assert result["final_state"] == "DONE" and round(result["sim_s"] * 1000) == p.session_ms
    prev_end = -1
    for start, amp, width, gap in pulses:
        end = start + 2 * width + gap
        # invariant 1: one pulse at a time, phase B only after phase A ended
        assert start >= prev_end
        prev_end = end
        # invariant 3: never above the setpoint or the active ceiling
        assert 0 <= amp <= min(p.amplitude_ua, ceiling_ua)
        # invariant 4: pulses start only where output is allowed (decided there, on the ESP32)
        assert decided_in_output(result["states"], start, shift)
        # invariant 5: nothing runs past the session
        assert end <= session_us
    # invariant 1 again, straight from the edges a scope would see
    a = b = 0
    for _t, a, b in iter_edges(result["segments"]):
        assert not (a and b)
    assert a == 0 and b == 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_protocols(), st.integers(0, 4))
def test_invariants_hold_for_generated_protocols(doc, ceiling_choice):
    _check_generated(SimBoard, doc, ceiling_choice)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_protocols(), st.integers(0, 4))
def test_invariants_hold_for_generated_protocols_on_the_esp32(doc, ceiling_choice):
    """The ESP32 board model: its RMT frames, read back from the pins (a tick per pulse
    makes each run costlier than the sim board's, hence fewer examples)."""
    _check_generated(sim_esp32, doc, ceiling_choice)


def _check_generated(make, doc, ceiling_choice):
    amp_ua = round(doc["amplitude_ma"] * 1000)
    ceiling_ua = (amp_ua, 10000, (amp_ua + 10000) // 2, amp_ua + 1, 10000)[ceiling_choice]
    result = simulate(doc, board=make(ceiling_ua=min(ceiling_ua, 10000)))
    check_trace(doc, result, ceiling_ua)
    if doc["sham"]:
        assert result["pulses"] == 0


@settings(max_examples=60, deadline=None)
@given(valid_protocols(), st.floats(0, 1), st.sampled_from((0, 0, 5, 20, 50)), st.integers(1, 99))
def test_stop_at_any_time_ends_stopped_and_quiet(doc, frac, jitter_ms, seed):
    """A stop at any time, ticks up to 50 ms late: STOPPED (never a fault), monotone down,
    over within its nominal length plus one late tick (steps timed from the stop)."""
    board = SimBoard(jitter_ms=jitter_ms, seed=seed)
    app = App(board)
    p = app.load(doc)
    app.arm()
    app.start()
    stop_at_ms = int(p.session_ms * frac * 0.95)
    while (board.clock.now_us // 1000) < stop_at_ms:
        loop(app, min(100, stop_at_ms - board.clock.now_us // 1000) or 1)
    if not app.session.running():
        return
    segs = board.engine.drain([])
    amp_at_stop = app.scheduler.amp_ua
    t_stop = board.clock.now_us
    app.stop()
    loop(app, 3000)
    assert app.session.state == S.STOPPED, (S.NAMES[app.session.state], app.faults)
    assert not board.engine.gated and board.dac.value_ua == 0
    after = [q for q in iter_pulses(board.engine.drain(segs, flush=True)) if q[0] >= t_stop]
    amps = [q[1] for q in after]
    assert amps == sorted(amps, reverse=True)
    assert all(a <= amp_at_stop for a in amps)
    # fast ramp: one 0.1 mA step per 10 ms, plus the pulse in flight and one late tick
    bound_us = (amp_at_stop // 100 + 2) * 10000 + p.period_us + 2 * jitter_ms * 1000
    assert all(q[0] < t_stop + bound_us for q in after)
    for q in after:
        assert q[0] + 2 * q[2] + q[3] <= p.session_ms * 1000  # nothing past the session


INVALID_VALUES = {
    "amplitude_ma": (0, 10.5, "1", True, None, float("nan")),
    "pulse_width_us": (19, 1001, 100.5, "250"),
    "interphase_gap_us": (-1, 101, [0]),
    "frequency_hz": (0, 101, float("inf"), False),
    "on_s": (0, 3601, "30"),
    "off_s": (-1, 0.05, {}),
    "ramp_up_s": (0.5, 601, None),
    "ramp_down_s": (0, 601, "x"),
    "session_s": (0, 3601, 1e400),
    "electrode_area_cm2": (0, 101, -1),
    "sham": (1, "yes", None),
    "schema": (0, 2, "1"),
    "name": ("", "n" * 65, 7),
}


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(INVALID_VALUES)), st.data())
def test_any_bad_field_is_named_and_changes_nothing(field, data):
    """Invariant 6 over every field and a range of bad values."""
    value = data.draw(st.sampled_from(INVALID_VALUES[field]))
    board = SimBoard()
    app = App(board)
    good = app.load(dict(DEFAULT))
    app.arm()
    bad = dict(DEFAULT)
    bad[field] = value
    try:
        app.load(bad)
        raise AssertionError("accepted %s=%r" % (field, value))
    except E.TvnsError as exc:
        assert field in [e.field for e in exc.errors]
        for e in exc.errors:
            assert e.code in E.VALIDATION_CODES and e.message
    assert app.protocol is good and app.session.state == S.ARMED
    assert not board.engine.gated and board.dac.value_ua == 0


def _naive_pulses(p):
    """The engine's rule applied window by window (schedule.gate_windows_ms), as the
    firmware counted before its closed form: a reference for pulse_count."""
    from tvns import schedule

    n, free = 0, 0
    for a, b in schedule.gate_windows_ms(p):
        first = max(a * 1000, free)
        if b * 1000 > first:
            c = -(-(b * 1000 - first) // p.period_us)
            n, free = n + c, first + c * p.period_us
    return n


@settings(max_examples=80, deadline=None)
@given(
    st.integers(1000, 12000),  # mHz: periods longer than the OFF time (the engine then waits)
    st.integers(1, 30),
    st.integers(1, 20),
    st.integers(1, 5),
    st.integers(0, 60000),
    st.integers(0, 2),
)
def test_closed_form_counts_match_the_engine_for_short_trains(
    f_mhz, on_ds, off_ds, amp_steps, extra_ms, ramp_pad_ms
):
    """pulse_count/output_ms (closed form, trains walked only until their offsets cycle)
    against the sim engine's trace and a window-by-window count, where a train's first pulse
    waits for the previous period to end."""
    period_us = (2 * 10**9 // f_mhz + 1) // 2
    ramp_ms = amp_steps * (period_us + 1000) // 1000 + 1 + ramp_pad_ms * 700
    ramp_ms = max(ramp_ms, 1000)
    d = dict(
        DEFAULT,
        amplitude_ma=amp_steps / 10,
        frequency_hz=f_mhz / 1000,
        pulse_width_us=100,
        on_s=on_ds / 10,
        off_s=off_ds / 10,
        ramp_up_s=ramp_ms / 1000,
        ramp_down_s=ramp_ms / 1000,
        session_s=(2 * ramp_ms + extra_ms) / 1000,
        electrode_area_cm2=5,
    )
    p, errs = protocol.validate(d)
    assert p is not None, errs
    r = simulate(d, board=SimBoard())
    assert r["pulses"] == p.derived()["pulses_total"] == _naive_pulses(p), d
    from tvns import schedule

    assert schedule.output_ms(p) == sum(b - a for a, b in schedule.gate_windows_ms(p))
