# The simulated board (host only, never deployed): virtual clock, an exact model of the
# pulse engine, DAC, current sense with a resistive load, e-stop, watchdog.
# The engine records pulse trains as segments [start_us, period_us, count, amp_ua,
# width_us, gap_us]: exact, and O(events) instead of O(pulses), so an hour simulates fast.
# Recording goes through a preallocated ring (no allocation inside the tick); the main
# loop drains it.
# Longer than ~300 lines for now: the parts model one board around one virtual clock and
# one engine. SimEngine, the largest, moves to its own module once the open work on it
# (the gate wire of `tvns verify`) has landed, sparing that work a conflict.
from tvns import errors as E
from tvns import limits as L
from tvns import safety as F
from tvns.store import MemoryStore

_PERIOD = 1 << 30  # MicroPython ticks wrap here
_MASK = _PERIOD - 1
_HALF = _PERIOD // 2
_RING = 256  # segments held between two drains
_SEG = 6  # fields per segment
_GATE_RING = 256  # gate edges (t_us, level) held between two drains: the trace's gate wire
LEAD_OFF_OHM = 10000  # REFERENCE.md: lead-off above about 10 kohm
OPEN_OHM = 1000000000  # what "lead_off" injection makes the load
INJECT_KINDS = ("overcurrent", "lead_off", "estop", "stall", "reset", "host_loss")


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
        self.last_off_us = -1  # last time the output went off (gate closed or stop)
        self.cut_pulses = 0  # pulses cut short by stop()
        self.pulses_recorded = 0
        self.charge_pc_recorded = 0  # phase charge of the recorded pulses, uA x us = pC
        self._ring = [0] * (_RING * _SEG)
        self._head = 0
        self._tail = 0
        self.lost = 0  # segments overwritten before they were drained
        # Gate edges for the trace's gate wire (the GPIO the Pico drives and its PIO reads).
        self._gate_ring = [0] * (2 * _GATE_RING)
        self._gate_head = 0
        self._gate_tail = 0
        self.gate_lost = 0

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
            self.last_off_us = now
        self._gate_edge(now, 1 if on else 0)

    def _gate_edge(self, now, level):
        i = (self._gate_head % _GATE_RING) * 2
        self._gate_ring[i] = now
        self._gate_ring[i + 1] = level
        self._gate_head += 1
        if self._gate_head - self._gate_tail > _GATE_RING:
            self._gate_tail += 1
            self.gate_lost += 1

    def pulses(self):
        """Pulses started so far (recorded and in the open segment)."""
        n = self.pulses_recorded
        if self.gated and self._clock.now_us > self.seg_start_us:
            n += (self._clock.now_us - self.seg_start_us + self.period_us - 1) // self.period_us
        return n

    def charge_uc(self):
        """Charge delivered per phase, summed over the pulses started so far (uC). Each
        pulse delivers it twice, once each way: the net charge is 0 by construction."""
        n = self.pulses_recorded
        pc = self.charge_pc_recorded
        if self.gated and self._clock.now_us > self.seg_start_us:
            pc += (self.pulses() - n) * self.amp_ua * self.width_us
        return pc / 1e6

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
            self.last_off_us = now
            self._gate_edge(now, 0)
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
        self.pulses_recorded += count
        self.charge_pc_recorded += count * self.amp_ua * self.width_us
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

    def drain_gate(self, out):
        """Move recorded gate edges [t_us, level] into list out (main loop only)."""
        r = self._gate_ring
        while self._gate_tail < self._gate_head:
            i = (self._gate_tail % _GATE_RING) * 2
            out.append(r[i : i + 2])
            self._gate_tail += 1
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
    """Resistive load behind a current source with a compliance voltage. `short` models a
    failed output stage that drives more than the setpoint (the overcurrent fault)."""

    def __init__(self, engine, load_ohm=1000, compliance_mv=30000):
        self._engine = engine
        self.load_ohm = load_ohm
        self.compliance_mv = compliance_mv
        self.short = False
        self.has_comparator = True  # False: a board without the compliance comparator

    def self_test(self):
        """Idle output-stage check at arm and clear: a short, or a load above the lead-off
        threshold (a small test current would show either on a real stage)."""
        if self.short:
            return F.OVERCURRENT
        if self.load_ohm > LEAD_OFF_OHM:
            return F.LEAD_OFF
        return F.NONE

    def max_ua(self):
        return self.compliance_mv * 1000 // self.load_ohm

    def read_ua(self):
        if not self._engine.gated:
            return 0
        amp = self._engine.amp_ua
        if self.short:
            return 2 * amp + 1000
        lim = self.max_ua()
        return amp if amp < lim else lim

    def read_compliance(self):
        if not self.has_comparator:
            return False  # lead-off must then come from the under-current check
        return self._engine.gated and self._engine.amp_ua > self.max_ua()


class SimEstop:
    def __init__(self):
        self.asserted = False

    def pressed(self):
        return self.asserted


class SimWdt:
    """machine.WDT in virtual time: started with the ticker, it resets the board when not
    fed for timeout_ms (RP2040: cannot be stopped once started)."""

    def __init__(self, clock, timeout_ms=300):
        self._clock = clock
        self.timeout_ms = timeout_ms
        self.active = False
        self.feeds = 0
        self.last_feed_us = 0

    def start(self):
        if not self.active:
            self.active = True
            self.last_feed_us = self._clock.now_us

    def feed(self):
        self.feeds += 1
        self.last_feed_us = self._clock.now_us

    def expires_us(self):
        return self.last_feed_us + self.timeout_ms * 1000 if self.active else -1


class SimTicker:
    def __init__(self, wdt):
        self._wdt = wdt
        self.scheduler = None

    def start(self, scheduler):
        self.scheduler = scheduler
        self._wdt.start()

    def stop(self):
        self.scheduler = None


class SimBoard:
    """The sim board. Fault injection: inject(kind, at_ms) with kind in INJECT_KINDS;
    jitter_ms delays each control tick by a pseudo-random 0..jitter_ms (soft timers, GC)."""

    name = "sim"

    def __init__(
        self,
        start_us=0,
        load_ohm=1000,
        compliance_mv=30000,
        ceiling_ua=None,
        jitter_ms=0,
        seed=1,
        wdt_timeout_ms=300,
    ):
        self.ceiling_ua = L.CURRENT_MAX_UA if ceiling_ua is None else ceiling_ua
        self.clock = SimClock(start_us)
        self.engine = SimEngine(self.clock)
        self.dac = SimDac(self.engine, self.ceiling_ua)
        self.sense = SimSense(self.engine, load_ohm, compliance_mv)
        self.estop = SimEstop()
        self.wdt = SimWdt(self.clock, wdt_timeout_ms)
        self.ticker = SimTicker(self.wdt)
        self.store = MemoryStore()
        self.tick_calls = 0
        self.jitter_ms = jitter_ms
        self._rng = seed & 0x7FFFFFFF or 1
        self.stalled = False  # the firmware hangs: no tick, no main loop
        self.host_lost = False  # the host stopped talking
        self.resets = 0
        self.last_reset = None
        self.reset_log = []  # (t_us, cause)
        self.injected = []  # (t_us, kind) as applied
        self._pending = []  # (t_us, kind) still to apply, sorted

    # ---- the board interface ----
    def safe_off(self):
        self.engine.stop()
        self.dac.set_ua(0)

    def reset_cause(self):
        return self.last_reset

    # ---- simulation controls ----
    def inject(self, kind, at_ms):
        if kind not in INJECT_KINDS:
            raise E.TvnsError(E.OUT_OF_RANGE, "unknown fault kind %r" % kind, "inject")
        self._pending.append((self.clock.now_us + at_ms * 1000, kind))
        self._pending.sort()

    def reset(self, cause):
        """A chip reset: the PIO stops and the pins fall to their pulled-down defaults."""
        self.engine.stop()
        self.dac.value_ua = 0
        self.engine.amp_ua = 0
        self.ticker.stop()
        self.wdt.active = False
        self.stalled = False
        self.resets += 1
        self.last_reset = cause
        self.reset_log.append((self.clock.now_us, cause))

    def _apply(self, kind):
        self.injected.append((self.clock.now_us, kind))
        if kind == "overcurrent":
            self.sense.short = True
        elif kind == "lead_off":
            self.sense.load_ohm = OPEN_OHM
        elif kind == "estop":
            self.estop.asserted = True
        elif kind == "stall":
            self.stalled = True
        elif kind == "reset":
            self.reset("power")
        elif kind == "host_loss":
            self.host_lost = True

    def _jitter(self):
        if not self.jitter_ms:
            return 0
        self._rng = (self._rng * 1103515245 + 12345) & 0x7FFFFFFF
        return (self._rng >> 8) % (self.jitter_ms + 1)

    def idle_ms(self, ms):
        """Advance virtual time by ms. On the way: the tick at every deadline (late by the
        jitter), injected faults (each followed by a tick: the sample point where a board's
        periodic timer would see it), the watchdog; and a tick at the end."""
        clock = self.clock
        # With jitter the main loop is late too (GC pauses delay everything); drawn first so
        # that no deadline waits past its own jitter for the end-of-idle tick.
        end_us = clock.now_us + (ms + self._jitter()) * 1000
        while True:
            nxt, what = end_us, 0
            sch = self.ticker.scheduler
            if sch is not None and not self.stalled and sch.session.running():
                wait_ms = clock.ticks_diff(sch.due_ms, clock.ticks_ms())
                wait_ms = (wait_ms if wait_ms > 0 else 0) + self._jitter()
                # Ticks land on whole milliseconds, as a 1 ms periodic timer's would.
                due_us = (clock.now_us // 1000 + wait_ms) * 1000
                if due_us < clock.now_us:
                    due_us = clock.now_us
                if due_us < nxt:
                    nxt, what = due_us, 1
            if self._pending and self._pending[0][0] < nxt:
                nxt, what = self._pending[0][0], 2
            wdt_us = self.wdt.expires_us()
            if wdt_us >= 0 and wdt_us < nxt:
                nxt, what = wdt_us, 3
            if what == 0:
                break
            if nxt > clock.now_us:
                clock.now_us = nxt
            if what == 1:
                self._tick(sch)
                if sch.session.running() and clock.ticks_diff(sch.due_ms, clock.ticks_ms()) <= 0:
                    clock.now_us = (clock.now_us // 1000 + 1) * 1000  # never spin
            elif what == 2:
                self._apply(self._pending.pop(0)[1])
                if not self.stalled and self.ticker.scheduler is not None:
                    # the next 1 ms timer tick samples the monitors
                    clock.now_us = (clock.now_us // 1000 + 1) * 1000
                    self._tick(self.ticker.scheduler)
            else:
                self.reset("watchdog")
        if end_us > clock.now_us:
            clock.now_us = end_us
        sch = self.ticker.scheduler
        if sch is not None and not self.stalled:
            self._tick(sch)

    def _tick(self, sch):
        self.tick_calls += 1
        sch.tick()
