"""schedule.py at the corners the rule-by-rule tests did not reach (issue 18, the mutation
run's survivors): a 1 ms OFF phase, a continuous protocol with no duty phase, a gate that
closes before the ramp down begins, the first pulse of a session that begins at 0 ms, train
lengths one microsecond past a whole number of periods, the blinded sham arm's steps that
fall on a train's end, and the offset cycles of the whole-train walk. Each against the same
references as test_schedule_rules (eval() at every ms, a naive walk over the gate windows),
so what is asserted is the behaviour, not the numbers. Plain asserts over firmware modules,
fast: `make mutation` runs them per mutant (SAFETY.md, the mutation section)."""

from test_schedule_rules import (
    PROTOCOLS,
    P,
    _check_eval,
    _merge,
    _naive_count,
    _trains_naive,
    _windows_ref,
    reference,
)
from tvns import schedule
from tvns.schedule import Schedule

# Protocols outside test_schedule_rules.PROTOCOLS, each for a corner of the closed forms.
CORNERS = (
    # a 1 ms OFF: the ramp down begins exactly in one (not live); the trains stay apart
    P(on_ms=300, off_ms=1, session_ms=400 + 5 * 301 + 300 + 300),
    # a 1 ms OFF, the ramp down begins in an ON (live)
    P(on_ms=300, off_ms=1, session_ms=400 + 5 * 301 + 100 + 300),
    # continuous, no duty phase at all: the ramps meet (one window through both)
    P(off_ms=0, session_ms=400 + 300),
    # the gate's end (session - 1 - 50 ms) before the ramp down begins, which is a train
    # start: the live ramp down's own window is empty (its end before its start)
    P(ramp_down_ms=30, session_ms=400 + 3 * 500 + 30),
    # the session begins with pulses (no ramp up): the first window opens at 0 ms, and its
    # length (1 s) is one microsecond past 3 whole periods of 333333 us
    P(ramp_up_ms=0, on_ms=1000, off_ms=400, period_us=333333, session_ms=4 * 1400 + 300),
    # 4 trains of 1 s (3 periods + 1 us each) whose first pulses start at the gate: the
    # whole-train walk starts at offset 0
    P(on_ms=1000, off_ms=400, period_us=333333, session_ms=400 + 4 * 1400 + 300),
)


def test_corner_windows_output_time_and_pulse_counts_follow_eval():
    for p in CORNERS:
        ws = list(schedule.gate_windows_ms(p))
        for a, b in ws:
            assert b > a, (vars(p), ws)  # no empty window
        ref = _windows_ref(p)
        assert _merge(ws) == ref, (vars(p), ws, ref)
        assert schedule.output_ms(p) == sum(b - a for a, b in ref), vars(p)
        assert schedule.pulse_count(p) == _naive_count(p), vars(p)


def test_corner_eval_matches_the_written_rules_at_every_ms():
    for p in CORNERS[:4]:  # (the others' long trains make this check slow; eval has no
        _check_eval(p, False)  # case there that PROTOCOLS lacks)


def test_a_ramp_down_that_begins_in_a_1_ms_off_is_not_live():
    assert not schedule.down_live(CORNERS[0])
    assert schedule.down_live(CORNERS[1])
    # the references agree: no output after the ramp down begins in the first, some in the other
    for p, live in ((CORNERS[0], False), (CORNERS[1], True)):
        ds = p.session_ms - p.ramp_down_ms
        assert any(reference(p, t)[2] for t in range(ds, p.session_ms)) is live


def test_steps_is_at_least_one_so_eval_never_divides_by_zero():
    """A 0 uA amplitude never passes validation (0.001 mA is the least), but the ramp's step
    count is a divisor in eval(), which the tick runs: at least 1 whatever it is given."""
    p = P(amplitude_ua=0)
    assert schedule.steps(p) == 1
    sc = Schedule(p)
    for t in range(0, p.session_ms + 2, 7):
        sc.eval(t)  # no ZeroDivisionError in the tick
        assert sc.amp_ua == 0 and sc.out_ua == 0


def test_blinded_sham_steps_on_a_trains_end_through_the_ramp_down():
    """The sham's ramp down runs on train time: with 100 ms trains and 100 ms steps every step
    falls due exactly at a train's end, here while the active arm is already ramping down
    (live). eval() must wake for each of them (next_ms), not at the next train's start."""
    for p in (
        P(on_ms=100, off_ms=100, ramp_down_ms=1000, session_ms=400 + 250 + 1000),
        P(on_ms=100, off_ms=100, ramp_down_ms=1000, session_ms=400 + 50 + 1000),
        P(on_ms=100, off_ms=100, ramp_down_ms=100, session_ms=400 + 250 + 1000),
    ):
        _check_eval(p, True)


def _train_time(p, t):
    u = t - p.ramp_up_ms
    c = p.on_ms + p.off_ms
    return (u // c) * p.on_ms + min(u % c, p.on_ms)


def test_a_finished_sham_never_wakes_the_tick_for_nothing():
    """Once the blinded sham's output is over (train time past its ramp down), its eval()
    wakes exactly when the active arm's does: no tick runs for a step nobody delivers."""
    for p in (
        P(),
        P(on_ms=100, off_ms=100, ramp_down_ms=300, session_ms=400 + 1250 + 300),
        P(amplitude_ua=730, ramp_up_ms=1000, ramp_down_ms=700, session_ms=3100),
    ):
        sham, active = Schedule(p, True), Schedule(p, False)
        checked = 0
        for t in range(p.ramp_up_ms, p.session_ms):
            sham.eval(t)
            active.eval(t)
            if _train_time(p, t) >= p.ramp_down_ms:
                assert (sham.out_ua, sham.out_gate) == (0, False), (vars(p), t)
                assert sham.next_ms == active.next_ms, (vars(p), t)
                checked += 1
        assert checked > 100, vars(p)


def test_whole_trains_from_offsets_that_lead_into_a_cycle():
    """The walk jumps over the repeats of its offset cycle only from an offset it has seen
    (the start, or 0): offsets 1 us from 0 that reach 0 after one train (on = 3 periods
    + 1 us) and offsets that climb by 1 us a train, fall to 0, then climb again."""
    for args in (
        (10, 1, 100000, 99999, 200000),  # from 1 us: 1 pulse, then 2 a train from 0
        (50, 100000, 100000, 150001, 150000),  # 0 after a train, then 1, 2, 3 ... us
        (40, 99990, 100000, 150001, 150000),
    ):
        assert schedule._whole_trains(*args) == _trains_naive(*args), args


# Protocols of one to three trains, the ramp down beginning at a train's start (a window of
# its own), 1 ms into the last train (live: the train runs on through it) or in its OFF (not
# live); pulse periods from within a train to longer than a whole cycle, so that a train's
# last period runs on into the next train's start (its first pulse waits for it).
FEW_TRAINS = tuple(
    P(period_us=period_us, session_ms=400 + ds_up + 300)
    for ds_up in (500, 100, 400, 1000, 700, 850, 1500, 1001, 1400)  # ds - up: J = 1, 2, 3
    for period_us in (40000, 210000, 1000000)
)


def test_one_to_three_trains_windows_output_time_and_pulse_counts_follow_eval():
    """The closed forms' whole-train shortcut (trains 1 .. J-2) and the ramp down's own
    window where no shortcut applies: J <= 3, and a ramp down 0 ms or 1 ms into a train."""
    counts = set()
    for p in FEW_TRAINS:
        ws = list(schedule.gate_windows_ms(p))
        ref = _windows_ref(p)
        assert _merge(ws) == ref, (vars(p), ws, ref)
        assert schedule.output_ms(p) == sum(b - a for a, b in ref), vars(p)
        assert schedule.pulse_count(p) == _naive_count(p), vars(p)
        counts.add(schedule._Plan(p).count)
    assert counts == {1, 2, 3, 4}  # (the test's own cases: every count of windows)


# Every divisor of eval() at 1: 1 ms ramps, a 0 ms train in a 1 ms cycle, 1 ms trains (the
# blinded sham's train time). Not valid protocols (validation asks for more): eval's rules
# hold for any numbers, and only a 0 divisor raises ZeroDivisionError (its docstring).
ONE_MS = (
    P(ramp_up_ms=1, ramp_down_ms=1, session_ms=1 + 3 * 500 + 150 + 1),
    P(ramp_up_ms=1, ramp_down_ms=1, off_ms=0, session_ms=300),
)
ONE_MS_BLIND = (
    P(on_ms=1, off_ms=0, ramp_down_ms=300, session_ms=400 + 500 + 300),
    P(on_ms=1, off_ms=2, ramp_down_ms=300, session_ms=400 + 900 + 300),
)


def test_eval_follows_the_rules_with_every_divisor_at_1_ms():
    for p in ONE_MS:
        _check_eval(p, False)
    for p in ONE_MS_BLIND:
        _check_eval(p, True)
    # trains of 0 ms in a 1 ms cycle: OFF throughout (eval may wake every ms: no next_ms check)
    p = P(on_ms=0, off_ms=1, session_ms=400 + 50 + 300)
    sc = Schedule(p)
    for t in range(p.session_ms + 2):
        sc.eval(t)
        assert (sc.phase, sc.amp_ua, sc.gate, sc.out_ua, sc.out_gate) == reference(p, t), t


def test_the_words_flags_are_1_or_0():
    """The tick reads the schedule's words (schedule.ANSWER, the protocol's above them): a
    flag word is 1 or 0, as the words' table says, so that a reader may compare it with 1
    (the names read any other value as true and would hide it)."""
    seen = set()
    for p in PROTOCOLS:
        for blind in (False, True):
            sc = Schedule(p, blind)
            flags = (schedule._OUTPUT, schedule._LIVE, schedule._BLIND)
            seen.update(("protocol", sc.words[i]) for i in flags)
            for t in range(0, p.session_ms + 2, 5):
                sc.eval(t)
                seen.update(("answer", sc.words[i]) for i in (schedule.GATE, schedule.OUT_GATE))
    assert seen == {(w, v) for w in ("protocol", "answer") for v in (0, 1)}
