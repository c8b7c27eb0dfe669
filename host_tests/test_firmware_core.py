"""Firmware core checks in plain asserts: pytest collects them under CPython, and
mp_runner.py runs the same file under the MicroPython unix runtime (test_micropython.py).
Only firmware modules are imported here, so both runtimes can run it. Long on purpose: one
module is one MicroPython process in test_micropython.py, and SAFETY.md names these tests."""

import json

from sim_support import DEFAULT, doc, loop, started
from tvns import errors as E
from tvns import limits as L
from tvns import safety as F
from tvns import session as S
from tvns.app import App
from tvns.board.sim import SimBoard
from tvns.board.simrun import simulate
from tvns.board.simtrace import iter_edges, iter_pulses


def errors_of(d):
    from tvns import protocol

    proto, errs = protocol.validate(d)
    return proto, [(e.field, e.code) for e in errs]


# ---- validation: edge values of every limit, both sides ----
SLOW = {"ramp_up_s": 60, "ramp_down_s": 60}  # 1 Hz ramps need one period per 0.1 mA step
EDGES = (
    # (changes, expected (field, code) or None for valid)
    ({"amplitude_ma": 0.001}, None),
    ({"amplitude_ma": 0}, ("amplitude_ma", E.OUT_OF_RANGE)),
    ({"amplitude_ma": 10.0}, None),
    ({"amplitude_ma": 10.001}, ("amplitude_ma", E.OUT_OF_RANGE)),
    ({"amplitude_ma": 1.0005}, ("amplitude_ma", E.RESOLUTION)),
    ({"pulse_width_us": 20}, None),
    ({"pulse_width_us": 19}, ("pulse_width_us", E.OUT_OF_RANGE)),
    ({"pulse_width_us": 1000}, None),
    ({"pulse_width_us": 1001}, ("pulse_width_us", E.OUT_OF_RANGE)),
    ({"pulse_width_us": 250.5}, ("pulse_width_us", E.RESOLUTION)),
    ({"interphase_gap_us": 0}, None),
    ({"interphase_gap_us": -1}, ("interphase_gap_us", E.OUT_OF_RANGE)),
    ({"interphase_gap_us": 100}, None),
    ({"interphase_gap_us": 101}, ("interphase_gap_us", E.OUT_OF_RANGE)),
    (dict(SLOW, frequency_hz=1), None),
    (dict(SLOW, frequency_hz=0.999), ("frequency_hz", E.OUT_OF_RANGE)),
    ({"frequency_hz": 100}, None),
    ({"frequency_hz": 100.001}, ("frequency_hz", E.OUT_OF_RANGE)),
    ({"on_s": 0.1}, None),
    ({"on_s": 0.099}, ("on_s", E.OUT_OF_RANGE)),
    ({"on_s": 3600}, None),
    ({"on_s": 3600.001}, ("on_s", E.OUT_OF_RANGE)),
    ({"off_s": 0}, None),
    ({"off_s": 0.099}, ("off_s", E.OUT_OF_RANGE)),
    ({"off_s": 0.1}, None),
    ({"off_s": -1}, ("off_s", E.OUT_OF_RANGE)),
    ({"ramp_up_s": 1}, None),
    ({"ramp_up_s": 0.999}, ("ramp_up_s", E.OUT_OF_RANGE)),
    ({"ramp_up_s": 0}, ("ramp_up_s", E.OUT_OF_RANGE)),
    ({"ramp_down_s": 1}, None),
    ({"ramp_down_s": 0.999}, ("ramp_down_s", E.OUT_OF_RANGE)),
    ({"ramp_up_s": 600, "session_s": 3600}, None),
    ({"ramp_up_s": 600.001, "session_s": 3600}, ("ramp_up_s", E.OUT_OF_RANGE)),
    ({"session_s": 3600}, None),
    ({"session_s": 3600.001}, ("session_s", E.OUT_OF_RANGE)),
    ({"session_s": 2, "ramp_up_s": 1, "ramp_down_s": 1}, None),
    ({"session_s": 1.999, "ramp_up_s": 1, "ramp_down_s": 1}, ("session_s", E.OUT_OF_RANGE)),
    ({"session_s": 600, "ramp_up_s": 300, "ramp_down_s": 300}, None),
    ({"session_s": 599, "ramp_up_s": 300, "ramp_down_s": 300}, ("session_s", E.RAMP_FIT)),
    ({"electrode_area_cm2": 100}, None),
    ({"electrode_area_cm2": 100.01}, ("electrode_area_cm2", E.OUT_OF_RANGE)),
    ({"electrode_area_cm2": 0}, ("electrode_area_cm2", E.OUT_OF_RANGE)),
    ({"electrode_area_cm2": 0.01, "amplitude_ma": 0.01}, None),
    # charge per phase: 5 mA x 1000 us = 5 uC is the limit itself
    ({"amplitude_ma": 5, "pulse_width_us": 1000}, None),
    ({"amplitude_ma": 5.001, "pulse_width_us": 1000}, ("amplitude_ma", E.CHARGE)),
    # Shannon k: 5 uC on 0.36 cm2 -> 1.842; on 0.35 cm2 -> 1.854 (1 Hz keeps density low)
    (
        dict(SLOW, amplitude_ma=5, pulse_width_us=1000, frequency_hz=1, electrode_area_cm2=0.36),
        None,
    ),
    (
        dict(SLOW, amplitude_ma=5, pulse_width_us=1000, frequency_hz=1, electrode_area_cm2=0.35),
        ("electrode_area_cm2", E.SHANNON),
    ),
    # r.m.s. density: 10 mA, 250 us, 25 Hz -> 1.118 mA r.m.s.; 0.56 cm2 ok, 0.55 cm2 too dense
    ({"amplitude_ma": 10, "electrode_area_cm2": 0.56}, None),
    ({"amplitude_ma": 10, "electrode_area_cm2": 0.55}, ("electrode_area_cm2", E.DENSITY)),
    # ramp rate: 10 mA at 25 Hz = 100 steps of (40 ms + 1 ms) -> at least 4.101 s
    ({"amplitude_ma": 10, "ramp_up_s": 4.101}, None),
    ({"amplitude_ma": 10, "ramp_up_s": 4.1}, ("ramp_up_s", E.RAMP_RATE)),
    ({"amplitude_ma": 10, "ramp_down_s": 4.1}, ("ramp_down_s", E.RAMP_RATE)),
    ({"amplitude_ma": 1, "frequency_hz": 1, "ramp_up_s": 10.011, "ramp_down_s": 10.011}, None),
    ({"amplitude_ma": 1, "frequency_hz": 1, "ramp_up_s": 10.01}, ("ramp_up_s", E.RAMP_RATE)),
    ({"name": "x" * 64}, None),
    ({"name": ""}, ("name", E.OUT_OF_RANGE)),
    ({"name": "x" * 65}, ("name", E.OUT_OF_RANGE)),
    ({"schema": 2}, ("schema", E.SCHEMA)),
    ({"sham": True}, None),
)


def test_limit_edges_both_sides():
    for changes, expected in EDGES:
        proto, errs = errors_of(doc(**changes))
        if expected is None:
            assert proto is not None and errs == [], (changes, errs)
        else:
            assert proto is None, changes
            assert expected in errs, (changes, errs)


BAD_TYPES = (
    ("amplitude_ma", "1.0", E.TYPE),
    ("amplitude_ma", True, E.TYPE),
    ("amplitude_ma", None, E.TYPE),
    ("amplitude_ma", [1], E.TYPE),
    ("amplitude_ma", {"v": 1}, E.TYPE),
    ("amplitude_ma", float("nan"), E.NOT_FINITE),
    ("amplitude_ma", float("inf"), E.NOT_FINITE),
    ("amplitude_ma", -1.0, E.OUT_OF_RANGE),
    ("pulse_width_us", "250", E.TYPE),
    ("pulse_width_us", False, E.TYPE),
    ("frequency_hz", float("-inf"), E.NOT_FINITE),
    ("session_s", 10**30, E.OUT_OF_RANGE),
    ("sham", 0, E.TYPE),
    ("sham", "false", E.TYPE),
    ("name", 5, E.TYPE),
    ("schema", "1", E.TYPE),
)


def test_wrong_types_are_clear_errors():
    for field, value, code in BAD_TYPES:
        proto, errs = errors_of(doc(**{field: value}))
        assert proto is None
        assert (field, code) in errs, (field, value, errs)


def test_missing_and_unknown_fields_all_reported_at_once():
    d = doc(amplitude_mA=1.0, freq=25)
    del d["amplitude_ma"]
    del d["session_s"]
    proto, errs = errors_of(d)
    assert proto is None
    for want in (
        ("amplitude_ma", E.MISSING),
        ("session_s", E.MISSING),
        ("amplitude_mA", E.UNKNOWN_FIELD),
        ("freq", E.UNKNOWN_FIELD),
    ):
        assert want in errs, errs


def test_every_error_names_field_code_and_limit():
    from tvns import protocol

    proto, errs = protocol.validate(doc(pulse_width_us=1001, frequency_hz=250, on_s=0))
    assert proto is None and len(errs) == 3
    for e in errs:
        assert e.code in E.VALIDATION_CODES
        assert e.field in e.message
    msgs = " ".join(e.message for e in errs)
    assert "20..1000" in msgs and "1..100" in msgs and "0.1..3600" in msgs


def test_text_inputs_never_traceback():
    from tvns import protocol

    cases = (
        (b"", E.EMPTY),
        ("   \n", E.EMPTY),
        (None, E.EMPTY),
        ("{", E.JSON),
        ("[1, 2]", E.JSON),
        ("42", E.JSON),
        ("null", E.JSON),
        (b"\xff\xfe\x00garbage", E.JSON),
        ("x" * (L.PROTOCOL_MAX_BYTES + 1), E.TOO_LARGE),
        ("[" * 3000, E.JSON),
        ("[" * 5000, E.TOO_LARGE),
        ("[" * 2000 + "]" * 2000, E.JSON),
    )
    for text, code in cases:
        proto, errs = protocol.parse(text)
        assert proto is None
        assert errs[0].code == code, (text[:20] if text else text, errs[0].code)
    proto, errs = protocol.parse(json.dumps(DEFAULT))
    assert proto is not None and errs == []


def test_pulse_fit_is_guaranteed_by_the_limits_and_still_checked():
    # The widest pulse at the highest frequency leaves more than the minimum off time...
    worst = 2 * L.WIDTH_MAX_US + L.GAP_MAX_US + L.OFF_MIN_US
    assert worst <= 1000000 // L.FREQ_MAX_HZ
    # ...and the check itself fires if the ranges were ever widened.
    from tvns import checks

    errs = []
    checks.check_combined(
        errs, {"pulse_width_us": 1000, "interphase_gap_us": 100, "frequency_hz": 500000}
    )  # check_combined takes integer units: frequency in mHz
    assert [(e.field, e.code) for e in errs] == [("frequency_hz", E.PULSE_FIT)]


def test_board_ceiling_is_enforced():
    board = SimBoard(ceiling_ua=2000)
    app = App(board)
    try:
        app.load(doc(amplitude_ma=2.5))
        raise AssertionError("load above the board ceiling was accepted")
    except E.TvnsError as exc:
        assert exc.code == E.ABOVE_CEILING and exc.field == "amplitude_ma"
    app.load(doc(amplitude_ma=2.0))


def test_bad_input_changes_nothing():
    """Invariant 6: after bad input, a clear error and no state changed."""
    app = App(SimBoard())
    good = app.load(doc())
    app.arm()
    for bad in (doc(amplitude_ma=11), "not json", doc(bogus=1), b""):
        try:
            app.load(bad)
            raise AssertionError("bad protocol accepted")
        except E.TvnsError as exc:
            assert exc.code in E.VALIDATION_CODES
            assert exc.errors
        assert app.protocol is good
        assert app.scheduler.protocol is good
        assert app.session.state == S.ARMED


# ---- derived figures ----
def test_derived_figures_of_the_default():
    from tvns import protocol

    proto, _ = protocol.validate(doc())
    d = proto.derived()
    assert d["charge_per_phase_uc"] == 0.25
    # 1 mA * sqrt(2 * 250e-6 * 25) = 0.111803 mA: 112 uA at the board's 1 uA
    assert d["rms_current_ma"] == 0.112 and d["rms_current_density_ma_cm2"] == 0.112
    assert d["shannon_k"] == -1.204  # log10(0.25) + log10(0.25 / 1) = -1.20412
    # From first principles (docs/PROTOCOL-FORMAT.md "Timeline"): 1 mA ramps in 10 steps of
    # 0.5 s and step 0 is 0 uA, so the gate first opens at 0.5 s; the ramp runs into the
    # first train (5..35 s): 34.5 s at 40 ms -> ceil(862.5) = 863 pulses. Nine more trains
    # of 30 s -> 9 x 750. The ramp down starts at 595 s, inside the OFF phase that began at
    # 575 s: nothing to ramp down, no pulses. 863 + 6750 = 7613.
    assert d["pulses_total"] == 863 + 9 * 750 == 7613
    assert d["stim_s"] == 34.5 + 9 * 30


# ---- timing from the sim trace ----
def run(d, **board_kw):
    return simulate(d, board=SimBoard(**board_kw))


def test_default_session_timing_exact():
    r = run(doc())
    pulses = list(iter_pulses(r["segments"]))
    assert r["pulses"] == len(pulses) == r["derived"]["pulses_total"] == 7613
    assert r["final_state"] == "DONE" and not r["cut_short"]
    assert r["sim_s"] == 600
    starts = [p[0] for p in pulses]
    # pulses one 40 ms period apart within a train; between trains, at least the OFF phase
    for a, b in zip(starts, starts[1:]):
        assert b - a == 40000 or b - a >= 30000000
    # trains: gate opens at 0.5 s (ramp), then ON at 65 s, 125 s, ... each exactly on time
    for k in range(1, 10):
        onset_us = (5 + 60 * k) * 1000000
        assert onset_us in starts
        assert onset_us - 40000 not in starts
    # no pulse in an OFF window; the last train pulse is before the OFF start
    for k in range(10):
        off0 = (35 + 60 * k) * 1000000
        off1 = off0 + 30000000
        if off1 <= 595000000:
            assert not [s for s in starts if off0 <= s < off1]
    # session end: the ramp down begins at 595 s inside the OFF phase from 575 s: nothing
    # more after the last train
    assert 575000000 - 40000 <= starts[-1] < 575000000
    # widths and gap from the edges; the first pulse is the ramp's first 0.1 mA step at 0.5 s
    edges = list(iter_edges(r["segments"][:1]))
    assert edges[:4] == [(500000, 1, 0), (500250, 0, 0), (500270, 0, 1), (500520, 0, 0)]
    assert pulses[0][1] == 100


def test_state_timeline_of_the_default():
    r = run(doc())
    names = [s for _t, s in r["states"]]
    times = [t for t, _s in r["states"]]
    assert names[:4] == ["ARMED", "RAMP_UP", "ON", "OFF"]
    assert names[-2:] == ["RAMP_DOWN", "DONE"]
    assert times[2] == 5.0 and times[3] == 35.0 and times[-2] == 595.0 and times[-1] == 600.0


def test_ramp_starts_at_zero_and_steps_at_most_100ua():
    for amp_ma, freq_hz in ((0.05, 25), (1.0, 100), (2.55, 25), (10.0, 25), (3.0, 7)):
        r = run(
            doc(
                amplitude_ma=amp_ma,
                frequency_hz=freq_hz,
                ramp_up_s=9,
                ramp_down_s=9,
                session_s=20,
                off_s=0,
            )
        )
        amps = [p[1] for p in iter_pulses(r["segments"])]
        assert 0 < amps[0] <= L.RAMP_STEP_MAX_UA  # the first step up from 0 uA
        assert min(amps) > 0  # a pulse at 0 uA is no pulse: the gate stays closed
        assert max(amps) == int(round(amp_ma * 1000))
        prev = 0
        for a in amps:
            assert abs(a - prev) <= L.RAMP_STEP_MAX_UA, (amp_ma, prev, a)
            prev = a
        assert amps[-1] <= L.RAMP_STEP_MAX_UA  # the ramp down ends at or near 0


def test_ramp_reaches_target_exactly_at_ramp_end():
    r = run(doc(amplitude_ma=1.0, ramp_up_s=2, off_s=0))
    seg = [s for s in r["segments"] if s[3] == 1000][0]
    assert seg[0] == 2000000


def test_continuous_and_short_trains():
    r = run(doc(off_s=0, session_s=60, on_s=10))
    # 1 mA ramps in 0.5 s steps; the first (0..0.5 s) and the last (59.5..60 s) are 0 uA,
    # so the gate is open from 0.5 s to 59.5 s: 59 s at 25 Hz
    assert r["pulses"] == r["derived"]["pulses_total"] == 59 * 25
    # 0.1 s on / 0.1 s off at 25 Hz: trains shorter than... still exact vs derived
    r = run(doc(on_s=0.1, off_s=0.1, session_s=30, frequency_hz=7))
    assert r["pulses"] == r["derived"]["pulses_total"]


def test_sham_runs_the_same_states_with_no_output():
    active = run(doc())
    sham = run(doc(sham=True))
    assert sham["pulses"] == 0
    assert [s for _t, s in sham["states"]] == [s for _t, s in active["states"]]


def test_duration_cuts_the_run_and_output_goes_off():
    board = SimBoard()
    r = simulate(doc(), 40000, board=board)
    assert r["cut_short"] and r["sim_s"] == 40.0
    assert r["final_state"] == "OFF"
    assert not board.engine.gated and board.dac.value_ua == 0
    assert r["pulses"] == 863  # 0.5 s .. 35 s at 40 ms (the derived figure's first window)


def test_clock_wrap_does_not_disturb_timing():
    # Start 5 s before MicroPython's ticks_ms wraps (2**30 ms).
    start_us = ((1 << 30) - 5000) * 1000
    a = run(doc(session_s=60, off_s=10, on_s=10))
    b = run(doc(session_s=60, off_s=10, on_s=10), start_us=start_us)
    assert a["pulses"] == b["pulses"] == a["derived"]["pulses_total"]
    assert [s[1:] for s in a["segments"]] == [s[1:] for s in b["segments"]]
    assert a["states"] == b["states"]


# ---- the state machine ----
def test_transition_table_refuses_what_it_must():
    s = S.Session()
    assert not s.fire(S.EV_START, 0)  # no start without arm
    assert s.state == S.IDLE
    assert s.fire(S.EV_ARM, 0) and s.state == S.ARMED
    assert s.fire(S.EV_FAULT, 0) and s.state == S.FAULT
    for ev in (S.EV_ARM, S.EV_START, S.EV_RESET, S.EV_TRAIN_ON):
        assert not s.fire(ev, 0) and s.state == S.FAULT  # latched
    assert s.fire(S.EV_CLEAR, 0) and s.state == S.IDLE
    # output allowed exactly in RAMP_UP, ON, RAMP_DOWN (invariant 4)
    allowed = [S.NAMES[i] for i in range(len(S.NAMES)) if S.OUTPUT_ALLOWED[i]]
    assert allowed == ["RAMP_UP", "ON", "RAMP_DOWN"]


def test_stop_mid_train_ramps_down_fast_and_ends_stopped():
    board, app = started(doc(amplitude_ma=2.0))
    while app.session.state != S.ON:
        loop(app, 100)
    loop(app, 1000)
    app.stop()
    t_stop_us = board.clock.now_us
    for _ in range(50):
        loop(app, 100)
        app.service()
    assert app.session.state == S.STOPPED
    segs = board.engine.drain([], flush=True)
    after = [p for p in iter_pulses(segs) if p[0] >= t_stop_us]
    amps = [p[1] for p in after]
    assert amps and amps == sorted(amps, reverse=True)
    assert max(amps) <= 2000 - 100
    # 2 mA in 0.1 mA steps every 10 ms: output over within 200 ms of the stop
    assert after[-1][0] < t_stop_us + 200000
    assert not board.engine.gated and board.dac.value_ua == 0


def test_stop_in_off_phase_ends_stopped_without_output():
    board, app = started(doc())
    while app.session.state != S.OFF:
        loop(app, 100)
    t = board.clock.now_us
    app.stop()
    loop(app, 100)
    assert app.session.state == S.STOPPED
    assert not [p for p in iter_pulses(board.engine.drain([], flush=True)) if p[0] >= t]


def test_nothing_starts_without_arm_and_estop_blocks_arm():
    board = SimBoard()
    app = App(board)
    app.load(doc())
    try:
        app.start()
        raise AssertionError("start without arm")
    except E.TvnsError as exc:
        assert exc.code == E.BAD_STATE
    assert not board.engine.gated
    board.estop.asserted = True
    try:
        app.arm()
        raise AssertionError("armed with e-stop asserted")
    except E.TvnsError as exc:
        assert exc.code == E.SELF_TEST
    assert app.session.state == S.IDLE


def test_fault_turns_output_off_at_once_and_latches():
    board, app = started(doc())
    loop(app, 10000)
    assert board.engine.gated
    app.scheduler.fault(F.ESTOP)
    assert not board.engine.gated and board.dac.value_ua == 0
    assert app.session.state == S.FAULT
    t = board.clock.now_us
    loop(app, 60000)
    assert not [p for p in iter_pulses(board.engine.drain([], flush=True)) if p[0] > t]
    try:
        app.arm()
        raise AssertionError("armed from FAULT")
    except E.TvnsError as exc:
        assert exc.code == E.BAD_STATE


def test_watchdog_fed_only_while_the_tick_is_alive():
    board, app = started(doc())
    app.service()
    fed = board.wdt.feeds
    app.service()  # no tick since the last service: no feed
    assert board.wdt.feeds == fed
    loop(app, 100)
    app.service()
    assert board.wdt.feeds == fed + 1


def test_every_error_message_is_a_sentence_naming_its_field():
    from tvns import protocol

    cases = [doc(**{f: v}) for f, v, _c in BAD_TYPES] + [doc(**c) for c, e in EDGES if e]
    cases.append({"bogus": 1})
    for d in cases:
        proto, errs = protocol.validate(d)
        assert proto is None and errs
        for e in errs:
            assert type(e.message) is str and len(e.message) > 10, e.message
            if e.field is not None:
                assert e.field in e.message, (e.field, e.message)
            assert e.as_dict() == {"field": e.field, "code": e.code, "message": e.message}
    for text in (b"", "{", "[1]", "x" * 5000, b"\xff"):
        for e in protocol.parse(text)[1]:
            assert type(e.message) is str and len(e.message) > 10
    # wrong types say what they got
    msgs = {}
    for value in ("1", True, None, [1], {"a": 1}):
        msgs[protocol.validate(doc(amplitude_ma=value))[1][0].message] = value
    words = ("a string", "a boolean", "null", "an array", "an object")
    for word in words:
        assert [m for m in msgs if word in m], word


def test_derived_figures_exact_for_many_protocols():
    # Integer units and integer arithmetic: the same figures on every runtime, board included.
    from tvns import protocol

    cases = (
        # amp, width, freq, area -> pC, rms uA, density uA/cm2, k x1000, period us, mHz
        (1.0, 250, 25, 1.0, 250000, 112, 112, -1204, 40000, 25000),
        (3.3, 500, 7, 2.5, 1650000, 276, 110, 37, 142857, 7000),
        (10, 100, 100, 4, 1000000, 1414, 354, -602, 10000, 100000),
        (0.127, 20, 33.333, 0.53, 2540, 5, 9, -4915, 30000, 33333),
    )
    for amp, width, freq, area, pc, rms, dens, k, period, mhz in cases:
        p = protocol.validate(
            doc(amplitude_ma=amp, pulse_width_us=width, frequency_hz=freq, electrode_area_cm2=area)
        )[0]
        assert p.charge_pc() == pc
        assert p.rms_current_ua() == rms
        assert p.rms_density_ua_cm2() == dens
        assert p.shannon_k_x1000() == k
        assert p.period_us == period
        d = p.derived()
        assert d["charge_per_phase_uc"] == pc / 1000000
        assert d["rms_current_ma"] == rms / 1000
        assert d["rms_current_density_ma_cm2"] == dens / 1000
        assert d["shannon_k"] == k / 1000
        assert d["period_us"] == period
        assert d["frequency_hz_actual"] == mhz / 1000


def test_state_history_ring_keeps_the_newest_and_counts_the_lost():
    s = S.Session()
    for i in range(100):  # 200 changes, never drained: the ring holds the newest 64
        s.fire(S.EV_ARM, 2 * i)
        s.fire(S.EV_DISARM, 2 * i + 1)
    out = s.drain([])
    assert len(out) == 64 and s.history_lost == 200 - 64
    assert out[-1] == (199, "IDLE") and out[0] == (136, "ARMED")
    assert s.drain([]) == []  # drained once
    s.fire(S.EV_ARM, 500)
    assert s.drain([]) == [(500, "ARMED")]


def test_shannon_limit_edge_is_exact():
    # 5 uC on A cm2: k = 2*log10(5) - log10(A) = 1.85 at A = 25 / 10**1.85 = 0.3531 cm2
    from tvns import protocol

    base = dict(SLOW, amplitude_ma=5, pulse_width_us=1000, frequency_hz=1)
    assert protocol.validate(doc(**dict(base, electrode_area_cm2=0.36)))[0] is not None
    _, errs = protocol.validate(doc(**dict(base, electrode_area_cm2=0.35)))
    assert [(e.field, e.code) for e in errs] == [("electrode_area_cm2", E.SHANNON)]
    k = protocol.validate(doc(**dict(base, electrode_area_cm2=0.36)))[0].shannon_k_x1000()
    assert 1840 < k < 1850


def test_size_limit_is_exact_and_text_loads_respect_the_ceiling():
    from tvns import protocol

    text = json.dumps(DEFAULT)
    exact = text + " " * (L.PROTOCOL_MAX_BYTES - len(text))
    assert len(exact) == L.PROTOCOL_MAX_BYTES
    assert protocol.parse(exact)[0] is not None
    assert protocol.parse(exact + " ")[1][0].code == E.TOO_LARGE
    # the ceiling reaches validation on the text path too
    proto, errs = protocol.parse(json.dumps(doc(amplitude_ma=3)), 2000)
    assert proto is None and [(e.field, e.code) for e in errs] == [
        ("amplitude_ma", E.ABOVE_CEILING)
    ]
    app = App(SimBoard(ceiling_ua=2000))
    try:
        app.load(json.dumps(doc(amplitude_ma=3)))
        raise AssertionError("text protocol above the ceiling accepted")
    except E.TvnsError as exc:
        assert exc.code == E.ABOVE_CEILING
    p = protocol.parse(text)[0]
    assert p.doc == DEFAULT and p.keepalive_ms == 0 and p.blinded is False


def test_pulse_fit_boundary():
    from tvns import checks

    # 2 x 900 + 100 us pulse + 100 us off time = 2000 us: fits a 500 Hz period exactly
    errs = []
    checks.check_combined(
        errs, {"pulse_width_us": 900, "interphase_gap_us": 100, "frequency_hz": 500000}
    )
    assert errs == []
    checks.check_combined(
        errs, {"pulse_width_us": 901, "interphase_gap_us": 100, "frequency_hz": 500000}
    )
    assert [e.code for e in errs] == [E.PULSE_FIT]


def test_fault_names_are_total():
    assert F.name(0) is None and F.name(1) == "overcurrent"
    assert F.name(len(F.NAMES)) == "unknown" and F.name(-1) == "unknown"
    assert F.code_of(None) == F.NONE and F.code_of("nope") == F.NONE


def test_density_and_shannon_limits_within_a_tenth_of_a_percent():
    from tvns import protocol

    # r.m.s. density 1.9990 mA/cm2 passes, 2.0001 fails (1.788 / 1.789 mA, 250 us, 25 Hz, 0.1 cm2)
    assert protocol.validate(doc(amplitude_ma=1.788, electrode_area_cm2=0.1))[0] is not None
    _, errs = protocol.validate(doc(amplitude_ma=1.789, electrode_area_cm2=0.1))
    assert [(e.field, e.code) for e in errs] == [("electrode_area_cm2", E.DENSITY)]
    # Shannon k 1.8487 passes, 1.8504 fails (4.97 / 4.98 uC on 0.35 cm2)
    base = dict(SLOW, pulse_width_us=1000, frequency_hz=1, electrode_area_cm2=0.35)
    assert protocol.validate(doc(**dict(base, amplitude_ma=4.97)))[0] is not None
    _, errs = protocol.validate(doc(**dict(base, amplitude_ma=4.98)))
    assert [(e.field, e.code) for e in errs] == [("electrode_area_cm2", E.SHANNON)]


def test_validator_and_derived_figures_come_from_one_place():
    from tvns import figures as G
    from tvns import protocol

    # 8.855 mA x 977 us = 8.651335 uC: the charge and the Shannon refusals quote one figure
    bad = dict(SLOW, amplitude_ma=8.855, pulse_width_us=977, frequency_hz=16)
    msgs = {e.code: e.message for e in protocol.validate(doc(**bad))[1]}
    assert G.charge_pc(8855, 977) == 8651335
    assert "8.651335 uC" in msgs[E.CHARGE] and "8.651335 uC" in msgs[E.SHANNON], msgs
    # a valid protocol's derived figures are the validator's, from the same integers
    p = protocol.validate(doc(amplitude_ma=2.5, frequency_hz=33.3))[0]
    assert p.period_us == G.period_us(33300) == 30030
    assert p.shannon_k_x1000() == G.shannon_k_x1000(2500 * 250, 100)
    assert p.rms_density_ua_cm2() == G.rms_density_ua_cm2(2500, 250, 30030, 100)
