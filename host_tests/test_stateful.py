"""A hypothesis state machine mixing commands, protocol loads (good and bad), time steps,
fault injection, cause removal, resets and tick jitter; the invariants of
docs/ARCHITECTURE.md are checked after every step: 120 runs of up to 100 steps (about 11,500
steps, measured) per `make test`; `make fuzz` (TVNS_FUZZ=1) runs 20x more.
Invariant 8 (log records survive a power cut) belongs to the session log (test_log.py): not
checked here."""

import os

from esp32_support import sim_esp32
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from sim_support import DEFAULT
from tvns import errors as E
from tvns import limits as L
from tvns import session as S
from tvns.app import LOOP_MS, App
from tvns.board.sim import SimBoard
from tvns.safety import END_GUARD_MS

FUZZ = os.environ.get("TVNS_FUZZ") == "1"
RUNS = 2000 if FUZZ else 120  # about 115 rule steps per run: over 10,000 steps
STEPS = 100


def proto(**kw):
    d = dict(DEFAULT)
    d.update(kw)
    return d


GOOD = [
    proto(session_s=8, on_s=1, off_s=1, ramp_up_s=2, ramp_down_s=2),
    proto(session_s=20, amplitude_ma=3, on_s=2, off_s=0.5, ramp_up_s=5, ramp_down_s=3),
    proto(session_s=6, frequency_hz=100, pulse_width_us=1000, interphase_gap_us=100,
          amplitude_ma=2, electrode_area_cm2=3, on_s=0.1, off_s=0.1, ramp_up_s=2, ramp_down_s=2),
    proto(session_s=12, sham=True, ramp_up_s=1, ramp_down_s=1, on_s=3, off_s=1),
    proto(session_s=10, keepalive_s=1, ramp_up_s=1, ramp_down_s=1, off_s=0),
    proto(session_s=30, amplitude_ma=10, ramp_up_s=5, ramp_down_s=5, on_s=5, off_s=5),
    # the trigger input (docs/GATING.md): gated, trains on edges, a start edge
    proto(session_s=12, ramp_up_s=1, ramp_down_s=1, on_s=10, off_s=0,
          trigger={"mode": "gate", "min_gap_s": 0.1, "max_stim_s": 4}),
    proto(session_s=12, ramp_up_s=1, ramp_down_s=1, on_s=0.5, off_s=0,
          trigger={"mode": "train", "polarity": "low", "max_trains_per_min": 4}),
    proto(session_s=8, ramp_up_s=1, ramp_down_s=1, on_s=2, off_s=1,
          trigger={"mode": "start", "missing_s": 1}),
]  # fmt: skip
BAD = [
    ("amplitude_ma", 10.5),
    ("pulse_width_us", 5),
    ("frequency_hz", "25"),
    ("session_s", float("nan")),
    ("sham", 1),
    ("interphase_gap_us", 101),
    ("ramp_up_s", 0.2),
]
KINDS = ("overcurrent", "lead_off", "estop", "stall", "reset", "host_loss")


class StimulatorMachine(RuleBasedStateMachine):
    make_board = SimBoard

    def __init__(self):
        super().__init__()
        self.board = type(self).make_board()
        self.app = App(self.board)
        self.max_amp_ua = 0
        self.prev_end_us = -1
        self.resets = 0
        self.faults_seen = 0
        self.cut_allowed = 0
        self.host_alive = True

    # ---- helpers ----
    def _snapshot(self):
        a = self.app
        return (a.session.state, a.protocol, a.scheduler.protocol, self.board.engine.gated)

    def _command(self, fn):
        before = self._snapshot()
        try:
            fn()
        except E.TvnsError as exc:
            assert exc.code in E.SESSION_CODES + E.VALIDATION_CODES, exc.code
            assert self._snapshot() == before  # invariant 6: refused means unchanged

    def _check_pulses(self):
        for seg in self.board.engine.drain([], flush=True):
            start, period, count, amp, width, gap = seg
            assert start >= self.prev_end_us  # invariant 1: one pulse at a time
            assert 2 * width + gap < period  # ... and phase B after phase A
            self.prev_end_us = start + (count - 1) * period + 2 * width + gap
            assert amp <= self.max_amp_ua and amp <= self.board.ceiling_ua  # invariant 3

    # ---- rules ----
    @rule(i=st.integers(0, len(GOOD) - 1))
    def load_good(self, i):
        def load():
            self.app.load(GOOD[i])
            self.max_amp_ua = max(self.max_amp_ua, round(GOOD[i]["amplitude_ma"] * 1000))

        self._command(load)

    @rule(i=st.integers(0, len(BAD) - 1), base=st.integers(0, len(GOOD) - 1))
    def load_bad(self, i, base):
        field, value = BAD[i]
        before = self._snapshot()
        try:
            self.app.load(dict(GOOD[base], **{field: value}))
            raise AssertionError("bad protocol accepted")
        except E.TvnsError as exc:
            assert exc.code in (E.BUSY,) or field in [e.field for e in exc.errors]
        assert self._snapshot() == before

    @rule()
    def arm(self):
        self._command(self.app.arm)

    @rule()
    def start(self):
        self._command(self.app.start)

    @rule()
    def stop(self):
        self._command(self.app.stop)

    @rule()
    def clear(self):
        self._command(self.app.clear)

    @rule(ms=st.integers(1, 4000))
    def advance(self, ms):
        board = self.board
        end_us = board.clock.now_us + ms * 1000
        while board.clock.now_us < end_us:
            board.idle_ms(min(LOOP_MS, (end_us - board.clock.now_us + 999) // 1000))
            if board.resets != self.resets:  # the chip reset: boot again
                self.resets = board.resets
                self.cut_allowed = board.engine.cut_pulses
                self.app = App(board)
            if board.stalled:
                continue
            if not board.host_lost:
                self.app.host_seen()
            self.app.service()
        self._check_pulses()

    @rule(level=st.integers(0, 1), bounce=st.booleans())
    def trigger(self, level, bounce):
        """The trigger input changes now (with bounce: a few edges in a ms first)."""
        board = self.board
        edges = [1 - level, level, 1 - level, level] if bounce else [level]
        for lv in edges:
            board._trigger_edge(lv)  # sim: the engine model sees it; ESP32 model: the pad
            board.clock.now_us = board.clock.now_us + 200

    @rule(kind=st.sampled_from(KINDS))
    def inject(self, kind):
        self.board.inject(kind, 0)

    @rule()
    def remove_causes(self):
        b = self.board
        b.estop.asserted = False
        b.sense.short = False
        b.sense.load_ohm = 1000
        b.host_lost = False

    @rule(jitter=st.integers(0, END_GUARD_MS))
    def jitter(self, jitter):
        self.board.jitter_ms = jitter

    # ---- invariants, after every step ----
    @invariant()
    def output_only_in_output_states(self):  # invariant 4
        if self.board.engine.gated:
            assert S.OUTPUT_ALLOWED[self.app.session.state] == 1

    @invariant()
    def a_gated_input_holds_pulses_and_the_stim_cap_holds(self):
        trg = self.app.scheduler.trigger
        if trg is None:
            return
        eng = self.board.engine
        if trg.hw and trg.mode == 1 and eng.gated:  # gate mode: pulses only with the input
            assert self.board.trigger.level() == trg.active
        if trg.hw and self.app.session.running():
            # the engine can never be more than its FIFO's permission past the cap
            assert trg.stim_pulses <= trg.max_pulses + 2

    @invariant()
    def never_above_the_ceiling(self):  # invariant 3
        assert 0 <= self.board.dac.value_ua <= self.board.ceiling_ua
        assert self.app.scheduler.amp_ua <= self.max_amp_ua

    @invariant()
    def session_never_overruns(self):  # invariant 5
        sch = self.app.scheduler
        if self.app.session.running():
            assert sch.elapsed_ms <= sch.protocol.session_ms + END_GUARD_MS
            assert sch.elapsed_ms <= L.SESSION_MAX_S * 1000 + END_GUARD_MS

    @invariant()
    def faults_leave_output_off_and_logged(self):  # invariant 7
        if self.app.session.state == S.FAULT:
            assert not self.board.engine.gated and self.board.dac.value_ua == 0
            assert self.app.status()["fault"] is not None
            self.app.service()
            assert self.app.faults and self.app.faults[-1]["latched"]

    @invariant()
    def pulses_cut_only_by_faults_or_resets(self):  # invariant 2
        eng = self.board.engine
        if eng.cut_pulses > self.cut_allowed:
            assert self.app.faults or self.resets
            self.cut_allowed = eng.cut_pulses


class Esp32StimulatorMachine(StimulatorMachine):
    """The same machine on the ESP32 board model: the firmware's esp32 board, RMT engine
    and kill latch on the silicon model (board/simesp32.py)."""

    make_board = staticmethod(sim_esp32)


TestStimulator = StimulatorMachine.TestCase
TestStimulator.settings = settings(
    max_examples=RUNS,
    stateful_step_count=STEPS,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestEsp32Stimulator = Esp32StimulatorMachine.TestCase
TestEsp32Stimulator.settings = settings(
    max_examples=RUNS,
    stateful_step_count=STEPS,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
