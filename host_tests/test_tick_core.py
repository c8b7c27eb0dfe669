"""The control tick's discipline and the dead-man engine, in plain asserts: pytest collects
them under CPython and mp_runner.py runs the same file under both MicroPython runtimes
(test_micropython.py; the board-numerics one has 31-bit small ints). SAFETY.md names these
tests: a guarded tick, one owner of the tick, a fault latch no tick can split, counters that
wrap before they could box, a hung CPU that lets at most 2 pulses out, and the overcurrent
tolerance at the ceiling."""

from sim_support import doc, loop, started
from tvns import safety as F
from tvns import session as S
from tvns.app import App
from tvns.board.sim import SimBoard
from tvns.board.simrun import simulate
from tvns.board.simtrace import iter_pulses

WRAP = 0x3FFFFFFF  # 2**30 - 1: the largest small int on a 32-bit port


def _pulses_from(result, t_us):
    return [p for p in iter_pulses(result["segments"]) if p[0] >= t_us]


# ---- a guarded tick (issue 17.3) ----
class _BrokenSense:
    """A sense whose read raises, as a driver bug or a bus error would, mid-session."""

    def __init__(self, sense):
        self._sense = sense
        self.step_ua = sense.step_ua
        self.broken = False

    def read_ua(self):
        if self.broken:
            raise ValueError("sense read failed")
        return self._sense.read_ua()

    def read_compliance(self):
        return self._sense.read_compliance()


def test_an_exception_in_the_tick_turns_the_output_off_and_latches_exception():
    board = SimBoard()
    board.sense = _BrokenSense(board.sense)
    app = App(board)
    app.load(doc(off_s=0))
    app.arm()
    app.start()
    loop(app, 8000)
    assert board.engine.gated and app.session.state == S.ON
    board.sense.broken = True
    sch = app.scheduler
    sch.tick()  # the rp2 timer would never call a callback again after it raised
    assert sch.exceptions == 1
    assert app.session.state == S.FAULT and sch.fault_code == F.EXCEPTION
    assert not board.engine.gated and board.engine.stopped_at_us >= 0
    assert board.dac.value_ua == 0
    app.service()
    assert app.faults[-1]["fault"] == "exception" and app.faults[-1]["latched"]


class _FailingOffBoard(SimBoard):
    fail_off = False

    def safe_off(self):
        if self.fail_off:
            raise OSError("output stage unreachable")
        SimBoard.safe_off(self)


def test_when_even_output_off_fails_the_watchdog_is_starved():
    board = _FailingOffBoard()
    app = App(board)
    app.load(doc(off_s=0))
    app.arm()
    app.start()
    loop(app, 8000)
    board.sense = _BrokenSense(board.sense)
    board.sense.broken = True
    board.fail_off = True
    app.scheduler.tick()  # nothing escapes the tick, even now
    assert app.session.state == S.FAULT and app.scheduler.off_failed
    fed = board.wdt.feeds
    for _ in range(5):
        app.scheduler.tick()
        app.service()
    assert board.wdt.feeds == fed  # the watchdog resets the chip: the PIO stops with it


# ---- one owner of the tick, a latch no tick can split (issue 17.4) ----
def test_start_stops_the_timer_before_it_runs_the_first_tick_itself():
    board = SimBoard()
    app = App(board)
    app.load(doc())
    app.arm()
    seen = []
    sch = app.scheduler
    tick = sch.tick

    def spy(_t=None):
        seen.append(board.ticker.scheduler is None)  # no timer can be calling it too
        tick()

    sch.tick = spy
    board.ticker.start(sch)  # a previous session's timer, still live
    app.start()
    assert seen == [True]
    assert board.ticker.scheduler is sch  # the timer owns the tick again


class _IrqBoard(SimBoard):
    """A board with an interrupt controller: a timer IRQ raised while interrupts are off
    runs when they come back on, as on the RP2040 (PRIMASK)."""

    def __init__(self, **kw):
        SimBoard.__init__(self, **kw)
        self.irq_on = True
        self.pending = None
        self.ran = []

    def disable_irq(self):
        was = self.irq_on
        self.irq_on = False
        return was

    def enable_irq(self, state):
        self.irq_on = state
        if state and self.pending is not None:
            fn, self.pending = self.pending, None
            fn()

    def raise_irq(self, fn):
        if self.irq_on:
            fn()
        else:
            self.pending = fn


def test_a_tick_cannot_preempt_the_fault_latch_halfway():
    board = _IrqBoard()
    app = App(board)
    app.load(doc(off_s=0))
    app.arm()
    app.start()
    loop(app, 8000)
    sch = app.scheduler
    board.estop.asserted = True  # the tick would latch `estop` if it ran now
    fire = app.session.fire

    def fire_with_timer_irq(event, t_ms):
        # The timer fires while the main loop's fault() is halfway through the latch.
        board.raise_irq(lambda: board.ran.append((S.NAMES[app.session.state], sch.tick())))
        return fire(event, t_ms)

    app.session.fire = fire_with_timer_irq
    sch.fault(F.EXCEPTION)  # the main loop's abort path (run_forever's except)
    app.session.fire = fire
    assert board.ran == [("FAULT", None)]  # the tick ran only once the latch was whole
    assert sch.fault_code == F.EXCEPTION and app.session.state == S.FAULT
    assert not board.engine.gated and board.irq_on


# ---- counters that never box (issue 17.2) ----
def test_tick_counters_wrap_to_zero_before_2_to_the_30():
    board, app = started(doc(off_s=0))
    sch = app.scheduler
    sch.beats = WRAP - 1
    sch.tick()
    assert sch.beats == WRAP
    sch.tick()
    assert sch.beats == 0
    last = sch.beats
    app.service()  # the watchdog logic compares beats, so a wrap still reads as alive
    sch.tick()
    assert sch.beats != last


def test_sim_clock_and_engine_keep_small_ints_past_2_to_the_30_us_and_the_ms_wrap():
    # 20 min continuous from 10 s before the ms ticks wrap: absolute time passes 2**30 us
    # (17.9 min) and 2**30 ms; every value the tick keeps stays a small int, and the
    # charge kept as nC + pC stays exact
    d = doc(amplitude_ma=2.0, on_s=60, off_s=0, session_s=1200, ramp_up_s=10, ramp_down_s=10)
    board = SimBoard(start_us=(WRAP - 10000) * 1000)
    r = simulate(d, board=board)
    assert r["final_state"] == "DONE" and r["pulses"] == r["derived"]["pulses_total"]
    e, c = board.engine, board.clock
    for v in (c.ms30, c.us30, c.sub_us, e.seg_start, e.next_free, e.pulses_recorded):
        assert 0 <= v <= WRAP
    assert 0 < e.charge_nc_recorded <= WRAP and 0 <= e.charge_pc_rem < 1000
    pc = sum(s[2] * s[3] * s[4] for s in r["segments"])
    assert e.charge_nc_recorded * 1000 + e.charge_pc_rem == pc
    starts = [s[0] for s in r["segments"]]
    # unwrapped to absolute time: the first pulse with the ramp's first step (2 mA in 20 steps
    # of 0.5 s; step 0 is 0 uA, no pulse)
    assert starts == sorted(starts) and starts[0] == 500000
    assert starts[-1] > 1200 * 1000000 - 60 * 1000000


# ---- the dead-man engine (issue 10, new goal) ----
def test_a_hung_cpu_lets_at_most_2_pulses_out_at_any_frequency():
    for hz in (1, 2, 7, 25, 100):
        d = doc(frequency_hz=hz, on_s=60, off_s=0, session_s=120, ramp_up_s=20, ramp_down_s=20)
        for at_ms in (32346, 32999):
            r = simulate(d, inject=[("stall", at_ms)])
            after = _pulses_from(r, at_ms * 1000)
            assert len(after) <= F.DEADMAN_PULSES, (hz, at_ms, after)
            assert r["resets"][0][1] == "watchdog"  # and then the watchdog resets the chip
    # at 100 Hz the watchdog alone (300 ms + a 100 ms main loop) let 30 pulses out
    r = simulate(doc(frequency_hz=100, on_s=60, off_s=0), inject=[("stall", 20003)])
    assert 1 <= len(_pulses_from(r, 20003000)) <= 2


def test_the_engine_runs_dry_without_feeds_and_resumes_at_the_next_feed():
    board, app = started(doc(frequency_hz=100, off_s=0))
    loop(app, 8000)
    e = board.engine
    n0 = e.pulses()
    board.clock.now_us += 100_000  # 100 ms with no tick at all: the FIFO empties
    assert e.pulses() - n0 <= F.DEADMAN_PULSES
    assert e.starved == 0
    e.feed()  # a late tick: the pulse that waited starts now, off the 10 ms grid
    assert e.starved == 1
    t = board.clock.now_us
    board.clock.now_us += 1
    seg = []
    e.drain(seg, flush=True)
    assert seg[-1][0] == t and seg[-1][2] == 1


def test_normal_ticks_never_starve_the_engine():
    for hz in (1, 25, 100):
        board = SimBoard()
        d = doc(frequency_hz=hz, on_s=20, off_s=10, session_s=120, ramp_up_s=20, ramp_down_s=20)
        r = simulate(d, board=board)
        assert r["pulses"] == r["derived"]["pulses_total"] and board.engine.starved == 0


# ---- overcurrent tolerance at the ceiling (issue 10.15c) ----
def _at_ceiling(step_ua, over_ua):
    """A session at exactly its 2 mA ceiling whose sense reads over_ua above the setpoint."""
    board = SimBoard(ceiling_ua=2000)
    board.sense.step_ua = step_ua
    read = board.sense.read_ua
    board.sense.read_ua = lambda: read() + over_ua if read() else 0
    app = App(board)
    app.load(doc(amplitude_ma=2.0, off_s=0, ramp_up_s=20))
    app.arm()
    app.start()
    loop(app, 30000)
    return app


def test_overcurrent_at_the_ceiling_tolerates_two_sense_steps_and_no_more():
    step = 8  # about one 12-bit ADC step across 100 ohm at 3.3 V (8.06 uA)
    assert F.CEILING_MARGIN_STEPS == 2
    assert _at_ceiling(step, 2).session.state == S.ON  # 8002 uA at 8000: the emulated Pico
    assert _at_ceiling(step, 2 * step).session.state == S.ON
    app = _at_ceiling(step, 2 * step + 1)
    assert app.session.state == S.FAULT and app.scheduler.fault_code == F.OVERCURRENT
    # a board whose sense reads exact microamps keeps (almost) no tolerance
    assert _at_ceiling(1, 3).scheduler.fault_code == F.OVERCURRENT


# ---- the overcurrent threshold follows what the sense can still show (issue 9) ----
def _stop_at(freq_hz, amplitude_ma, stop_ms, ramp_up_s=1):
    """A session stopped stop_ms after its start; (app, board) once the stop has run out."""
    d = doc(amplitude_ma=amplitude_ma, frequency_hz=freq_hz, ramp_up_s=ramp_up_s)
    d["ramp_down_s"] = ramp_up_s
    board, app = started(d)
    loop(app, stop_ms)
    app.stop()
    loop(app, 600)
    return app, board


def test_the_sim_sense_holds_the_last_pulse_not_the_setpoint():
    """OS-1's sample-and-hold: a setpoint lowered between two pulses shows at the next pulse."""
    board, app = started(doc(frequency_hz=25, ramp_up_s=1, amplitude_ma=1.0))
    loop(app, 1500)  # ON at 1 mA
    held = board.sense.read_ua()
    assert held == board.engine.amp_ua > 0
    board.engine.set_amp(held - 100)  # between pulses: the hold keeps the last pulse
    assert board.sense.read_ua() == held
    board.engine.gate(False)  # the gate clears the hold
    assert board.sense.read_ua() == 0


def test_a_stop_at_25_hz_ramps_down_without_tripping_overcurrent():
    """The stop ramp takes 0.1 mA every 10 ms: between two 40 ms pulses up to 4 steps, while
    the sense still holds the last pulse. The overcurrent check allows the highest amplitude
    commanded since that pulse could have been taken (the emulated Pico tripped here when it
    remembered only the one before)."""
    for stop_ms in range(600, 640, 3):  # every phase of the 40 ms period
        app, _board = _stop_at(25, 1.0, stop_ms)
        assert app.scheduler.fault_code == F.NONE, stop_ms
        assert app.session.state == S.STOPPED, stop_ms
    app, _board = _stop_at(1, 1.0, 12500, ramp_up_s=11)  # at 1 Hz the hold outlasts the ramp
    assert app.session.state == S.STOPPED and app.scheduler.fault_code == F.NONE


def test_the_threshold_forgets_an_amplitude_no_pulse_can_show_any_more():
    """Not a blanket allowance: during a 10 s ramp down from 2 mA, a source stuck at 1.4 mA
    (a DAC that no longer follows) trips overcurrent as soon as 110 % + 50 uA of what was
    commanded in the last one to two hold windows is below it, on the tick's own check
    (a board without the hardware kill path)."""
    d = doc(amplitude_ma=2.0, ramp_up_s=1, ramp_down_s=10, on_s=20, off_s=0, session_s=20)
    board, app = started(d, kill_path=False)
    loop(app, 10_500)
    assert app.session.state == S.RAMP_DOWN
    engine = board.engine
    board.sense.read_ua = lambda: 1400 if engine.gated else 0
    seen = []
    while app.session.state == S.RAMP_DOWN and len(seen) < 400:
        seen.append(app.scheduler.amp_ua)
        loop(app, 25)
    assert app.scheduler.fault_code == F.OVERCURRENT
    # 1400 > 1.1 x 1227 + 50: tripped at the first step below that, within two windows
    assert 1100 <= seen[-1] <= 1300, seen[-5:]
