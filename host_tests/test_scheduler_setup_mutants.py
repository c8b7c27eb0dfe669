"""scheduler.py's set-up (construction, load, the trigger's set-up, start) at the corners the
rule-by-rule tests did not reach (issue 18, the mutation run's survivors): the constants the
hot path inlines, a board's own tick I/O, the marker of scheduled trains, the blinded sham
arm chosen at load, the sense's hold window, a trigger on a board without one, the input's
pull, the engine told to follow the input or not, a start the state table refuses and a
fault in a session's first tick. Each asserts what reaches the output, the gate, the fault
latch or the timing. Plain asserts, on test_tick_rules' recording board or the sim board
(deadline-driven: a few seconds of session in milliseconds), fast: `make mutation` runs
them per mutant (SAFETY.md, the mutation section)."""

import pytest
from sim_support import App, SimBoard, doc, gated, pulse_starts_us
from test_tick_rules import Board, Clock, Engine, P, _at, _make, _run
from tvns import errors as E
from tvns import limits as L
from tvns import protocol as PR
from tvns import safety as F
from tvns import session as S
from tvns import tickfast as TF
from tvns import tickio as IO
from tvns import ticklook as TL
from tvns import tickstep as TS
from tvns.board.simrun import simulate
from tvns.board.trigger_in import PinTrigger
from tvns.scheduler import Scheduler


# ---- construction ----
@pytest.mark.parametrize(
    "module, name",
    [
        (L, "RAMP_STEP_MAX_UA"),
        (L, "STOP_RAMP_STEP_MS"),
        (F, "SENSE_FLOOR_UA"),
        (F, "LEAD_OFF_MIN_SETPOINT_UA"),
        (F, "END_GUARD_MS"),
        (IO, "IO_KILL"),
        (IO, "IO_ESTOP"),
        (IO, "IO_UA"),
        (IO, "IO_COMP"),
        (IO, "IO_SENSE"),
        (IO, "IO_PENDING"),
    ],
)
def test_any_one_inlined_constant_out_of_step_refuses_to_build(monkeypatch, module, name):
    """The hot path inlines these as const(): a change on one side alone must stop the
    firmware at boot, naming where to look, not run a tick on the old number."""
    Scheduler(Board(), S.Session())  # in step: builds
    monkeypatch.setattr(module, name, getattr(module, name) + 1)
    with pytest.raises(ValueError) as exc:
        Scheduler(Board(), S.Session())
    assert str(exc.value) == "scheduler constants out of step with limits/safety/tickio.py"


@pytest.mark.parametrize(
    "module, name",
    [(TF, "LAYOUT"), (TL, "LAYOUT"), (TS, "LAYOUT"), (S, "STATE_WORD"), (S, "RUNNING")],
)
def test_any_one_word_layout_out_of_step_refuses_to_build(monkeypatch, module, name):
    """The fast path, the full path and the step number the hot state's words as constants
    of their own modules (viper folds only those), the session its state's word and which
    states run: one module's numbering changed alone must stop the firmware at boot, not
    let two modules read one word for two things."""
    Scheduler(Board(), S.Session())  # in step: builds
    old = getattr(module, name)
    if name == "LAYOUT":
        new = (old[0] + 1,) + old[1:]
    elif name == "RUNNING":
        new = old[:2] + bytes([1 - old[2]]) + old[3:]  # RAMP_UP no longer running
    else:
        new = old + 1
    monkeypatch.setattr(module, name, new)
    with pytest.raises(ValueError) as exc:
        Scheduler(Board(), S.Session())
    assert str(exc.value) == "scheduler constants out of step with limits/safety/tickio.py"


class OwnIO:
    """A board's own tick I/O (as rp2_regs.tick_io on the chip): its array says no setpoint
    is pending, its poll reads the inputs its own way, its finish feeds the engine."""

    def __init__(self, board):
        self.board = board
        self.io = IO.new_io()  # IO_PENDING -1: nothing pending
        self.estop = 0
        self.polls = 0
        self.finishes = 0

    def poll(self, io):
        self.polls += 1
        io[IO.IO_KILL] = 0
        io[IO.IO_ESTOP] = self.estop
        if io[IO.IO_SENSE]:
            io[IO.IO_UA] = self.board.dac.value_ua
            io[IO.IO_COMP] = 0

    def finish(self, io):
        self.finishes += 1
        return 9


def test_a_boards_own_tick_io_is_what_the_tick_reads_and_finishes_with():
    board = Board()
    own = board.tick_io = OwnIO(board)
    s = S.Session()
    sch = Scheduler(board, s)
    sch.tick()  # idle, and the board's array says no setpoint is pending: no DAC transfer
    assert board.rec.calls == []
    sch.load(P())
    s.fire(S.EV_ARM, 0)
    sch.start()
    assert own.polls == 1 and own.finishes == 1
    assert sch.feed_ms == board.clock.ms + 9  # the board's finish fed the engine
    assert ("engine", "feed", None) not in board.rec.calls  # not the parts' path
    _run(board, sch, 1, 500)
    assert s.state == S.ON and sch.gate_on
    own.estop = 1  # the board's own read of the e-stop (its parts' method says not pressed)
    _at(board, sch, 500)
    assert s.state == S.FAULT and sch.fault_code == F.ESTOP and not sch.gate_on


def test_scheduled_trains_drive_the_marker_with_the_gate():
    r = simulate(doc(session_s=30, on_s=5, off_s=5), duration_ms=16000)
    rises = [t for t, lv in r["marker_edges"] if lv]
    falls = [t for t, lv in r["marker_edges"] if not lv]
    assert rises == [t for t, lv in r["gate_edges"] if lv] and len(rises) == 2
    gate_falls = [t for t, lv in r["gate_edges"] if not lv and t < 16_000_000]  # (not the cut)
    assert falls == gate_falls and len(falls) == 1


def test_a_fault_drops_the_marker_of_a_scheduled_train():
    r = simulate(doc(session_s=30, on_s=5, off_s=5), duration_ms=3000, inject=[("estop", 2000)])
    assert r["final_state"] == "FAULT"
    edges = r["marker_edges"]
    assert [lv for _t, lv in edges] == [1, 0] and 2_000_000 <= edges[1][0] <= 2_002_000


# ---- load ----
def test_load_with_the_sham_arm_delivers_the_sham():
    """load(p, blind_sham=True): the states follow the active arm, the output the sham's
    (back to 0 uA over ramp_down_ms of train time after the ramp up)."""
    board, s, sch = _make()
    sch.load(P(), True)
    s.fire(S.EV_ARM, 0)
    sch.start()
    _run(board, sch, 1, 1000)
    assert s.state == S.ON and sch.nom_ua == 1000
    assert sch.amp_ua == 0 and not sch.gate_on and board.dac.value_ua == 0


class HistDac:
    def __init__(self, rec, clock):
        self.rec = rec
        self.clock = clock
        self.value_ua = 0
        self.history = [(-(10**9), 0)]  # (clock ms, setpoint from then on)

    def set_ua(self, ua):
        self.rec.add("dac", "set", ua)
        self.value_ua = ua
        self.history.append((self.clock.ms, ua))

    def apply(self):
        self.rec.add("dac", "apply", None)


class HoldSense:
    """A sample-and-hold sense on a perfect load: it shows the last pulse, whose setpoint was
    commanded up to a pulse period + 5 ms ago (scheduler.py _APPLY_MS), here always the
    oldest it may be."""

    step_ua = 8

    def __init__(self, dac, clock):
        self.dac = dac
        self.clock = clock
        self.lag_ms = 0

    def read_ua(self):
        at = self.clock.ms - self.lag_ms
        return [ua for t, ua in self.dac.history if t <= at][-1]

    def read_compliance(self):
        return False


def _stop_under_a_lagging_hold(stop_ms):
    board = Board()
    board.dac = HistDac(board.rec, board.clock)
    board.sense = HoldSense(board.dac, board.clock)
    s = S.Session()
    sch = Scheduler(board, s)
    sch.load(P())  # 25 Hz: a pulse every 40 ms
    s.fire(S.EV_ARM, 0)
    sch.start()
    _run(board, sch, 1, stop_ms)
    assert s.state == S.ON and sch.amp_ua == 1000
    board.sense.lag_ms = 40 + 5
    sch.stop()  # 0.1 mA every 10 ms: the hold shows up to 5 steps more than is set
    shown = 0
    for t in range(stop_ms, stop_ms + 200):
        _at(board, sch, t)
        shown = max(shown, board.sense.read_ua() - sch.amp_ua)
        if not s.running():
            break
    assert s.state == S.STOPPED and sch.fault_code == F.NONE, (stop_ms, t, sch.fault_code)
    assert shown >= 400  # (the hold did show the older, higher steps)


def test_a_stop_ramp_is_no_overcurrent_while_the_hold_shows_a_pulse_a_period_old():
    """An amplitude replaced at any phase of the monitor's hold window counts for at least a
    pulse period + 5 ms (load sets the window): the stop started at 7 phases of it."""
    for stop_ms in range(500, 535, 5):
        _stop_under_a_lagging_hold(stop_ms)


# ---- the trigger's set-up ----
def _proto(**changes):
    p, errs = PR.validate(doc(**changes))
    assert errs == [], errs
    return p


def test_a_triggered_protocol_on_a_board_without_an_input_is_refused_naming_the_field():
    board, s, sch = _make()  # the recording board has no `trigger` attribute at all
    with pytest.raises(E.TvnsError) as exc:
        sch.load(_proto(**gated()))
    e = exc.value
    assert (e.code, e.field) == (E.OUT_OF_RANGE, "trigger")
    assert e.message == "this board has no trigger input (pins.trigger in its map)"
    assert sch.protocol is None and sch.sched is None and board.rec.calls == []


def test_an_untriggered_load_puts_the_engine_back_on_its_untriggered_program():
    board = SimBoard()
    App(board).load(gated())  # the engine now waits on the input (inactive: level 0)
    r = simulate(doc(session_s=10, on_s=5, off_s=0), board=board, duration_ms=2000)
    starts = pulse_starts_us(r)
    assert len(starts) > 20 and r["faults"] == []  # pulses without any input


def test_the_engine_follows_the_input_from_its_edge():
    """Gate mode on the sim board, whose engine follows the input as the PIO does: the first
    pulse at the edge itself (not a tick later), none before it or once it has gone."""
    r = simulate(gated(), trigger=[(1.5, 1), (3.5, 0)], duration_ms=4500)
    starts = pulse_starts_us(r)
    assert r["faults"] == [] and starts[0] == 1_500_000
    assert all(t < 3_500_000 for t in starts) and len(starts) == 50


def test_train_mode_runs_a_train_of_on_s_from_the_edge():
    p = gated("train", min_gap_s=1.5)
    p["on_s"] = 1
    r = simulate(p, trigger=[(2.0, 1), (2.001, 0)], duration_ms=4000)
    starts = pulse_starts_us(r)
    assert r["faults"] == [] and r["final_state"] == "RAMP_UP"
    assert starts[0] == 2_000_000 and 960_000 <= starts[-1] - starts[0] <= 1_000_000


class Pins:
    """machine.Pin for board/trigger_in.PinTrigger: an open input reads its pull."""

    IN = 0
    PULL_UP = 1
    PULL_DOWN = 2
    driven = None  # None: open; 0/1: driven

    class Pin:
        IN = 0
        PULL_UP = 1
        PULL_DOWN = 2

        def __init__(self, gpio, mode, pull):
            self.pull = pull

        def value(self):
            if Pins.driven is not None:
                return Pins.driven
            return 1 if self.pull == Pins.PULL_UP else 0


class CountingEngine(Engine):
    def pulses(self):
        return 0


@pytest.mark.parametrize("active", ["high", "low"])
def test_an_open_trigger_input_never_opens_the_gate(active):
    """The input is pulled towards its inactive level at load (either polarity): an open
    input (a cable unplugged) never triggers. Driven active, it does (the soft path: the
    engine here cannot follow the input, the tick gates with the debounced level)."""
    Pins.driven = None
    board = Board()
    board.engine = CountingEngine(board.rec)
    board.trigger = PinTrigger(Pins, 5)
    s = S.Session()
    sch = Scheduler(board, s)
    sch.load(_proto(**gated(polarity=active, missing_s=0)))
    s.fire(S.EV_ARM, 0)
    sch.start()
    _run(board, sch, 1, 1500)  # the ramp's first step is at 0.5 s
    assert s.state == S.RAMP_UP and ("engine", "gate", True) not in board.rec.calls
    Pins.driven = 1 if active == "high" else 0
    _run(board, sch, 1500, 1600)
    Pins.driven = None
    assert s.state == S.RAMP_UP and ("engine", "gate", True) in board.rec.calls


# ---- start ----
class RefusingSession(S.Session):
    """A state table that refuses START even from ARMED (a damaged table)."""

    def fire(self, event, now_ms):
        if event == S.EV_START:
            return False
        return S.Session.fire(self, event, now_ms)


def test_a_start_the_state_table_refuses_runs_no_tick():
    board = Board()
    s = RefusingSession()
    sch = Scheduler(board, s)
    sch.load(P())
    s.fire(S.EV_ARM, 0)
    board.rec.calls = []
    with pytest.raises(E.TvnsError) as exc:
        sch.start()
    assert (exc.value.code, exc.value.message) == (E.BAD_STATE, "start needs an ARMED session")
    assert s.state == S.ARMED and sch.beats == 0
    assert [c[:2] for c in board.rec.calls] == [("ticker", "stop"), ("engine", "load")]


class FailingClock(Clock):
    fail_after = None  # raise on the read after this many

    def ticks_ms(self):
        if self.fail_after is not None:
            if self.fail_after == 0:
                raise OSError("timer read failed")
            self.fail_after -= 1
        return self.ms


def test_a_fault_in_a_sessions_first_tick_is_timed_at_its_start():
    """The previous session's time does not leak into the next one's fault record."""
    board = Board()
    board.clock = FailingClock()
    s = S.Session()
    sch = Scheduler(board, s)
    sch.load(P())
    s.fire(S.EV_ARM, 0)
    sch.elapsed_ms = 2400  # where the session before ended
    board.clock.fail_after = 1  # start's own read works; the first tick's fails
    sch.start()
    assert s.state == S.FAULT and sch.fault_code == F.EXCEPTION and sch.exceptions == 1
    assert sch.fault_ms == 0 and s.drain([])[-1] == (0, "FAULT")
