# The simulated board (host only, never deployed): virtual clock, an exact model of the
# pulse engine, DAC, current sense with a resistive load, e-stop, watchdog.
# The engine records pulse trains as segments [start_us, period_us, count, amp_ua,
# width_us, gap_us]: exact, and O(events) instead of O(pulses), so an hour simulates fast.
# Recording goes through a preallocated ring (no allocation inside the tick); the main
# loop drains it.
from tvns import errors as E
from tvns import limits as L

_PERIOD = 1 << 30  # MicroPython ticks wrap here
_MASK = _PERIOD - 1
_HALF = _PERIOD // 2
_RING = 256  # segments held between two drains
_SEG = 6  # fields per segment


class SimClock:
    """Virtual time in integer microseconds; ticks_* behave like MicroPython's (wrapping)."""

    def __init__(self, start_us=0):
        self.now_us = start_us

    def ticks_us(self):
        return self.now_us & _MASK

    def ticks_ms(self):
        return (self.now_us // 1000) & _MASK

    def ticks_diff(self, a, b):
        return ((a - b + _HALF) & _MASK) - _HALF

    def ticks_add(self, t, delta):
        return (t + delta) & _MASK

    def advance_us(self, delta_us):
        self.now_us += delta_us


class SimEngine:
    def __init__(self, clock):
        self._clock = clock
        self.width_us = 0
        self.gap_us = 0
        self.period_us = 0
        self.amp_ua = 0  # latched at each pulse start (the DAC applies between pulses)
        self.gated = False
        self.seg_start_us = 0  # first pulse start of the open segment
        self.next_free_us = 0  # earliest start of the next pulse (end of the last period)
        self.stopped_at_us = -1  # last safe stop
        self.cut_pulses = 0  # pulses cut short by stop()
        self._ring = [0] * (_RING * _SEG)
        self._head = 0
        self._tail = 0
        self.lost = 0  # segments overwritten before they were drained

    def load(self, width_us, gap_us, period_us):
        if self.gated:
            raise E.TvnsError(E.BUSY, "engine.load while gated on")
        if 2 * width_us + gap_us >= period_us:
            raise E.TvnsError(E.PULSE_FIT, "pulse does not fit the period", "frequency_hz")
        self.width_us = width_us
        self.gap_us = gap_us
        self.period_us = period_us

    def gate(self, on):
        if on == self.gated:
            return
        now = self._clock.now_us
        if on:
            self.seg_start_us = now if now > self.next_free_us else self.next_free_us
            self.gated = True
        else:
            self._close(now)
            self.gated = False

    def set_amp(self, ua):
        # Pulses that started before now keep the old amplitude; a new segment begins
        # with the next pulse.
        if self.gated:
            self.seg_start_us = self._close(self._clock.now_us)
        self.amp_ua = ua

    def stop(self):
        """Safe stop: both phases low now. A pulse in flight is cut (fault path only)."""
        now = self._clock.now_us
        if self.gated:
            nxt = self._close(now)
            last = nxt - self.period_us
            if last >= 0 and last + 2 * self.width_us + self.gap_us > now >= last:
                self.cut_pulses += 1
            self.gated = False
        self.stopped_at_us = now

    def _close(self, now):
        """Record the pulses of the open segment that started before now; return the next
        pulse start."""
        s = self.seg_start_us
        if now <= s:
            return s
        count = (now - s + self.period_us - 1) // self.period_us
        i = (self._head % _RING) * _SEG
        r = self._ring
        r[i] = s
        r[i + 1] = self.period_us
        r[i + 2] = count
        r[i + 3] = self.amp_ua
        r[i + 4] = self.width_us
        r[i + 5] = self.gap_us
        self._head += 1
        if self._head - self._tail > _RING:
            self._tail += 1
            self.lost += 1
        self.next_free_us = s + count * self.period_us
        return self.next_free_us

    def drain(self, out, flush=False):
        """Move recorded segments into list out (main loop only). flush also closes the open
        segment at the current time, as if the trace ended now."""
        if flush and self.gated:
            self.seg_start_us = self._close(self._clock.now_us)
        r = self._ring
        while self._tail < self._head:
            i = (self._tail % _RING) * _SEG
            out.append(r[i : i + _SEG])
            self._tail += 1
        return out


class SimDac:
    def __init__(self, engine, ceiling_ua):
        self._engine = engine
        self.ceiling_ua = ceiling_ua
        self.value_ua = 0

    def set_ua(self, ua):
        if ua < 0 or ua > self.ceiling_ua:
            raise E.TvnsError(E.ABOVE_CEILING, "DAC setpoint outside 0..ceiling", "amplitude_ma")
        self.value_ua = ua
        self._engine.set_amp(ua)


class SimSense:
    """Resistive load behind a current source with a compliance voltage."""

    def __init__(self, engine, load_ohm=1000, compliance_mv=30000):
        self._engine = engine
        self.load_ohm = load_ohm
        self.compliance_mv = compliance_mv

    def max_ua(self):
        return self.compliance_mv * 1000 // self.load_ohm

    def read_ua(self):
        if not self._engine.gated:
            return 0
        amp = self._engine.amp_ua
        lim = self.max_ua()
        return amp if amp < lim else lim

    def read_compliance(self):
        return self._engine.gated and self._engine.amp_ua > self.max_ua()


class SimEstop:
    def __init__(self):
        self.asserted = False

    def pressed(self):
        return self.asserted


class SimWdt:
    def __init__(self, clock):
        self._clock = clock
        self.feeds = 0
        self.last_feed_us = 0

    def feed(self):
        self.feeds += 1
        self.last_feed_us = self._clock.now_us


class SimTicker:
    def __init__(self):
        self.scheduler = None

    def start(self, scheduler):
        self.scheduler = scheduler

    def stop(self):
        self.scheduler = None


class SimBoard:
    name = "sim"

    def __init__(self, start_us=0, load_ohm=1000, compliance_mv=30000, ceiling_ua=None):
        self.ceiling_ua = L.CURRENT_MAX_UA if ceiling_ua is None else ceiling_ua
        self.clock = SimClock(start_us)
        self.engine = SimEngine(self.clock)
        self.dac = SimDac(self.engine, self.ceiling_ua)
        self.sense = SimSense(self.engine, load_ohm, compliance_mv)
        self.estop = SimEstop()
        self.wdt = SimWdt(self.clock)
        self.ticker = SimTicker()
        self.tick_calls = 0

    def safe_off(self):
        self.engine.stop()
        self.dac.set_ua(0)

    def idle_ms(self, ms):
        """Advance virtual time by ms, calling the tick at every deadline on the way and once
        at the end (the sample point where a board's periodic timer would also find it)."""
        clock = self.clock
        end_us = clock.now_us + ms * 1000
        while True:
            sch = self.ticker.scheduler
            if sch is not None and sch.session.running():
                wait_ms = clock.ticks_diff(sch.due_ms, clock.ticks_ms())
                # Ticks land on whole milliseconds, as a 1 ms periodic timer's would.
                due_us = (clock.now_us // 1000 + (wait_ms if wait_ms > 0 else 0)) * 1000
                if due_us < clock.now_us:
                    due_us = clock.now_us
                if due_us < end_us:
                    clock.now_us = due_us
                    self.tick_calls += 1
                    sch.tick()
                    if (
                        sch.session.running()
                        and clock.ticks_diff(sch.due_ms, clock.ticks_ms()) <= 0
                    ):
                        clock.now_us = (clock.now_us // 1000 + 1) * 1000  # never spin
                    continue
            break
        clock.now_us = end_us
        if sch is not None:
            self.tick_calls += 1
            sch.tick()
