# The simulated board (host only, never deployed): virtual clock, the pulse engine model
# (board/simengine.py), DAC, current sense with a resistive load, e-stop, the hardware kill
# path, watchdog. Fault injection and the deadline-driven idle live here too.
# Longer than ~300 lines: the parts model one board around one virtual clock.
from micropython import const

from tvns import errors as E
from tvns import limits as L
from tvns import safety as F
from tvns.board.simengine import EdgeRing, SimEngine
from tvns.store import MemoryStore

_PERIOD = 1 << 30  # MicroPython ticks wrap here
_MASK = const(0x3FFFFFFF)
_HALF = const(0x20000000)
LEAD_OFF_OHM = 10000  # REFERENCE.md: lead-off above about 10 kohm
OPEN_OHM = 1000000000  # what "lead_off" injection makes the load
INJECT_KINDS = ("overcurrent", "lead_off", "estop", "stall", "reset", "host_loss")


class SimClock:
    """Virtual time in integer microseconds; ticks_* behave like MicroPython's (wrapping).

    The tick's path reads only small ints (a 32-bit port boxes integers from 2**30 up, and
    a virtual hour is 3.6e9 us): ms30 (ms, wrapped at 2**30), sub_us (us within the ms) and
    us30 (us, wrapped at 2**30). now_us, the absolute time, is for host code (the sim
    board's idle, tests, results): reading or setting it may make a big int."""

    def __init__(self, start_us=0):
        self.now_us = start_us

    @property
    def now_us(self):
        return (self._epoch * _PERIOD + self.ms30) * 1000 + self.sub_us

    @now_us.setter
    def now_us(self, t_us):
        ms = t_us // 1000
        self.sub_us = t_us - ms * 1000
        self.ms30 = ms & _MASK
        self._epoch = ms // _PERIOD
        self.us30 = t_us & _MASK

    def ticks_us(self):
        return self.us30

    def ticks_ms(self):
        return self.ms30

    # Written so that no intermediate reaches 2**30 (a heap int on a 32-bit port), as the
    # C functions of the real time module never make one.
    def ticks_diff(self, a, b):
        d = a - b
        if d >= _HALF:
            return d - _MASK - 1
        if d < -_HALF:
            return d + _MASK + 1
        return d

    def ticks_add(self, t, delta):
        if delta >= 0:
            return t + delta if t <= _MASK - delta else t - (_MASK - delta) - 1
        return (t + delta) & _MASK

    def advance_us(self, delta_us):
        self.now_us = self.now_us + delta_us

    def unwrap_us(self, ms30, sub_us):
        """Absolute us of a (ms30, sub_us) stamp taken less than 2**30 ms ago (host only)."""
        now_ms = self._epoch * _PERIOD + self.ms30
        return (now_ms - ((self.ms30 - ms30) & _MASK)) * 1000 + sub_us


class SimDac:
    def __init__(self, engine, ceiling_ua):
        self._engine = engine
        self.ceiling_ua = ceiling_ua
        self.value_ua = 0

    def set_ua(self, ua):
        if ua < 0 or ua > self.ceiling_ua:
            raise E.TvnsError(E.ABOVE_CEILING, "DAC setpoint outside 0..ceiling", "amplitude_ma")
        self.value_ua = ua
        self._engine.set_amp(ua)  # the model applies it from the next pulse start

    def apply(self):
        """Nothing is ever pending here: the engine model applies a setpoint at the next pulse
        start, which is where the board's tick applies its pending one (docs)."""


class SimSense:
    """Resistive load behind a current source with a compliance voltage. `short` models a
    failed output stage that drives more than the setpoint (the overcurrent fault)."""

    def __init__(self, engine, load_ohm=1000, compliance_mv=30000):
        self._engine = engine
        self.load_ohm = load_ohm
        self.compliance_mv = compliance_mv
        self.short = False
        self.has_comparator = True  # False: a board without the compliance comparator
        self.step_ua = 1  # one step of the sense reading (the model reads exact microamps)
        # The engine's sample-and-hold (bound once: the tick must not allocate); the ESP32
        # model's recorder has none and reads its setpoint.
        self._held = getattr(engine, "held_ua", None)

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
        """The sense as OS-1's sample-and-hold shows it: the last pulse's current (0 with the
        gate closed), not the setpoint; a stop ramp steps below it between two pulses."""
        if not self._engine.gated:
            return 0
        held = self._held
        amp = held() if held is not None else self._engine.amp_ua
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
        self._fed_ms = 0  # last feed as (ms30, us within the ms): small ints in the main loop
        self._fed_sub = 0

    def start(self):
        if not self.active:
            self.active = True
            self._stamp()

    def feed(self):
        self.feeds = self.feeds + 1 if self.feeds < _MASK else 0
        self._stamp()

    def _stamp(self):
        self._fed_ms = self._clock.ms30
        self._fed_sub = self._clock.sub_us

    @property
    def last_feed_us(self):
        return self._clock.unwrap_us(self._fed_ms, self._fed_sub)

    def expires_us(self):
        return self.last_feed_us + self.timeout_ms * 1000 if self.active else -1


class SimKill:
    """The hardware kill path (docs/BOARD-INTERFACE.md): the kill line is asserted while the
    e-stop is pressed or the output stage's overcurrent comparator has tripped (the sim's
    `short`: a failed current source); the engine cuts the output the moment it asserts
    (SimBoard._apply), and tripped() names the cause for the tick until the engine is
    loaded again."""

    def __init__(self, engine, sense, estop):
        self._engine = engine
        self._sense = sense
        self._estop = estop
        self.cause = F.NONE  # what the kill machine's snapshot named when it fired

    def asserted(self):
        return self._estop.asserted or self._sense.short

    def fire(self):
        if self._engine.killed or not self._engine.loaded:
            return  # not armed: only a loaded engine has a kill machine waiting
        self.cause = F.OVERCURRENT if self._sense.short else F.ESTOP
        self._engine.kill()

    def tripped(self):
        return self.cause if self._engine.killed else F.NONE


class SimTriggerIn:
    """The trigger input pin (docs/GATING.md): its level as the trace puts it (SimBoard
    .set_trigger_trace); 0 until the trace says otherwise."""

    def __init__(self):
        self.value = 0

    def level(self):
        return self.value


_READ = object()  # Pin.value()'s "no argument" (None is an argument: it drives low)


class SimMarker:
    """The marker output (train onsets): its edges recorded as the gate wire's are
    (simengine.EdgeRing: value() runs in the tick, no allocation); the main loop drains them."""

    def __init__(self, clock):
        self.level = 0
        self._edges = EdgeRing(clock)

    def value(self, v=_READ):
        if v is _READ:  # as machine.Pin: value() reads, value(None) drives the pin low
            return self.level
        v = 1 if v else 0
        if v != self.level:
            self.level = v
            self._edges.record(v)
        return None

    def drain(self, out):
        """Move recorded edges [t_us, level] into list out (main loop only)."""
        return self._edges.drain(out)


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
        kill_path=True,
    ):
        self.ceiling_ua = L.CURRENT_MAX_UA if ceiling_ua is None else ceiling_ua
        self.clock = SimClock(start_us)
        self.engine = SimEngine(self.clock)
        self.dac = SimDac(self.engine, self.ceiling_ua)
        self.sense = SimSense(self.engine, load_ohm, compliance_mv)
        self.estop = SimEstop()
        # kill_path=False: a board without the hardware kill input (only the tick's polls)
        self.kill = SimKill(self.engine, self.sense, self.estop) if kill_path else None
        self.trigger = SimTriggerIn()  # the trigger input (docs/GATING.md)
        self.marker = SimMarker(self.clock)  # train onsets
        self._trace = []  # [(t_us, level)] of the trigger input still to come, in order
        self._trace_i = 0
        self._tick_at_us = -1  # a tick the 1 ms timer owes after a trigger edge
        self._floor_us = 0  # no deadline tick before this (one per ms: never spin)
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

    def disable_irq(self):
        return 0  # one thread: nothing can pre-empt the sim's tick

    def enable_irq(self, state):
        pass

    def reset_cause(self):
        return self.last_reset

    # ---- simulation controls ----
    def inject(self, kind, at_ms, origin_us=None):
        """The fault kind at_ms after origin_us (default: now)."""
        if kind not in INJECT_KINDS:
            raise E.TvnsError(E.OUT_OF_RANGE, "unknown fault kind %r" % kind, "inject")
        base = self.clock.now_us if origin_us is None else origin_us
        self._pending.append((base + int(round(at_ms * 1000)), kind))
        self._pending.sort()

    def set_trigger_trace(self, edges):
        """The trigger input from now on: [(t_us absolute, level 0/1)], a step function."""
        self._trace = sorted(edges)
        self._trace_i = 0

    def _trigger_edge(self, level):
        self.trigger.value = level
        edge = getattr(self.engine, "trigger_edge", None)
        if edge is not None:
            edge(level)
        # The periodic 1 ms timer samples the input at its next tick (a board runs it always).
        t = (self.clock.now_us // 1000 + 1) * 1000
        if self._tick_at_us < 0 or t < self._tick_at_us:
            self._tick_at_us = t

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
            if self.kill is not None:
                self.kill.fire()  # hardware: output off now, the tick latches it
        elif kind == "lead_off":
            self.sense.load_ohm = OPEN_OHM
        elif kind == "estop":
            self.estop.asserted = True
            if self.kill is not None:
                self.kill.fire()
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
                if due_us < self._floor_us:
                    due_us = self._floor_us  # one tick per ms at most: never spin
                if due_us < nxt:
                    nxt, what = due_us, 1
            if self._pending and self._pending[0][0] < nxt:
                nxt, what = self._pending[0][0], 2
            if self._trace_i < len(self._trace) and self._trace[self._trace_i][0] < nxt:
                nxt, what = self._trace[self._trace_i][0], 4
            if 0 <= self._tick_at_us < nxt:
                nxt, what = self._tick_at_us, 5
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
                    self._floor_us = (clock.now_us // 1000 + 1) * 1000  # never spin
            elif what == 2:
                self._apply(self._pending.pop(0)[1])
                if not self.stalled and self.ticker.scheduler is not None:
                    # the next 1 ms timer tick samples the monitors
                    clock.now_us = (clock.now_us // 1000 + 1) * 1000
                    self._tick(self.ticker.scheduler)
            elif what == 4:
                self._trigger_edge(self._trace[self._trace_i][1])
                self._trace_i += 1
            elif what == 5:
                self._tick_at_us = -1
                if not self.stalled and self.ticker.scheduler is not None:
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
