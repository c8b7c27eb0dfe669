"""The timer's callback (Scheduler.tick_cb: tvns/tickfast.py callback, on the chip
board/rp2_fast.py callback): one viper function that counts the beat, reads the session's
state from its word of the hot state, ends an idle tick (or hands a pending DAC level to the
guarded full path) and a clean running tick itself, and calls the full path (_look) for
anything else. Plain asserts on the recording board of test_tick_rules.py (CPython; the
MicroPython runtimes run the same callback in mp_tickfast.py and mp_only_alloc.py, the
chip's in mp_tickfast_rp2.py, SAFETY.md H111)."""

import pytest
from test_tick_mutants import RegsIO, _regs_board, _start_on
from test_tick_rules import _MASK, P, _at, _make
from tvns import safety as F
from tvns import session as S
from tvns import tickfast
from tvns import tickio as IO
from tvns.scheduler import Scheduler

STATE = tickfast.LAYOUT[30]  # the session's state word (tickfast._STATE)
BEATS = tickfast.LAYOUT[20]


class _Timer:
    """What a board's Timer hands its callback: itself."""


# ---- the session's state: one word, the hot state's ----
def test_the_sessions_state_lives_in_the_schedulers_hot_state():
    s = S.Session()
    s.fire(S.EV_ARM, 0)  # a state reached before the scheduler is built is kept
    board, _s, _sch = _make()
    sch = Scheduler(board, s)
    h = sch._hot
    assert h[STATE] == s.state == S.ARMED
    assert s.fire(S.EV_START, 5) and h[STATE] == S.RAMP_UP  # fire writes the word
    s.state = S.FAULT  # so does the attribute: the word is its only home
    assert h[STATE] == S.FAULT and s.running() is False
    h[STATE] = S.ON  # and reads it
    assert s.state == S.ON and s.running() and s.allowed(S.EV_TRAIN_OFF)
    out = []
    s.drain(out)
    assert out == [(0, "ARMED"), (5, "RAMP_UP")]  # the history as before: fire's changes only


def test_a_session_drives_one_scheduler():
    """A second scheduler over the same session is refused: the first one's callback would go
    on reading a state word nothing writes any more."""
    board, s, sch = _make()
    with pytest.raises(ValueError, match="already drives a scheduler"):
        Scheduler(_make()[0], s)
    s.fire(S.EV_ARM, 0)
    assert sch._hot[STATE] == S.ARMED


# ---- the callback, state by state ----
class _CountIO(RegsIO):
    """The board's own tick I/O (RegsIO) that reads the time and counts polls."""

    reads_time = True

    def poll(self, io):
        super().poll(io)
        io[IO.IO_NOW] = self.board.clock.ms & _MASK


def test_the_callback_runs_the_monitors_in_the_running_states_only():
    """Every state: the running ones (RAMP_UP, ON, OFF, RAMP_DOWN) poll the inputs once; the
    others poll nothing and hand the tick to the full path only for a pending DAC level
    (IO_PENDING >= 0), which it applies. Every call counts one beat."""
    for state in range(len(S.NAMES)):
        for pending in (-1, 0, 1234):
            board = _regs_board()
            board.tick_io = tio = _CountIO(board)
            s, sch = _start_on(board)
            s.state = state
            tio.io[IO.IO_PENDING] = pending
            tio.seen = []
            board.rec.calls = []
            beats = sch.beats
            sch.tick_cb(_Timer())
            polls = [w for w, _io in tio.seen].count("poll")
            assert sch.beats == beats + 1 and sch.exceptions == 0, (state, pending)
            if S.RUNNING[state]:
                assert polls == 1, (state, pending)
            else:
                applied = board.rec.of("dac") == [("apply", None)]
                assert polls == 0 and applied == (pending >= 0), (state, pending)
                assert board.rec.of("engine") == []  # nothing fed outside a session


def test_the_beat_wraps_before_it_could_box():
    board, s, sch = _make(P())
    sch.beats = _MASK - 1
    sch.tick_cb(_Timer())
    assert sch.beats == _MASK
    sch.tick_cb(_Timer())
    assert sch.beats == 0
    sch.start()
    sch.beats = _MASK
    _at(board, sch, 1)  # a running tick too
    assert sch.beats == 0 and sch._hot[BEATS] == 0


class _Raising(_CountIO):
    def __init__(self, board, where):
        super().__init__(board)
        self.where = where

    def poll(self, io):
        super().poll(io)
        if self.where == "poll":
            raise OSError(5, "bus")

    def finish(self, io):
        r = super().finish(io)
        if self.where == "finish":
            raise ValueError("driver bug")
        return r


@pytest.mark.parametrize("where", ["poll", "finish"])
def test_nothing_escapes_the_callback_when_the_boards_io_raises(where):
    """The generic callback calls the board's poll and finish itself (tickfast.run): what
    they raise goes to the latch (output off, FAULT exception), never out of the callback
    (the rp2 port stops calling a callback that raised)."""
    board = _regs_board()
    board.tick_io = _Raising(board, None)
    s, sch = _start_on(board)
    _at(board, sch, 1)  # a clean running tick first: no fault
    assert s.state == S.RAMP_UP and sch.exceptions == 0
    board.tick_io.where = where
    sch.work_ms = (sch.t0_ms + 1000) & _MASK  # nothing due: the callback's clean path
    board.clock.ms = sch.t0_ms + 2
    sch.tick_cb(_Timer())
    assert (s.state, sch.fault_code, sch.exceptions) == (S.FAULT, F.EXCEPTION, 1)
    assert sch.amp_ua == 0 and not sch.gate_on
    sch.tick_cb(_Timer())  # and the next ticks run: idle now
    assert sch.exceptions == 1


def test_the_callbacks_are_called_without_the_heap():
    """MicroPython calls a closure with its cells and arguments in a 5-word array on the C
    stack, more on the heap (py/objclosure.c): each callback closes over at most 4 names
    (the timer's argument is the fifth). The heap_lock proofs (mp_only_alloc.py,
    mp_tickfast_rp2.py, the emulated Pico's) would fail too; this names the cause."""
    board, s, sch = _make(P())
    assert len(sch.tick_cb.__closure__) + 1 <= 5


def test_the_rp2_fast_callback_is_called_without_the_heap():
    from tvns.board import rp2_fast  # (not in the mutation workspace: the chip's modules)

    board, s, sch = _make(P())
    own = rp2_fast.callback(sch._hot, sch._io, sch._look, sch._edge)  # (with the fast edge)
    assert len(own.__closure__) + 1 <= 5
