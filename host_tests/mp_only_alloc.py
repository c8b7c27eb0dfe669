"""Run by mp_runner.py under MicroPython only (heap_lock does not exist in CPython):
prove that the control tick and the fault path allocate nothing. The tick is guarded (an
exception there latches `exception` instead of escaping), so every proof also checks that
the guard caught nothing: a MemoryError from the locked heap would show up there."""

import micropython
from sim_support import doc, loop
from tvns import session as S
from tvns.app import App
from tvns.board.sim import SimBoard


class _Timer:
    """What a board's Timer hands its callback: itself."""


_TIMER = _Timer()


def _locked(fn):
    micropython.heap_lock()
    try:
        fn()
    finally:
        micropython.heap_unlock()


def _tick(sch):
    """The board's timer calling the scheduler's callback (tick_cb), the heap locked (no
    *args here: a call with them allocates on MicroPython)."""
    cb = sch.tick_cb
    micropython.heap_lock()
    try:
        cb(_TIMER)
    finally:
        micropython.heap_unlock()


def _session(d, start_us=0, arm=None):
    board = SimBoard(start_us=start_us)
    if arm is not None:
        board.store.put("allocation", arm)  # what the investigator's `allocate` stores
    app = App(board)
    app.load(d)
    app.arm()
    app.start()
    return board, app


def _run_locked(board, app, until_ms, stop_at_ms=-1):
    """Advance to each deadline; every tick runs with the heap locked. Returns ticks run."""
    sch = app.scheduler
    clock = board.clock
    ticks = 0
    origin_ms = clock.now_us // 1000
    segs = []
    while app.session.running():
        wait = clock.ticks_diff(sch.due_ms, clock.ticks_ms())
        clock.now_us += (wait if wait > 0 else 1) * 1000
        if stop_at_ms >= 0 and clock.now_us // 1000 - origin_ms >= stop_at_ms:
            app.stop()
            stop_at_ms = -1
        _tick(sch)
        assert sch.exceptions == 0, "the tick raised (allocated?) at %d ms" % ticks
        ticks += 1
        board.engine.drain(segs)  # outside the lock, as the main loop does
        app.service()
        if clock.now_us // 1000 - origin_ms > until_ms:
            break
    return ticks


def test_tick_allocates_nothing_over_a_whole_session():
    d = doc(session_s=300, on_s=20, off_s=10, amplitude_ma=3.0, ramp_up_s=10, ramp_down_s=10)
    board, app = _session(d)
    ticks = _run_locked(board, app, 400000)
    assert app.session.state == S.DONE, S.NAMES[app.session.state]
    assert ticks > 60  # ramps (30 + 30 steps) and every train edge went through the tick


def test_blinded_sham_tick_allocates_nothing():
    # the sham's ramp down crosses OFF phases (train time), then nothing; then a stop
    d = doc(blinded=True, session_s=120, on_s=3, off_s=2, amplitude_ma=2.0, ramp_up_s=8)
    board, app = _session(d, arm="sham")
    ticks = _run_locked(board, app, 200000)
    assert app.session.state == S.DONE, S.NAMES[app.session.state]
    assert ticks > 40
    board, app = _session(d, arm="sham")
    _run_locked(board, app, 200000, stop_at_ms=30000)
    assert app.session.state == S.STOPPED


def test_tick_allocates_nothing_across_the_ticks_wrap():
    d = doc(session_s=30, on_s=5, off_s=5)
    board, app = _session(d, start_us=((1 << 30) - 10000) * 1000)
    _run_locked(board, app, 40000)
    assert app.session.state == S.DONE


def test_stop_ramp_allocates_nothing():
    board, app = _session(doc(amplitude_ma=2.0))
    _run_locked(board, app, 60000, stop_at_ms=20000)
    assert app.session.state == S.STOPPED


def test_fault_path_allocates_nothing():
    board, app = _session(doc())
    loop(app, 10000)
    assert board.engine.gated
    sch = app.scheduler

    def overcurrent():
        sch.fault(1)

    _locked(overcurrent)
    assert app.session.state == S.FAULT and not board.engine.gated


def test_idle_tick_allocates_nothing():
    board, app = _session(doc())
    loop(app, 6000)
    _tick(app.scheduler)  # not due: returns at once
    app.scheduler.fault(8)  # EXCEPTION
    _tick(app.scheduler)  # not running: returns at once
    assert app.scheduler.exceptions == 0


def test_main_loop_pass_without_changes_allocates_nothing():
    # The main loop runs every 100 ms for hours: a pass with nothing new must not feed the GC.
    board, app = _session(doc(off_s=0, session_s=600))
    loop(app, 20000)  # well into ON, no state change due for minutes
    app.service()
    _locked(app.service)
    board.idle_ms(100)
    _locked(app.service)
    assert app.session.state == S.ON


WRAP = 0x3FFFFFFF


def test_counters_at_the_wrap_allocate_nothing():
    # Every counter the tick and the engine model keep, one step before 2**30 (where a
    # 32-bit port would box the next value): the tick carries each over without the heap.
    board, app = _session(doc(off_s=1, on_s=1, frequency_hz=100))
    loop(app, 8000)
    sch, e = app.scheduler, board.engine
    sch.beats = WRAP
    e.pulses_recorded = WRAP
    e.starved = WRAP
    e.cut_pulses = WRAP
    e.charge_nc_recorded = WRAP - 1
    ticks = _run_locked(board, app, 4000)
    assert ticks > 50 and sch.beats < 1000  # wrapped through 0
    assert e.pulses_recorded < 1000 and e.charge_nc_recorded < WRAP - 1
    assert app.session.state in (S.ON, S.OFF)


def test_ring_heads_and_clock_at_the_wrap_allocate_nothing():
    board, app = _session(doc(off_s=1, on_s=1), start_us=(WRAP - 3000) * 1000 + 999)
    loop(app, 8000)
    e = board.engine
    e._head = e._tail = WRAP - 1
    e._gates.head = e._gates.tail = WRAP
    _run_locked(board, app, 4000)
    assert app.session.state in (S.ON, S.OFF) and e._head < 100 and e._gates.head < 100


def test_an_exception_in_the_tick_is_caught_without_the_heap():
    board, app = _session(doc(off_s=0))
    loop(app, 8000)
    sch = app.scheduler
    board.engine.feed = None  # calling it raises TypeError, inside the guarded tick
    _tick(sch)
    assert sch.exceptions == 1 and app.session.state == S.FAULT
    assert sch.fault_code == 8 and not board.engine.gated


def test_a_late_feed_of_a_dry_engine_allocates_nothing():
    # 100 ms without a tick at 100 Hz: the engine ran dry; the late tick's feed records the
    # segment and releases the waiting pulse, all under the lock
    board, app = _session(doc(off_s=0, frequency_hz=100))
    loop(app, 8000)
    board.clock.now_us += 100000
    _tick(app.scheduler)
    assert app.scheduler.exceptions == 0 and board.engine.starved == 1
    assert app.session.state == S.ON


def _triggered_run(mode, edges_ms, prime=None, **trig):
    """A triggered session: the input toggled at edges_ms (session ms), every tick locked;
    prime(board, app) runs once the session has started (before the first locked tick)."""
    t = {"mode": mode}
    t.update(trig)
    d = doc(session_s=20, on_s=1 if mode == "train" else 18, off_s=0, ramp_up_s=2, ramp_down_s=2)
    d["trigger"] = t
    board, app = _session(d)
    if prime is not None:
        prime(board, app)
    sch = app.scheduler
    clock = board.clock
    origin_ms = clock.now_us // 1000
    level = 0
    i = 0
    ticks = 0
    while app.session.running() and clock.now_us // 1000 - origin_ms < 25000:
        now_ms = clock.now_us // 1000 - origin_ms
        if i < len(edges_ms) and now_ms >= edges_ms[i]:
            level = 1 - level
            board._trigger_edge(level)  # the input's edge (main-loop side: outside the lock)
            i += 1
        wait = clock.ticks_diff(sch.due_ms, clock.ticks_ms())
        step = wait if 0 < wait < 50 else (1 if wait <= 0 else 50)
        clock.now_us += step * 1000
        _tick(sch)
        assert sch.exceptions == 0, "the tick raised (allocated?) at %d ms" % now_ms
        ticks += 1
        board.engine.drain([])
        board.marker.drain([])
        app.service()
    return app, ticks


def test_triggered_ticks_allocate_nothing():
    edges = [1500, 3500, 5500, 5501, 5502, 7500, 9500, 9600]  # bursts, bounce, a short one
    for mode in ("gate", "train", "start"):
        app, ticks = _triggered_run(mode, edges, missing_s=1)
        assert ticks > 100, mode
        assert app.scheduler.trigger.trains >= 1 or mode == "start", mode


def test_triggered_counters_at_the_wrap_allocate_nothing():
    # The engine's pulse count one step before 2**30 (the trigger's view of it wraps through
    # 0 in the first burst) and the session's stimulation one pulse below the clamp.
    def prime(board, app):
        trg = app.scheduler.trigger
        board.engine.pulses_recorded = WRAP
        trg._last_c = WRAP
        trg.stim_pulses = WRAP - 1
        trg.max_pulses = WRAP  # the cap is not what this test is about

    app, ticks = _triggered_run("gate", [1500, 3500, 5500, 7500], prime=prime)
    trg = app.scheduler.trigger
    assert ticks > 100 and trg.trains >= 1 and trg._last_c < 100000
    assert trg.stim_pulses == WRAP  # clamped, never past the largest small int
