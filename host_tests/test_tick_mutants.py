"""The control tick's hot path (scheduler.py: tick, _step, _monitor, _set_gate, _set_amp,
_output_off, _pulsing_for, _marks_off) where `make mutation` found it untested (issue 18): the
inline ticks_diff arithmetic at every distance from the ms wrap, the kill path's cause, the
board's own tick I/O, the trigger's part in the tick (start mode, gate mode, its deadline),
the marker, and the ramp's rules at their edges. Plain asserts on a recording board, each
a few ms at most: `make mutation` runs them once per mutant (SAFETY.md, the mutation
section, lists what is left and why)."""

from test_tick_rules import _MASK, Board, Engine, P, _at, _make, _monitor, _on, _run
from tvns import safety as F
from tvns import session as S
from tvns import tickfast
from tvns import tickio as IO
from tvns.scheduler import Scheduler
from tvns.trigger_fields import GATE, START

_HALF = 0x20000000
# ticks_diff(a, b) values at the edges of MicroPython's definition (-2**29 .. 2**29 - 1)
_EDGES = (-_HALF, -_HALF + 1, -2, -1, 0, 1, 2, _HALF - 1)
# "now" on both sides of the wrap and of its half-way point: every raw difference a - b
# the inline arithmetic can meet (both of its corrections and neither)
_NOWS = (0, 1, _HALF - 1, _HALF, _MASK - 1, _MASK)


def _diff(a, b):
    """MicroPython's time.ticks_diff for ticks_ms values (period 2**30)."""
    return ((a - b + _HALF) & _MASK) - _HALF


def _cases(values):
    """(now, other) with ticks_diff(now, other) == v, for each v at every now in _NOWS."""
    for v in values:
        for now in _NOWS:
            other = (now - v) & _MASK
            assert _diff(now, other) == v
            yield now, other, v


def _start_on(board, p=None, now=None):
    """A session of p (default P()) loaded, armed and started on board (at now, if given)."""
    s = S.Session()
    sch = Scheduler(board, s)
    sch.load(p or P())
    s.fire(S.EV_ARM, 0)
    if now is not None:
        board.clock.ms = now
    sch.start()
    return s, sch


def _started(p=None, now=1000, **board_kw):
    board, s, sch = _make(p or P(), **board_kw)
    board.clock.ms = now
    sch.start()
    return board, s, sch


# ---- the inline ticks_diff, site by site: the same answer as ticks_diff at every distance ----
def test_session_time_is_ticks_diff_from_the_start_at_every_distance_from_the_wrap():
    # (t0 after now never happens in a session; the arithmetic must still be ticks_diff)
    for now, t0, v in _cases(_EDGES + (41, 2449, 2451)):
        board, s, sch = _started()
        board.clock.ms = now
        sch.t0_ms = t0
        sch.tick()
        assert sch.elapsed_ms == v, (now, t0)
        cap = v > sch.cap_ms  # (2450 ms: the session plus the end guard)
        assert (sch.fault_code, sch.fault_ms) == ((F.SESSION_CAP, v) if cap else (F.NONE, 0))


def test_nothing_runs_before_work_ms_and_a_late_tick_runs_what_fell_due():
    for now, work, v in _cases(_EDGES):
        board, s, sch = _started()
        board.clock.ms = now
        sch.t0_ms = (now - 100) & _MASK  # session time 100 ms: the ramp's step 2 is due
        sch.work_ms = work
        sch.tick()
        ran = v >= 0  # ticks_diff(now, work_ms) >= 0: due
        assert (sch.amp_ua == 100) == ran and (sch.amp_ua == 0) != ran, (now, work)
        assert sch.work_ms == ((sch.t0_ms + 120) & _MASK if ran else work)


def test_the_hold_window_rolls_at_ticks_diff_held_win_at_every_distance_from_the_wrap():
    win = 40 + 5  # a period + _APPLY_MS
    for now, since, v in _cases(_EDGES + (win - 1, win)):
        board, s, sch = _on()
        assert sch.held_win_ms == win and sch.amp_ua == 1000
        sch.held_since_ms = since
        sch.held_hi_ua, sch.held_hi_prev_ua = 0, 2000  # 2 mA replaced a window ago
        board.sense.ua = 1500  # above 1 mA's 110 % + floor, below 2 mA's
        _monitor(sch, now, 500)
        # a new window (d >= win) forgets the one before: 2 mA cannot show any more
        assert (sch.fault_code == F.OVERCURRENT) == (v >= win), (now, since)


def test_the_keepalive_is_missed_at_ticks_diff_above_its_limit_at_every_distance_from_the_wrap():
    ka = 500
    for now, host, v in _cases(_EDGES + (ka, ka + 1)):
        board, s, sch = _started(P(keepalive_ms=ka))
        sch.host_ms = host
        assert _monitor(sch, now, 0) is False
        missed = v > ka
        assert sch.stop_requested == missed, (now, host)
        assert sch.stop_reason == (F.HOST_LOSS if missed else F.NONE)
        assert sch.work_ms == (now if missed else sch.t0_ms + 40)


class WaitingTrigger:
    """A trigger in start mode still waiting for its edge, with a deadline of its own (the
    TriggerRun interface the tick uses)."""

    waiting = True
    open = False

    def __init__(self, due_ms, waiting=True):
        self.due_ms = due_ms
        self.waiting = waiting
        self.edge_ms = 0
        self.polls = []

    def poll(self, now, t):
        self.polls.append((now, t))
        return False

    def holds_ramp(self):
        return False

    def flowing_ms(self, now):
        return -1

    def off(self):
        self.open = False


def test_the_next_tick_is_never_after_the_dead_mans_feed_whatever_the_trigger_says():
    # ticks_diff(feed, trigger's deadline) at every edge: the earlier of the two is due
    for f in _NOWS:  # the feed deadline at every position around the wrap
        for v in _EDGES:
            board, s, sch = _started()
            board.clock.ms = (f - 7) & _MASK
            sch.trigger = WaitingTrigger((f - v) & _MASK)
            sch.tick()
            assert sch.feed_ms == f and sch.elapsed_ms == 0
            assert sch.due_ms == (f if v < 0 else sch.trigger.due_ms), (f, v)
            assert sch.trigger.polls == [(board.clock.ms, 0)]


def test_a_running_triggers_deadline_comes_in_when_it_is_the_earliest():
    board, s, sch = _started()  # t0 = 1000: the ramp's next step at 1040
    board.engine.feed_ms = 100
    trg = sch.trigger = WaitingTrigger(1010, waiting=False)
    trg.open = True
    _at(board, sch, 1)
    assert trg.polls == [(1001, 1)] and sch.work_ms == 1040 and sch.due_ms == 1010
    trg.due_ms = 1060  # after the schedule's step
    _at(board, sch, 2)
    assert sch.due_ms == 1040
    board.engine.feed_ms = 15
    trg.due_ms = 1021  # before the step, after the feed
    _at(board, sch, 3)
    assert sch.due_ms == 1018
    # across the wrap: the trigger's deadline just past it, the step and the feed before
    board, s, sch = _started(now=_MASK - 50)
    board.engine.feed_ms = 100
    trg = sch.trigger = WaitingTrigger(3, waiting=False)
    trg.open = True
    _at(board, sch, 1)
    assert sch.work_ms == _MASK - 10 and sch.due_ms == _MASK - 10
    trg.due_ms = _MASK - 20
    _at(board, sch, 2)
    assert sch.due_ms == _MASK - 20


# ---- the kill path and the board's own tick I/O (rp2: board/rp2_regs.py) ----
class RegsIO:
    """A board's own tick_io (as board/rp2_regs.py on the chip): one array, poll(io) fills the
    monitor words (IO_KILL -1 when the kill machine fired: its cause is kill.tripped()),
    finish(io) reads IO_PENDING from the same array."""

    def __init__(self, board):
        self.board = board
        self.io = IO.new_io(IO.IO_WORDS + 2)
        self.kill_word = 0
        self.seen = []

    def poll(self, io):
        self.seen.append(("poll", io))
        io[IO.IO_KILL] = self.kill_word
        io[IO.IO_ESTOP] = 0
        if io[IO.IO_SENSE]:
            io[IO.IO_UA] = self.board.dac.value_ua
            io[IO.IO_COMP] = 0

    def finish(self, io):
        self.seen.append(("finish", io))
        if io[IO.IO_PENDING] >= 0:
            self.board.dac.apply()
        return self.board.engine.feed()


def _regs_board():
    board = Board()
    board.tick_io = RegsIO(board)
    return board


def test_a_fired_kill_machine_latches_the_cause_its_snapshot_names_else_kill():
    for tripped, cause in ((F.OVERCURRENT, F.OVERCURRENT), (F.NONE, F.KILL)):
        board = _regs_board()
        s, sch = _start_on(board)
        _run(board, sch, 1, 100)
        assert s.state == S.RAMP_UP
        board.kill.code = tripped
        board.tick_io.kill_word = -1
        _at(board, sch, 100)
        assert s.state == S.FAULT and sch.fault_code == cause and sch.fault_ms == 100


def test_the_tick_hands_the_boards_own_array_to_poll_and_finish():
    board = _regs_board()
    s, sch = _start_on(board)
    _run(board, sch, 1, 50)
    io = board.tick_io.io
    assert board.tick_io.seen and all(a is io for _w, a in board.tick_io.seen)
    assert [w for w, _a in board.tick_io.seen[:4]] == ["poll", "finish", "poll", "finish"]
    # nothing pending (IO_PENDING < 0): the board's finish skips the DAC
    board.rec.calls = []
    io[IO.IO_PENDING] = -1
    _at(board, sch, 50)
    assert ("dac", "apply", None) not in board.rec.calls and sch.amp_ua == 100


class FastIO(RegsIO):
    """A board's own tick I/O with its own timer callback, callback(hot, io, look) (as
    board/rp2_fast.py on the chip), and a poll that reads the time itself (reads_time:
    rp2_regs.poll). answer: what its fast path answers while a session runs (None:
    tvns/tickfast.py's own judgement, with this board's poll)."""

    reads_time = True

    def __init__(self, board, answer=None):
        super().__init__(board)
        self.answer = answer
        self.fast_calls = 0
        self.built = []

    def poll(self, io):
        super().poll(io)
        io[IO.IO_NOW] = self.board.clock.ms & _MASK  # the board's own time read

    def callback(self, hot, io, look):
        self.built.append((hot, io, look))
        lay = tickfast.LAYOUT
        beats, state, gate = lay[20], lay[30], lay[14]

        def cb(timer):
            b = hot[beats]
            hot[beats] = b + 1 if b < _MASK else 0
            if not S.RUNNING[hot[state]]:
                if io[IO.IO_PENDING] >= 0:
                    look(timer)
                return
            self.fast_calls += 1
            if self.answer is None:
                r = tickfast.run(hot, io, self.poll, self.finish)
            else:
                io[IO.IO_SENSE] = hot[gate]  # the sense while the gate is on
                self.poll(io)
                r = self.answer
            if r != 1:
                look(timer)

        return cb


def test_a_boards_own_fast_path_and_timed_poll_are_the_ones_the_tick_uses():
    """The scheduler takes a board's own timer callback and a poll that reads the time as they
    are (not wrapped in the clock's read, not replaced by the generic tickfast.callback): built
    once over the hot state, the board's array and the guarded full path, it is tick_cb and
    what tick() runs; its fast path's 1 ends the tick (nothing of the full path runs), its 0
    hands the same sample to the full path."""
    plain = _regs_board()
    _s, ref = _start_on(plain)
    _run(plain, ref, 1, 300)
    board = Board()
    board.tick_io = FastIO(board)
    s, sch = _start_on(board)
    assert sch._poll == board.tick_io.poll  # reads_time: the board's poll, not wrapped
    assert [(h is sch._hot, io is board.tick_io.io, lk == sch._look) for h, io, lk in
            board.tick_io.built] == [(True, True, True)]  # fmt: skip
    n0 = board.tick_io.fast_calls
    _run(board, sch, 1, 300)
    assert board.tick_io.fast_calls - n0 == 299  # every running tick asked the board's fast path
    assert s.state == S.RAMP_UP and sch.fault_code == F.NONE and sch.exceptions == 0
    # its 0s (steps due) went to the full path: the same ramp as without a fast path
    assert sch.amp_ua == ref.amp_ua > 200
    # "clean" answered on every tick: the full path never runs, the ramp stands still
    board = Board()
    board.tick_io = FastIO(board, answer=1)
    s, sch = _start_on(board)
    amp = sch.amp_ua
    board.tick_io.seen = []
    _run(board, sch, 1, 300)
    assert sch.amp_ua == amp and s.state == S.RAMP_UP
    assert [w for w, _a in board.tick_io.seen] == ["poll"] * 299  # fast's own polls only
    # "look" on every tick: the full path runs on the fast path's sample (no second poll)
    board = Board()
    board.tick_io = FastIO(board, answer=0)
    s, sch = _start_on(board)
    board.tick_io.seen = []
    _run(board, sch, 1, 300)
    assert sch.amp_ua == ref.amp_ua and sch.fault_code == F.NONE
    assert [w for w, _a in board.tick_io.seen].count("poll") == 299
    # a board's poll without reads_time is wrapped: the clock's time is written first
    board = _regs_board()
    _s, sch = _start_on(board)
    assert sch._poll != board.tick_io.poll and not hasattr(board.tick_io, "callback")


# ---- the monitors' arithmetic: integers only (a float in the hard IRQ allocates) ----
class _Ua(int):
    """A sense reading that refuses to be compared with anything but an int."""

    def __gt__(self, o):
        assert type(o) is int, o
        return int(self) > o

    def __lt__(self, o):
        assert type(o) is int, o
        return int(self) < o


class ListIO(RegsIO):
    def __init__(self, board):
        super().__init__(board)
        self.io = [0] * IO.IO_WORDS
        self.io[IO.IO_PENDING] = -1
        self.ua = None

    def poll(self, io):
        io[IO.IO_KILL] = 0
        io[IO.IO_ESTOP] = 0
        if io[IO.IO_SENSE]:
            ua = self.board.dac.value_ua if self.ua is None else self.ua
            io[IO.IO_UA] = _Ua(ua)
            io[IO.IO_COMP] = 0


def test_the_monitors_thresholds_are_integers():
    p = P(amplitude_ua=1005)  # 110 % of it is not a whole uA
    board = Board()
    board.tick_io = tio = ListIO(board)
    s, sch = _start_on(board, p)
    _run(board, sch, 1, 500)
    assert s.state == S.ON and sch.amp_ua == 1005 and sch.exceptions == 0
    sch.prev_amp_ua = 1005
    tio.ua = 503  # half of 1005 is 502.5: not below it
    _run(board, sch, 500, 520)
    assert s.state == S.ON and sch.exceptions == 0
    tio.ua = 1005 + 100 + F.SENSE_FLOOR_UA  # 110 % + the floor, rounded down: not above
    _run(board, sch, 520, 540)
    assert s.state == S.ON and sch.exceptions == 0
    tio.ua += 1
    _at(board, sch, 540)
    assert sch.fault_code == F.OVERCURRENT and sch.exceptions == 0


def test_under_current_is_judged_against_the_lower_of_this_step_and_the_last():
    # A ramp step 100 -> 200 uA: the hold may still show a 100 uA pulse (on the rp2 port a
    # step read 96 uA), which is not a lead-off; below half of 100 uA it is.
    board, s, sch = _make(P())
    sch.start()
    _run(board, sch, 1, 81)
    assert (sch.amp_ua, sch.prev_amp_ua) == (200, 100) and sch.gate_on
    board.sense.ua = 96
    _run(board, sch, 81, 120)
    assert s.state == S.RAMP_UP
    sch.work_ms = sch.t0_ms + 200  # hold the ramp at 200 uA
    board.sense.ua = 49
    _at(board, sch, 120)
    assert sch.fault_code == F.LEAD_OFF and sch.fault_ms == 120


# ---- the trigger in the tick (docs/GATING.md), with the real TriggerRun ----
class Input:
    def __init__(self):
        self.v = 0

    def level(self):
        return self.v


class Marker:
    """The marker pin as machine.Pin and the sim board (board/sim.py SimMarker) have it:
    value(v) drives it to v's truth (value(None) drives it low, as the rp2 port's
    machine_pin_call), value() reads it. Its level changes are kept with the clock."""

    def __init__(self, clock):
        self.clock = clock
        self.level = 0
        self.edges = []

    def value(self, *v):
        if not v:
            return self.level
        v = 1 if v[0] else 0
        if v != self.level:
            self.level = v
            self.edges.append((self.clock.ms, v))
        return None


class PulseEngine(Engine):
    """The pulse engine's side of a trigger: it follows the input itself (the rp2 PIO, the
    sim model: set_trigger accepts the mode) and counts the pulses it gave."""

    def __init__(self, rec):
        super().__init__(rec)
        self.count = 0

    def set_trigger(self, mode, active):
        self.rec.add("engine", "trigger", (mode, active))
        return True

    def pulses(self):
        return self.count


class Spec:
    """A valid trigger block in firmware units (trigger_fields.TriggerSpec)."""

    def __init__(self, mode, **kw):
        self.mode = mode
        self.active = 1
        self.debounce_ms = 5
        self.min_gap_ms = 0
        self.max_trains_per_min = 30
        self.max_stim_ms = 600000
        self.missing_ms = 10000
        for k in kw:
            setattr(self, k, kw[k])


def _triggered(spec, marker=True, **p_kw):
    board = Board()
    board.engine = PulseEngine(board.rec)
    board.trigger = Input()
    if marker:
        board.marker = Marker(board.clock)
    s, sch = _start_on(board, P(trigger=spec, **p_kw), now=1000)
    return board, s, sch


def _pulse_run(board, sch, t_from, t_to):
    """Tick every ms of session time; the engine gives a pulse every 40 ms while the input
    is active and the gate open (as the PIO does)."""
    for t in range(t_from, t_to):
        board.clock.ms = sch.t0_ms + t
        if board.trigger.v and sch.gate_on and t % 40 == 0:
            board.engine.count += 1
        sch.tick()


def test_start_mode_waits_with_session_time_0_then_counts_from_the_edge():
    board, s, sch = _triggered(Spec(START, debounce_ms=5))
    trg = sch.trigger
    board.rec.calls = []
    for now in range(1001, 1300):
        board.clock.ms = now
        sch.tick()
        assert sch.t0_ms == now and sch.elapsed_ms == 0 and trg.waiting
        assert sch.amp_ua == 0 and not sch.gate_on and board.rec.of("dac") == [("apply", None)]
        board.rec.calls = []
        # no work of its own: the trigger's deadline (the missing-trigger check), or the feed
        assert sch.due_ms == min(trg.due_ms, now + 7), now
    assert s.state == S.RAMP_UP and trg.due_ms == 1000 + 10000
    board.trigger.v = 1  # the edge: first seen at 1300, debounced 5 ms later
    for now in range(1300, 1306):
        board.clock.ms = now
        sch.tick()
    assert not trg.waiting and sch.t0_ms == 1300 and sch.elapsed_ms == 5
    # the schedule ran at that very tick: its next step counts from the edge
    assert sch.work_ms == 1300 + 40
    _pulse_run(board, sch, 6, 41)
    assert sch.amp_ua == 100 and sch.gate_on and sch.gate_on_ms == 1340
    assert trg.events.drain([]) == [(0, "on"), (0, "start")]


def test_start_mode_logs_its_edge_at_session_time_0_with_no_debounce():
    board, s, sch = _triggered(Spec(START, debounce_ms=0))
    board.clock.ms = 1001
    sch.tick()
    board.trigger.v = 1
    board.clock.ms = 1002
    sch.tick()
    assert sch.t0_ms == 1002 and sch.elapsed_ms == 0 and not sch.trigger.waiting
    assert sch.trigger.events.drain([]) == [(0, "on"), (0, "start")]


def test_a_stop_ends_the_wait_for_the_start_edge():
    board, s, sch = _triggered(Spec(START))
    _at(board, sch, 1)
    sch.stop()
    _at(board, sch, 0)  # (session time stays 0 while waiting)
    assert s.state == S.STOPPED and sch.amp_ua == 0 and not sch.gate_on


def test_gate_mode_takes_the_first_step_then_ramps_only_while_pulses_run():
    board, s, sch = _triggered(Spec(GATE))
    _pulse_run(board, sch, 1, 200)
    # no input, no pulse: the first step (a pulse at 0 uA is no pulse) and then it holds
    assert sch.gate_on and sch.amp_ua == 100 and sch.nom_ua == 100 and s.state == S.RAMP_UP
    assert board.marker.edges == []  # the gate opening is no train: the marker stays low
    board.trigger.v = 1
    _pulse_run(board, sch, 200, 201)  # the first pulse: a burst, the ramp goes on at once
    assert sch.trigger.bursting and sch.amp_ua == 200
    assert board.marker.edges == [(sch.t0_ms + 200, 1)]
    _pulse_run(board, sch, 201, 281)
    assert sch.amp_ua == 400  # a step per pulse period while the pulses run


def test_gate_mode_lead_off_only_while_pulses_flow_for_more_than_a_period():
    board, s, sch = _triggered(Spec(GATE))
    board.trigger.v = 1
    _pulse_run(board, sch, 1, 401)
    assert sch.amp_ua >= 300 and sch.trigger.bursting
    board.trigger.v = 0  # the input drops: no pulse; the sense sees none
    board.sense.ua = 0
    _pulse_run(board, sch, 401, 500)
    assert s.state != S.FAULT and not sch.trigger.bursting and sch.gate_on
    board.trigger.v = 1  # pulses again from 520 into an open load (the sense reads 0)
    _pulse_run(board, sch, 500, 561)
    assert sch.trigger.burst_ms == sch.t0_ms + 520 and s.state != S.FAULT
    _pulse_run(board, sch, 561, 562)  # pulsing for more than a period: lead-off
    assert sch.fault_code == F.LEAD_OFF and sch.fault_ms == 561


def test_a_stop_in_a_burst_drops_the_trains_marker_and_a_fault_too():
    board, s, sch = _triggered(Spec(GATE))
    board.trigger.v = 1
    _pulse_run(board, sch, 1, 300)
    assert board.marker.level == 1 and sch.trigger.bursting
    sch.stop()
    _pulse_run(board, sch, 300, 400)
    assert s.state == S.STOPPED and board.marker.level == 0 and not sch.trigger.open
    board, s, sch = _triggered(Spec(GATE))
    board.trigger.v = 1
    _pulse_run(board, sch, 1, 300)
    sch.fault(F.ESTOP)
    assert board.marker.level == 0 and not sch.trigger.open


def _marked(p=None):
    """A session on a board with a marker output (no trigger: the marker is the gate)."""
    board = Board()
    board.marker = Marker(board.clock)
    s, sch = _start_on(board, p)
    return board, s, sch


def test_scheduled_trains_drive_the_marker_with_the_gate():
    board, s, sch = _marked()
    _run(board, sch, 1, 2450)
    assert s.state == S.DONE and board.marker.level == 0
    gate = [v for w, v in board.rec.of("engine") if w == "gate"]
    assert [v for _t, v in board.marker.edges] == [1 if g else 0 for g in gate]
    assert [t - sch.t0_ms for t, _v in board.marker.edges[:4]] == [40, 700, 900, 1200]
    board, s, sch = _marked()
    _run(board, sch, 1, 500)
    assert board.marker.level == 1
    sch.fault(F.ESTOP)
    assert board.marker.level == 0


# ---- the ramp's rules at their edges ----
def test_the_nominal_amplitude_never_falls_while_a_fast_ramp_runs_with_pulses():
    board, s, sch = _make(P(ramp_up_ms=100))  # the schedule steps every 10 ms
    sch.start()
    last = 0
    for t in range(1, 400):  # the ramp, then the first train (the gate closes at 400)
        _at(board, sch, t)
        assert sch.nom_ua >= last, t
        last = sch.nom_ua
    assert last == 1000


def test_a_train_after_the_ramp_starts_at_the_set_amplitude():
    board, s, sch = _on()
    assert sch.last_up_ms == 400
    _run(board, sch, 500, 900)  # OFF from 700: the step up was 300 ms before
    assert s.state == S.OFF and sch.nom_ua == 1000 and sch.amp_ua == 1000
    board.rec.calls = []
    _run(board, sch, 900, 901)
    assert s.state == S.ON and sch.amp_ua == 1000 and board.rec.of("dac") == [("apply", None)]


def test_a_step_up_a_whole_period_before_the_gate_closes_is_kept():
    board, s, sch = _make(P(ramp_up_ms=100, on_ms=100, off_ms=400, session_ms=3000))
    sch.start()
    _run(board, sch, 1, 160)
    before = sch.nom_ua
    sch.last_up_ms = 120
    sch.work_ms = sch.t0_ms + 160
    _at(board, sch, 160)
    assert sch.nom_ua == before + 100
    _run(board, sch, 161, 201)  # the gate closes at 200: a pulse period after the step
    assert not sch.gate_on and sch.nom_ua == before + 100


def test_an_early_tick_leaves_the_deadline_at_the_schedules_next_change():
    board, s, sch = _on()
    assert sch.last_up_ms == 400 and sch.work_ms == sch.t0_ms + 700
    for t in (410, 450):  # within a period of the last step up, and after it
        sch.work_ms = sch.t0_ms + t  # (a stop's or a trigger's early tick)
        _at(board, sch, t)
        assert sch.work_ms == sch.t0_ms + 700 and sch.nom_ua == 1000
        assert sch.last_up_ms == 400


def test_a_ramp_slower_than_a_period_steps_on_the_schedules_own_deadlines():
    board, s, sch = _make(P(ramp_up_ms=800, on_ms=300, session_ms=3000))  # 80 ms steps
    sch.start()
    for k in range(1, 10):
        _run(board, sch, 80 * (k - 1) + 1, 80 * k + 1)
        assert sch.nom_ua == 100 * k and sch.work_ms == sch.t0_ms + 80 * (k + 1), k


def test_the_nominal_amplitude_never_passes_the_schedules_with_steps_below_100_ua():
    board, s, sch = _make(P(amplitude_ua=150))  # two steps of 75 uA
    sch.start()
    for t in range(1, 701):
        _at(board, sch, t)
        assert sch.nom_ua <= sch.sched.amp_ua and sch.nom_ua <= 150, t
    assert sch.nom_ua == 150 and sch.amp_ua == 150


def test_a_stop_ramps_to_its_last_microamp_before_it_ends():
    board, s, sch = _on(P(amplitude_ua=1001))
    sch.stop()
    _at(board, sch, 500)
    _run(board, sch, 501, 600)
    assert s.state == S.RAMP_DOWN and sch.amp_ua == 1  # 1001 - 10 steps
    _at(board, sch, 600)
    assert s.state == S.STOPPED and sch.amp_ua == 0
    assert s.drain([])[-1] == (600, "STOPPED")


def test_a_stop_follows_a_schedule_ramp_down_faster_than_its_own():
    # 2 mA down in 100 ms (5 ms per 0.1 mA step): the stop's 10 ms steps are slower
    p = P(amplitude_ua=2000, ramp_down_ms=100, session_ms=2250)  # down from 2150 (ON)
    board, s, sch = _on(p, t=2151, state=S.RAMP_DOWN)
    assert sch.nom_ua == 1900
    sch.stop()
    lower = 0
    for t in range(2151, 2199):
        _at(board, sch, t)
        stop_ua = 1900 - ((t - 2151) // 10 + 1) * 100
        assert sch.nom_ua == min(sch.sched.amp_ua, stop_ua), t
        lower += sch.sched.amp_ua < stop_ua
    assert lower > 20 and s.state == S.RAMP_DOWN
    _at(board, sch, 2199)  # the gate's end
    assert s.state == S.STOPPED


def test_a_step_up_waits_a_whole_period_to_the_millisecond():
    board, s, sch = _make(P(ramp_up_ms=100))  # the schedule is ahead: a step every period
    sch.start()
    _run(board, sch, 1, 150)
    assert sch.last_up_ms == 130 and sch.nom_ua == 400 and sch.sched.amp_ua == 1000
    sch.work_ms = sch.t0_ms + 169  # an early tick, 39 ms after the last step
    _at(board, sch, 169)
    assert sch.nom_ua == 400 and sch.work_ms == sch.t0_ms + 170
    _at(board, sch, 170)
    assert sch.nom_ua == 500 and sch.last_up_ms == 170


# ---- a whole session across the ms wrap ----
def _trace(start, stop_at=None, end=2700):
    """Every tick's commands and deadlines, by session time, of a session started at ticks_ms
    start (deadlines as distances from the start: the same numbers on both sides of the wrap)."""
    board, s, sch = _make(P())
    board.clock.ms = start
    sch.start()
    out = []
    for t in range(1, end):
        board.clock.ms = (start + t) & _MASK
        if t == stop_at:
            sch.stop()
        sch.tick()
        work = (sch.work_ms - start) & _MASK
        due = (sch.due_ms - start) & _MASK
        out.append((t, s.state, sch.amp_ua, sch.gate_on, sch.nom_ua, work, due))
    return out


def test_a_whole_session_across_the_ms_wrap_runs_as_one_far_from_it():
    """The step's inline ticks_add sites (the schedule's next change, a withheld or a taken
    ramp step's due time, the stop's steps) and ticks_diff sites: a session whose ms counter
    wraps in its ramp up, between trains, in its ramp down or in a stop's ramp makes the same
    commands, at the same session times, with the same deadlines, as one started at 1000."""
    for stop_at in (None, 1130):
        far = _trace(1000, stop_at)
        assert far[-1][1] in (S.DONE, S.STOPPED), far[-1]
        for before_wrap in (1, 20, 390, 655, 1001, 1135, 2299):
            near = _trace((_MASK + 1 - before_wrap) & _MASK, stop_at)
            diff = [(a, b) for a, b in zip(far, near) if a != b]
            assert not diff, (stop_at, before_wrap, diff[:3])


# ---- the output-allowed interlock, behind the schedule ----
def test_a_schedule_that_says_gate_on_in_a_state_without_output_gets_no_pulse():
    """The step gates on the session's state as well as on the schedule's answer (invariant 4:
    output only in RAMP_UP, ON, RAMP_DOWN). With the schedule's words forced to "gate on" at
    every evaluation, the duty cycle's OFF state still gets the gate closed and nom_gate 0:
    the interlock alone keeps it (the table's answer read as anything but 0, or `or` for
    `and`, would open it)."""
    from tvns import schedule as SCH
    from tvns import tickstep

    _, _, gate, _, _, out_gate, _ = SCH.ANSWER
    real = tickstep._eval

    def forced(words, t):
        real(words, t)
        words[gate] = 1
        words[out_gate] = 1

    tickstep._eval = forced
    try:
        board, s, sch = _make(P())
        sch.start()
        seen_off = 0
        for t in range(1, 1000):
            _at(board, sch, t)
            if s.state == S.OFF:
                seen_off += 1
                assert not sch.gate_on and not sch.nom_gate, (t, sch.gate_on, sch.nom_gate)
    finally:
        tickstep._eval = real
    assert seen_off > 100  # the first train's off time (200 ms) was reached and judged
