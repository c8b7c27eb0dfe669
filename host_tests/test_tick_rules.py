"""scheduler.py rule by rule on a recording board: what each command and each tick does to
the DAC, the engine's gate and feed, the fault latch and the deadlines, with the thresholds
tested on both sides. Plain asserts over firmware modules, fast: these are the tests
`make mutation` leans on for scheduler.py (SAFETY.md, the mutation section), and the net
under any rewrite of the hot path (issue 18)."""

from tvns import errors as E
from tvns import limits as L
from tvns import safety as F
from tvns import session as S
from tvns.scheduler import Scheduler

_MASK = 0x3FFFFFFF


class Clock:
    def __init__(self, ms=1000):
        self.ms = ms

    def ticks_ms(self):
        return self.ms

    def ticks_add(self, t, d):
        return (t + d) & _MASK

    def ticks_diff(self, a, b):
        return ((a - b + 0x20000000) & _MASK) - 0x20000000


class Rec:
    """Every call the scheduler makes on the board, in order: (part, what, value)."""

    def __init__(self):
        self.calls = []

    def add(self, *c):
        self.calls.append(c)

    def of(self, part):
        return [c[1:] for c in self.calls if c[0] == part]


class Engine:
    def __init__(self, rec):
        self.rec = rec
        self.feed_ms = 7

    def load(self, w, g, p):
        self.rec.add("engine", "load", (w, g, p))

    def gate(self, on):
        self.rec.add("engine", "gate", on)

    def feed(self):
        self.rec.add("engine", "feed", None)
        return self.feed_ms


class Dac:
    def __init__(self, rec):
        self.rec = rec

        self.value_ua = 0

    def set_ua(self, ua):
        self.rec.add("dac", "set", ua)
        self.value_ua = ua

    def apply(self):
        self.rec.add("dac", "apply", None)


class Sense:
    """Reads the DAC's setpoint (a perfect load) unless a test sets ua."""

    step_ua = 8

    def __init__(self, dac):
        self.dac = dac
        self.ua = None
        self.comp = False
        self.reads = 0

    def read_ua(self):
        self.reads += 1
        return self.dac.value_ua if self.ua is None else self.ua

    def read_compliance(self):
        return self.comp


class Estop:
    pressed_now = False

    def pressed(self):
        return self.pressed_now


class Kill:
    code = F.NONE

    def tripped(self):
        return self.code


class Ticker:
    def __init__(self, rec):
        self.rec = rec

    def stop(self):
        self.rec.add("ticker", "stop", None)


class Board:
    def __init__(self, ceiling_ua=8000, kill=True):
        self.rec = Rec()
        self.clock = Clock()
        self.engine = Engine(self.rec)
        self.dac = Dac(self.rec)
        self.sense = Sense(self.dac)
        self.estop = Estop()
        if kill:
            self.kill = Kill()
        self.ticker = Ticker(self.rec)
        self.ceiling_ua = ceiling_ua
        self.irq = []

    def disable_irq(self):
        self.irq.append("off")
        return 42

    def enable_irq(self, state):
        self.irq.append(state)

    def safe_off(self):
        self.rec.add("board", "safe_off", None)


class P:
    def __init__(self, **kw):
        self.name = "t"
        self.amplitude_ua = 1000
        self.width_us = 250
        self.gap_us = 20
        self.period_us = 40000  # 25 Hz
        self.on_ms = 300
        self.off_ms = 200
        self.ramp_up_ms = 400
        self.ramp_down_ms = 300
        self.session_ms = 2400
        self.sham = False
        self.keepalive_ms = 0
        self.trigger = None  # no trigger block (docs/GATING.md)
        for k in kw:
            setattr(self, k, kw[k])


def _make(p=None, **board_kw):
    board = Board(**board_kw)
    s = S.Session()
    sch = Scheduler(board, s)
    if p is not None:
        sch.load(p)
        s.fire(S.EV_ARM, 0)
    return board, s, sch


def _monitor(sch, now, t):
    """The monitors on one sample, as a running tick judges it: the inputs read once
    (tvns/tickfast.py polls them, the sense and the comparator while the gate is on), then
    Scheduler._monitor on that sample at ticks_ms now, session time t."""
    io = sch._io
    io[4] = 1 if sch.gate_on else 0  # tickio.IO_SENSE
    sch._poll(io)
    return sch._monitor(now, t)


def _at(board, sch, t_ms):
    """Tick at session time t_ms."""
    board.clock.ms = sch.t0_ms + t_ms
    sch.tick()


def _run(board, sch, t_from, t_to):
    for t in range(t_from, t_to):
        _at(board, sch, t)


def _refused(fn, code, message):
    try:
        fn()
    except E.TvnsError as exc:
        assert exc.code == code and exc.message == message, (exc.code, exc.message)
        return
    raise AssertionError("not refused")


# ---- construction and commands ----
def test_a_fresh_scheduler_commands_nothing_and_knows_its_board():
    board, s, sch = _make()
    assert sch.board is board and sch.session is s
    assert sch.ceiling_ua == 8000 and sch.ceiling_margin_ua == F.CEILING_MARGIN_STEPS * 8
    assert Scheduler(Board(ceiling_ua=20000), S.Session()).ceiling_ua == L.CURRENT_MAX_UA
    assert sch.protocol is None and sch.sched is None
    assert (sch.amp_ua, sch.nom_ua, sch.prev_amp_ua, sch.gate_on, sch.nom_gate) == (
        0,
        0,
        0,
        False,
        False,
    )
    assert (sch.fault_code, sch.stop_reason, sch.fault_ms, sch.stop_ms) == (F.NONE, F.NONE, 0, 0)
    assert (sch.stop_requested, sch.stopping, sch.off_failed) == (False, False, False)
    assert (sch.beats, sch.exceptions, sch.elapsed_ms, sch.keepalive_ms) == (0, 0, 0, 0)
    assert (sch.period_ms, sch.cap_ms, sch.up_gap_ms, sch.last_up_ms) == (0, 0, 0, 0)
    assert (sch.t0_ms, sch.due_ms, sch.work_ms, sch.feed_ms, sch.host_ms) == (0, 0, 0, 0, 0)
    assert (sch.gate_on_ms, sch.stop_at_ms, sch.stop_from_ua) == (0, 0, 0)
    assert sch._kill is board.kill and _make(kill=False)[2]._kill is None
    assert sch.tick_cb is sch.tick_cb and callable(sch.tick_cb)  # built once: no allocation
    assert board.rec.calls == [] and board.irq == []


def test_load_sets_the_engine_and_the_session_bounds():
    board, s, sch = _make()
    p = P(period_us=40001, keepalive_ms=1500)
    sch.load(p)
    assert board.rec.calls == [("engine", "load", (250, 20, 40001))]
    assert sch.protocol is p and sch.sched.target_ua == 1000 and not sch.sched.blind_sham
    assert sch.period_ms == 41 and sch.up_gap_ms == 41
    assert sch.cap_ms == 2400 + F.END_GUARD_MS and sch.keepalive_ms == 1500
    sch.load(P(period_us=40000, session_ms=L.SESSION_MAX_S * 1000 + 7))
    assert sch.period_ms == 40 and sch.cap_ms == L.SESSION_MAX_S * 1000 + F.END_GUARD_MS
    sch.load(P(session_ms=L.SESSION_MAX_S * 1000 - 7))
    assert sch.cap_ms == L.SESSION_MAX_S * 1000 - 7 + F.END_GUARD_MS


def test_load_and_arm_change_are_refused_while_running():
    board, s, sch = _make(P())
    sch.start()
    sched = sch.sched
    msg = "load refused while stimulating; stop first"
    _refused(lambda: sch.load(P()), E.BUSY, msg)
    _refused(lambda: sch.use_arm(True), E.BUSY, "the arm cannot change while stimulating")
    assert sch.sched is sched


def test_use_arm_picks_the_schedule_of_the_arm():
    board, s, sch = _make(P())
    sch.use_arm(True)
    assert sch.sched.blind_sham and sch.sched.target_ua == 1000
    sch.use_arm(False)
    assert not sch.sched.blind_sham


def test_start_refusals_name_what_is_missing():
    board, s, sch = _make()
    _refused(sch.start, E.NO_PROTOCOL, "no valid protocol loaded")
    sch.load(P())
    _refused(sch.start, E.BAD_STATE, "start needs an ARMED session")
    assert s.state == S.IDLE


def test_start_resets_the_session_and_runs_the_first_tick():
    board, s, sch = _make(P())
    sch.stop_requested = sch.stopping = True
    sch.stop_reason = F.HOST_LOSS
    sch.prev_amp_ua = 300
    sch.elapsed_ms = 99
    board.clock.ms = 5000
    board.rec.calls = []
    sch.start()
    c = board.rec.calls
    assert c[0] == ("ticker", "stop", None) and c[1] == ("engine", "load", (250, 20, 40000))
    assert (sch.t0_ms, sch.host_ms, sch.elapsed_ms) == (5000, 5000, 0)
    assert (sch.stop_requested, sch.stopping, sch.stop_reason) == (False, False, F.NONE)
    assert sch.last_up_ms == -40 and sch.prev_amp_ua == 0
    assert s.state == S.RAMP_UP and ("dac", "apply", None) in c  # the first tick ran
    assert sch.work_ms == 5000 + 40 and sch.feed_ms == 5000 + 7 and sch.due_ms == 5007
    assert s.drain([]) == [(0, "ARMED"), (0, "RAMP_UP")]


def test_stop_outside_a_session_disarms_at_the_elapsed_time():
    board, s, sch = _make(P())
    sch.elapsed_ms = 1234
    sch.stop()
    assert s.state == S.IDLE and not sch.stop_requested
    assert s.drain([]) == [(0, "ARMED"), (1234, "IDLE")]


def test_stop_in_a_session_is_a_request_the_next_tick_carries_out():
    board, s, sch = _make(P())
    sch.start()
    _run(board, sch, 1, 700)
    board.clock.ms += 1
    sch.stop()
    assert sch.stop_requested and s.state == S.ON
    assert sch.work_ms == board.clock.ms and sch.due_ms == board.clock.ms


# ---- the fault latch ----
def test_fault_latches_the_first_cause_with_interrupts_off():
    board, s, sch = _make(P())
    sch.start()
    _run(board, sch, 1, 500)
    assert sch.gate_on and sch.amp_ua == 1000
    board.rec.calls = []
    sch.fault(F.ESTOP)
    assert board.irq == ["off", 42]  # the state disable_irq returned goes back
    assert s.state == S.FAULT and sch.fault_code == F.ESTOP and sch.fault_ms == 499
    assert board.rec.calls == [("board", "safe_off", None)]
    assert (sch.amp_ua, sch.gate_on, sch.nom_ua, sch.nom_gate) == (0, False, 0, False)
    sch.elapsed_ms = 600
    sch.fault(F.OVERCURRENT)
    assert sch.fault_code == F.ESTOP and sch.fault_ms == 499  # the first cause stays
    assert board.irq == ["off", 42, "off", 42]
    assert s.drain([])[-1] == (499, "FAULT")


# ---- monitors ----
def _on(p=None, t=500, state=S.ON, **board_kw):
    """A session ticked every ms up to t (default: in its first train, at full amplitude,
    the gate on since the ramp's first step at 40 ms)."""
    p = p or P()
    board, s, sch = _make(p, **board_kw)
    sch.start()
    _run(board, sch, 1, t)
    assert s.state == state and sch.gate_on, (s.state, sch.amp_ua)
    if state == S.ON:
        assert sch.amp_ua == p.amplitude_ua, sch.amp_ua
    return board, s, sch


def test_overcurrent_at_110_percent_plus_the_floor():
    board, s, sch = _on()
    board.sense.ua = 1000 + 100 + F.SENSE_FLOOR_UA
    _at(board, sch, 500)
    assert s.state == S.ON
    board.sense.ua += 1
    _at(board, sch, 501)
    assert s.state == S.FAULT and sch.fault_code == F.OVERCURRENT and sch.fault_ms == 501


def test_overcurrent_allows_a_higher_amplitude_the_hold_may_still_show():
    board, s, sch = _on()
    sch._set_amp(500)  # a step down the sense has not seen yet: it may still show 1000 uA
    board.sense.ua = 1000 + 100 + F.SENSE_FLOOR_UA
    _at(board, sch, 500)
    assert s.state == S.ON
    # Above 500 uA's threshold: allowed for at least one hold window (a period + 5 ms) ...
    board.sense.ua = 500 + 50 + F.SENSE_FLOOR_UA + 1
    win = sch.held_win_ms
    _run(board, sch, 501, 500 + win)
    assert s.state == S.ON
    # ... and at most two: then 1000 uA cannot show any more.
    _run(board, sch, 500 + win, 500 + 2 * win + 1)
    assert sch.fault_code == F.OVERCURRENT


def test_overcurrent_above_the_ceiling_plus_two_adc_steps():
    p = P(amplitude_ua=8000, period_us=10000, on_ms=3000, session_ms=6000)
    board, s, sch = _on(p, t=1300, ceiling_ua=8000)
    board.sense.ua = 8000 + 2 * 8
    _at(board, sch, 1300)
    assert s.state == S.ON
    sch.prev_amp_ua = 20000  # the 110 % rule alone would allow far more
    board.sense.ua = 8000 + 2 * 8 + 1
    _at(board, sch, 1301)
    assert sch.fault_code == F.OVERCURRENT


def test_the_sense_is_read_only_with_the_gate_on():
    board, s, sch = _make(P())
    sch.start()
    board.sense.ua = 5000  # would be overcurrent if it were looked at
    _run(board, sch, 1, 40)  # ramp step 0: 0 uA, gate closed
    assert s.state == S.RAMP_UP and not sch.gate_on and board.sense.reads == 0


def test_lead_off_from_the_comparator():
    board, s, sch = _on()
    board.sense.comp = True
    _at(board, sch, 500)
    assert sch.fault_code == F.LEAD_OFF


def test_lead_off_by_under_current_both_sides():
    board, s, sch = _on()
    sch.prev_amp_ua = 1000
    board.sense.ua = 500  # half the setpoint is still enough
    _at(board, sch, 500)
    assert s.state == S.ON
    board.sense.ua = 499
    _at(board, sch, 501)
    assert sch.fault_code == F.LEAD_OFF


def test_no_under_current_lead_off_in_the_first_period_after_gate_on():
    board, s, sch = _on()
    assert sch.gate_on_ms == sch.t0_ms + 40  # the ramp's first step opened it
    sch.prev_amp_ua = 1000
    sch.gate_on_ms = sch.t0_ms + 500  # as if the gate had just opened
    board.sense.ua = 0
    _at(board, sch, 500 + 40)  # exactly one period after the gate opened
    assert s.state == S.ON
    _at(board, sch, 541)
    assert sch.fault_code == F.LEAD_OFF


def test_no_under_current_lead_off_below_the_minimum_setpoint():
    board, s, sch = _on(P(amplitude_ua=199, ramp_up_ms=400), t=500)
    # (199 uA: two steps of the ramp, then the first train)
    assert sch.amp_ua == 199
    sch.prev_amp_ua = 199
    board.sense.ua = 0
    _at(board, sch, 500)
    assert s.state == S.ON
    board2, s2, sch2 = _on(P(amplitude_ua=200), t=500)
    sch2.prev_amp_ua = 200
    board2.sense.ua = 99
    _at(board2, sch2, 500)
    assert sch2.fault_code == F.LEAD_OFF


def test_estop_kill_and_session_cap():
    board, s, sch = _on()
    board.estop.pressed_now = True
    _at(board, sch, 500)
    assert sch.fault_code == F.ESTOP
    board, s, sch = _on()
    board.estop.pressed_now = True
    board.kill.code = F.OVERCURRENT  # the kill path's snapshot names the cause first
    _at(board, sch, 500)
    assert sch.fault_code == F.OVERCURRENT
    board, s, sch = _on(kill=False)
    _at(board, sch, 500)
    assert s.state == S.ON
    board, s, sch = _on()
    board.clock.ms = sch.t0_ms + sch.cap_ms
    _monitor(sch, board.clock.ms, sch.cap_ms)
    assert s.state == S.ON
    assert _monitor(sch, board.clock.ms, sch.cap_ms + 1) is True
    assert sch.fault_code == F.SESSION_CAP


def test_keepalive_miss_asks_for_a_stop_once():
    board, s, sch = _on()
    sch.keepalive_ms = 300
    sch.host_ms = sch.t0_ms + 200
    _at(board, sch, 500)
    assert not sch.stop_requested
    board.clock.ms = sch.t0_ms + 501
    assert _monitor(sch, board.clock.ms, 501) is False
    assert sch.stop_requested and sch.stop_reason == F.HOST_LOSS and sch.stop_ms == 501
    assert sch.work_ms == board.clock.ms
    sch.stop_reason = F.NONE
    _monitor(sch, board.clock.ms + 5, 506)
    assert sch.stop_reason == F.NONE and sch.stop_ms == 501  # asked once
    board, s, sch = _on()  # keepalive 0: never
    sch.host_ms = sch.t0_ms - 100000
    _at(board, sch, 500)
    assert not sch.stop_requested


def test_a_stop_request_is_not_a_keepalive_miss():
    board, s, sch = _on()
    sch.keepalive_ms = 300
    sch.stop_requested = True
    sch.host_ms = sch.t0_ms - 1000
    _monitor(sch, board.clock.ms, 500)
    assert sch.stop_reason == F.NONE


# ---- the tick ----
def test_every_tick_counts_applies_the_dac_and_feeds_a_running_engine():
    board, s, sch = _make(P())
    board.rec.calls = []
    sch.tick()  # idle: counted and the DAC's pending setpoint applied, nothing fed
    assert sch.beats == 1 and board.rec.calls == [("dac", "apply", None)]
    sch.beats = 0x3FFFFFFF
    sch.tick()
    assert sch.beats == 0
    sch.start()
    board.rec.calls = []
    _at(board, sch, 5)
    assert board.rec.of("engine") == [("feed", None)] and board.rec.of("dac") == [("apply", None)]
    assert sch.feed_ms == board.clock.ms + 7
    assert sch.due_ms == sch.feed_ms  # feed (7 ms) before the next step (40 ms)
    board.engine.feed_ms = 100
    _at(board, sch, 6)
    assert sch.due_ms == sch.work_ms == sch.t0_ms + 40


def test_an_exception_is_counted_with_a_wrap_and_latches():
    board, s, sch = _on()

    def boom():
        raise OSError("bus")

    board.sense.read_ua = boom
    sch.exceptions = 0x3FFFFFFF
    _at(board, sch, 500)
    assert sch.exceptions == 0 and sch.fault_code == F.EXCEPTION and not sch.off_failed
    board, s, sch = _on()
    board.sense.read_ua = boom
    board.safe_off = boom
    _at(board, sch, 500)
    assert sch.exceptions == 1 and sch.off_failed


def test_ramp_up_step_by_step_amplitude_before_gate_on():
    board, s, sch = _make(P())
    sch.start()
    _run(board, sch, 1, 41)
    c = board.rec.calls
    i_set = c.index(("dac", "set", 100))
    i_gate = c.index(("engine", "gate", True))
    assert i_set < i_gate  # amplitude first, then the gate
    assert sch.gate_on_ms == sch.t0_ms + 40 and sch.last_up_ms == 40
    sets = []
    _run(board, sch, 41, 400)
    sets = [v for w, v in board.rec.of("dac") if w == "set"]
    assert sets == [100 * k for k in range(1, 10)], sets
    assert sch.nom_ua == 900 and sch.prev_amp_ua == 800


def test_upward_steps_wait_a_pulse_period_and_one_step_per_tick():
    board, s, sch = _make(P(ramp_up_ms=100))  # the schedule steps every 10 ms: too fast
    sch.start()
    _run(board, sch, 1, 400)
    times = []
    last = None
    for t in range(400, 800):
        _at(board, sch, t)
        if sch.nom_ua != last:
            times.append((t, sch.nom_ua))
            last = sch.nom_ua
    # one 0.1 mA step per period (40 ms) from the last one, never two at once
    ups = [(t, a) for t, a in times]
    for (t1, a1), (t2, a2) in zip(ups, ups[1:]):
        assert a2 - a1 <= 100 and (a2 < a1 or t2 - t1 >= 40), ups


def test_no_upward_step_while_the_gate_is_closed():
    # The schedule ramps in 100 ms (10 ms steps); the tick allows one step per 40 ms period,
    # so the first train (100-200 ms) ends below the target. Through OFF the nominal
    # amplitude waits (steps taken with no pulses would add up unseen), then resumes.
    board, s, sch = _make(P(ramp_up_ms=100, on_ms=100, off_ms=400, session_ms=3000))
    sch.start()
    _run(board, sch, 1, 200)
    amp = sch.nom_ua
    assert 0 < amp < 1000
    if 200 - sch.last_up_ms < 40:  # the last step up may have had no pulse: withdrawn
        amp -= 100
    for t in range(200, 600):
        _at(board, sch, t)
        assert s.state == S.OFF and not sch.gate_on and sch.nom_ua == amp
    _at(board, sch, 600)
    assert s.state == S.ON and sch.nom_ua == amp + 100


def test_a_step_up_just_before_the_gate_closes_is_withdrawn():
    # A step at 190 ms, 10 ms before the train ends: no pulse (40 ms period) may show it,
    # so the next train starts one step above what the last pulse showed, not two.
    board, s, sch = _make(P(ramp_up_ms=100, on_ms=100, off_ms=400, session_ms=3000))
    sch.start()
    _run(board, sch, 1, 190)
    before = sch.nom_ua
    sch.last_up_ms = 150  # the last step 40 ms ago: one is due now
    sch.work_ms = sch.t0_ms + 190
    _at(board, sch, 190)
    assert sch.nom_ua == before + 100 and sch.up_from_ua == before
    _at(board, sch, 200)  # the gate closes 10 ms after that step
    assert not sch.gate_on and sch.nom_ua == before and sch.amp_ua == before
    _run(board, sch, 201, 601)
    assert sch.nom_ua == before + 100


def test_amplitude_never_above_the_ceiling():
    board, s, sch = _make(P(amplitude_ua=1000, ramp_up_ms=400))
    sch.ceiling_ua = 450
    sch.start()
    _run(board, sch, 1, 800)
    sets = [v for w, v in board.rec.of("dac") if w == "set"]
    assert max(sets) == 450 and sch.nom_ua == 450


def test_gate_off_before_the_amplitude_changes_and_events_per_phase():
    board, s, sch = _on()
    board.rec.calls = []
    _run(board, sch, 500, 701)  # ON until 700, then OFF
    c = board.rec.calls
    assert ("engine", "gate", False) in c and not sch.gate_on and s.state == S.OFF
    _run(board, sch, 701, 2410)
    assert s.state == S.DONE
    names = [n for _t, n in s.drain([])]
    trains = ["ON", "OFF"] * 3 + ["ON"]
    assert names == ["ARMED", "RAMP_UP"] + trains + ["RAMP_DOWN", "DONE"]
    assert sch.amp_ua == 0 and not sch.gate_on and sch.nom_ua == 0 and not sch.nom_gate
    c = board.rec.calls
    last_gate = max(i for i, x in enumerate(c) if x[:2] == ("engine", "gate"))
    last_set = max(i for i, x in enumerate(c) if x[:2] == ("dac", "set"))
    assert c[last_gate] == ("engine", "gate", False) and c[last_set] == ("dac", "set", 0)
    assert last_gate < last_set


def test_blinded_sham_delivers_less_but_the_states_follow_the_active_arm():
    board, s, sch = _make(P())
    sch.use_arm(True)
    sch.start()
    _run(board, sch, 1, 1100)
    assert sch.nom_ua == 1000 and sch.nom_gate  # nominal: the active arm
    assert sch.amp_ua == 0 and not sch.gate_on  # delivered: nothing after the sham's ramp


# ---- the stop ramp ----
def test_stop_ramps_down_a_step_per_10_ms_from_the_stop():
    board, s, sch = _on()
    sch.stop()
    board.rec.calls = []
    _at(board, sch, 500)
    assert s.state == S.RAMP_DOWN and sch.stopping and sch.stop_at_ms == 500
    assert sch.stop_from_ua == 1000 and sch.nom_ua == 900 and sch.amp_ua == 900
    assert sch.work_ms == sch.t0_ms + 510
    _at(board, sch, 509)
    assert sch.nom_ua == 900
    _at(board, sch, 510)
    assert sch.nom_ua == 800 and sch.work_ms == sch.t0_ms + 520
    _at(board, sch, 545)  # a late tick takes every step that fell due
    assert sch.nom_ua == 500 and sch.work_ms == sch.t0_ms + 550
    _run(board, sch, 546, 600)
    assert s.state == S.STOPPED and not sch.gate_on and sch.amp_ua == 0
    assert s.drain([])[-2:] == [(500, "RAMP_DOWN"), (590, "STOPPED")]


def test_stop_in_off_ends_at_once():
    board, s, sch = _on()
    _run(board, sch, 500, 710)
    assert s.state == S.OFF and not sch.nom_gate
    sch.stop()
    _at(board, sch, 710)
    assert s.state == S.STOPPED and sch.amp_ua == 0


def test_stop_never_above_the_schedules_own_ramp_down():
    board, s, sch = _on(t=2105, state=S.RAMP_DOWN)  # (the last train runs into it)
    assert s.state == S.RAMP_DOWN and sch.nom_ua == 900
    sch.stop()
    _at(board, sch, 2105)
    assert sch.nom_ua == 800 and sch.stop_from_ua == 900
    _at(board, sch, 2140)  # schedule: 2100 + 30 * 4 -> step 5 (500); stop: 900 - 400
    assert sch.nom_ua == 500
    _at(board, sch, 2171)  # schedule: step 8 (200 uA); stop: 900 - 700 = 200
    assert sch.nom_ua == 200
    _at(board, sch, 2200)  # schedule: 2100 + 100 -> step 10: 0 uA
    assert s.state == S.STOPPED


def test_stop_ends_at_the_gates_end():
    # A 100 ms ramp down (10 ms steps) still at 500 uA at the gate's end (2199 ms): the
    # stop, from 2195 ms, would still be at 100 uA there.
    board, s, sch = _on(P(ramp_down_ms=100, session_ms=2250), t=2195, state=S.RAMP_DOWN)
    assert sch.nom_ua == 500 and sch.sched.gate_end_ms == 2199
    sch.stop()
    _at(board, sch, 2195)
    assert sch.nom_ua == 400
    _at(board, sch, 2198)
    assert s.state == S.RAMP_DOWN and sch.stopping
    _at(board, sch, 2199)  # the gate's end: over
    assert s.state == S.STOPPED and sch.amp_ua == 0


def test_stop_with_the_nominal_gate_closed_ends_even_if_output_is_allowed():
    board, s, sch = _on()
    sch.stop()
    _at(board, sch, 500)
    assert s.state == S.RAMP_DOWN
    sch.nom_gate = False  # (a blinded sham's nominal gate, say): nothing to ramp down
    _at(board, sch, 510)
    assert s.state == S.STOPPED


def test_stop_amplitude_follows_the_nominal_never_raises_the_delivered():
    board, s, sch = _on()
    sch.stop()
    sch._set_amp(300)  # delivered below nominal (a blinded sham's ramp down)
    _at(board, sch, 500)
    assert sch.nom_ua == 900 and sch.amp_ua == 300
    _at(board, sch, 570)  # nominal 200: below the delivered
    assert sch.nom_ua == 200 and sch.amp_ua == 200


# ---- ticks arithmetic inline (issue 18): the same session on both sides of the ms wrap ----
def _history(start_ms, keepalive_ms=0, host_lag_ms=0, sense_ua=None, until=2400):
    """(t, state, amp, gate, work, due, feed, held) per tick, times relative to t0."""
    board, s, sch = _make(P(keepalive_ms=keepalive_ms))
    board.clock.ms = start_ms
    sch.start()
    out = []
    for t in range(1, until):
        board.clock.ms = (start_ms + t) & _MASK
        sch.host_ms = (board.clock.ms - host_lag_ms) & _MASK
        if sense_ua is not None and t == sense_ua[0]:
            board.sense.ua = sense_ua[1]
        sch.tick()
        for x in (sch.work_ms, sch.due_ms, sch.feed_ms, sch.t0_ms):
            assert 0 <= x <= _MASK, x  # a ticks_ms value: past 2**30 it is a heap int
        rel = [((x - sch.t0_ms) & _MASK) for x in (sch.work_ms, sch.due_ms, sch.feed_ms)]
        held = (sch.held_since_ms - sch.t0_ms) & _MASK
        out.append((sch.elapsed_ms, s.state, sch.amp_ua, sch.gate_on, rel, held, sch.fault_code))
        if not s.running():
            break
    return out, board.rec.calls


def test_the_session_is_the_same_across_the_ms_ticks_wrap():
    for start in (_MASK - 30, _MASK - 700, _MASK - 2000, 0x20000000 - 50):
        assert _history(start) == _history(1000), start
    # keep-alive: the host heard 250 ms ago (before the wrap), the limit 300 ms: no stop;
    # then 301 ms: a stop asked, as far from the wrap as anywhere
    assert _history(_MASK - 30, 300, 250) == _history(1000, 300, 250)
    quiet, _ = _history(_MASK - 30, 300, 301, until=3)
    assert quiet[-1][1] == S.STOPPED and quiet == _history(1000, 300, 301, until=3)[0]
    # the overcurrent hold window rolls over the wrap the same way (a fault at the same tick)
    hot = _history(_MASK - 300, sense_ua=(450, 1000 + 100 + 50 + 1))
    assert hot == _history(1000, sense_ua=(450, 1000 + 100 + 50 + 1))
    assert hot[0][-1][-1] == F.OVERCURRENT


def test_parts_io_polls_every_input_and_the_sense_only_with_the_gate_on():
    from tvns.tickio import IO_COMP, IO_ESTOP, IO_KILL, IO_PENDING, IO_SENSE, IO_UA, PartsIO

    board = Board()
    pio = PartsIO(board)
    io = pio.io
    assert io[IO_PENDING] == 0  # "maybe pending": the DAC's apply runs every tick
    board.kill.code = F.OVERCURRENT
    board.estop.pressed_now = True
    board.sense.ua, board.sense.comp = 321, True
    pio.poll(io)
    assert (io[IO_KILL], io[IO_ESTOP], io[IO_UA], io[IO_COMP]) == (F.OVERCURRENT, 1, 0, 0)
    assert board.sense.reads == 0
    io[IO_SENSE] = 1
    board.kill.code = F.NONE
    board.estop.pressed_now = False
    pio.poll(io)
    assert (io[IO_KILL], io[IO_ESTOP], io[IO_UA], io[IO_COMP]) == (F.NONE, 0, 321, 1)
    assert PartsIO(Board(kill=False)).poll(io) is None and io[IO_KILL] == F.NONE
    board.rec.calls = []
    assert pio.finish(io) == 7
    assert board.rec.calls == [("dac", "apply", None), ("engine", "feed", None)]


def test_first_triggered_load_collects_before_the_trigger_modules_come_in(monkeypatch):
    """What a triggered load brings in stays for good (the trigger modules, the triggered PIO
    program): the first one collects first, so it fills the holes at the bottom of the heap,
    not the free space a session's garbage reached (on the emulated Pico a triggered load
    found no 1.3 KB block after two sessions: docs/SPEED.md "Heap"). Only the first: a
    collection costs ~20 ms on the rp2 port."""
    import gc
    import sys

    from sim_support import DEFAULT
    from tvns import protocol as P
    from tvns.board.sim import SimBoard

    seen = []  # at each collection: were the trigger modules in already?
    monkeypatch.setattr(gc, "collect", lambda *a: seen.append("tvns.trigger" in sys.modules))
    monkeypatch.delitem(sys.modules, "tvns.trigger", raising=False)
    sch = Scheduler(SimBoard(), S.Session())
    plain, errs = P.validate(dict(DEFAULT))
    assert errs == []
    sch.load(plain)
    assert seen == [] and sch.trigger is None  # untriggered: nothing imported, no collection
    proto, errs = P.validate(dict(DEFAULT, trigger={"mode": "gate"}))
    assert errs == []
    sch.load(proto)
    assert seen == [False] and sch.trigger is not None
    sch.load(proto)
    assert seen == [False]  # loaded already: no second collection
