# The control tick: advance the session, set the amplitude, gate the pulse engine.
# Integer-only and allocation-free, so a board may run it from a hard Timer IRQ;
# deadline-driven, so the simulator calls the very same code only when something is due.
# This module: the Scheduler, its hot state (tvns/tickfast.py's words and the step's), the
# commands that prepare the tick, the fault latch and the timer's callback. The tick's full
# path and its monitors are tvns/ticklook.py, its step tvns/tickstep.py: module-level
# functions the class takes as its methods (_look, _monitor, _step, _set_amp, ...); the
# step calls the others as its module's globals, so the split costs no call across modules
# (each costs microseconds on the Cortex-M0+, docs/SPEED.md). The fast path: tickfast.py.
# Longer than ~300 lines on purpose: what is left is one class, its hot state's word numbers
# (checked against tickfast's, ticklook's and tickstep's at construction) and its commands.
#
# Concurrency rules (the rp2 tick is a hard Timer IRQ that may pre-empt the main loop at any
# bytecode); those of the tick's body sit with its code (tvns/ticklook.py: the guard, small
# ints only, the dead man; tvns/tickstep.py: nominal and delivered):
# - One owner of the tick: while the board's timer runs, only the timer calls tick();
#   start() stops the timer before it runs the session's first tick itself, and the app
#   starts it again afterwards (app.start -> board.ticker.start). Two ticks never interleave.
# - While a session runs, only the tick changes the session state. Commands from the main
#   loop (stop) leave a request that the next tick carries out.
# - The fault latch is taken with interrupts off (board.disable_irq): a tick cannot
#   pre-empt a main-loop fault halfway and leave the wrong first cause.
from micropython import const

from tvns import errors as E
from tvns import limits as L
from tvns import safety as F
from tvns import session as S
from tvns import tickfast as TF
from tvns import tickio as IO
from tvns import ticklook as TL
from tvns import tickstep as TS
from tvns.ring import array  # (an import of `array` would search the file system first)
from tvns.schedule import Schedule
from tvns.ticklook import exception, look, monitor, pulsing_for
from tvns.tickstep import output_off, set_amp, set_gate, step

_FLOOR_UA = const(50)  # safety.SENSE_FLOOR_UA
_LEAD_OFF_MIN_UA = const(200)  # safety.LEAD_OFF_MIN_SETPOINT_UA
_GUARD_MS = const(50)  # safety.END_GUARD_MS
_IO_KILL = const(0)  # tvns/tickio.py IO_KILL
_IO_ESTOP = const(1)  # tvns/tickio.py IO_ESTOP
_IO_UA = const(2)  # tvns/tickio.py IO_UA
_IO_COMP = const(3)  # tvns/tickio.py IO_COMP
_IO_SENSE = const(4)  # tvns/tickio.py IO_SENSE
_IO_PENDING = const(5)  # tvns/tickio.py IO_PENDING
_IO_NOW = const(6)  # tvns/tickio.py IO_NOW
# The hot state's words (tvns/tickfast.py, the only home of these values: the attributes of
# the same names below are descriptors over them)
_T0 = const(0)
_WORK = const(1)
_ELAPSED = const(2)
_CAP = const(3)
_HELD_WIN = const(4)
_HELD_SINCE = const(5)
_HELD_HI = const(6)
_HELD_PREV = const(7)
_AMP = const(8)
_PREV_AMP = const(9)
_CEIL = const(10)
_MARGIN = const(11)
_KA = const(12)
_HOST = const(13)
_GATE = const(14)
_GATE_MS = const(15)
_PERIOD = const(16)
_FEED = const(17)
_DUE = const(18)
_TRIG = const(19)
_BEATS = const(20)
_STATE = const(21)  # the session's state (tvns/session.py STATE_WORD)
# The step's own words (tvns/tickstep.py), appended to tickfast's (its LAYOUT ends them at
# 22 words: checked below; the fast path never reads these): the amplitude rules' state,
# stored on every ramp step and train edge. As attributes each store cost ~15-25 us on the
# rp2 port (MicroPython looks a store up in the class first when the class has descriptors,
# docs/SPEED.md).
_NOM = const(22)  # (nom_ua) the active arm's amplitude (== amp_ua unless blinded sham)
_NOM_GATE = const(23)  # (nom_gate) 1: the active arm's gate open
_LAST_UP = const(24)  # (last_up_ms) session time of the last upward amplitude step
_UP_FROM = const(25)  # (up_from_ua) the nominal amplitude before the last upward step
_UP_GAP = const(26)  # (up_gap_ms) upward steps at least this far apart (a pulse period)
# The stop's request and progress: words too, for the fast edge (tvns/tickedge.py) to read
_STOP_REQ = const(27)  # (stop_requested) 1: a stop asked for, not yet begun by the step
_STOPPING = const(28)  # (stopping) 1: the stop's ramp down runs
_STOP_AT = const(29)  # (stop_at_ms) session time of the stop's first step
_STOP_FROM = const(30)  # (stop_from_ua) the nominal amplitude the stop ramps down from
_STEP_WORDS = const(9)
# tvns/tickfast.py's LAYOUT as this module numbers it (a constant: checked at construction,
# as are ticklook's and tickstep's, which viper folds in their own modules)
_LAYOUT = (_T0, _WORK, _ELAPSED, _CAP, _HELD_WIN, _HELD_SINCE, _HELD_HI, _HELD_PREV, _AMP,
           _PREV_AMP, _CEIL, _MARGIN, _KA, _HOST, _GATE, _GATE_MS, _PERIOD, _FEED, _DUE, _TRIG,
           _BEATS, 22, _IO_KILL, _IO_ESTOP, _IO_UA, _IO_COMP, _IO_SENSE, _IO_NOW, _FLOOR_UA,
           _LEAD_OFF_MIN_UA, _STATE, _IO_PENDING, 0x3C)  # fmt: skip
_STEP_LAYOUT = (_NOM, _NOM_GATE, _LAST_UP, _UP_FROM, _UP_GAP, _STOP_REQ, _STOPPING, _STOP_AT,
                _STOP_FROM)  # fmt: skip
if TF.LAYOUT[21] != _NOM:  # tickfast's word count (LAYOUT[21]): the step's words follow
    raise ValueError("scheduler's step words out of step with tickfast.py")
# The fast edge's context (tvns/tickedge.py; inline in board/rp2_fast.py): one list per
# Scheduler, what the edge reaches without a lookup. Its slots (tickedge's CTX and rp2_fast's
# numbers are checked against EDGE_SLOTS):
EDGE_WORDS = const(0)  # the loaded schedule's words (Schedule.words), None without one
_E_RING_W = const(1)  # the session's ring: its words, its kinds' bytes, its put (ring.py)
_E_RING_K = const(2)
_E_TABLES = const(3)  # EDGE_TABLES
_E_EVAL = const(4)  # the schedule's eval (tickstep._eval)
_E_LATCH = const(5)  # the tick's exception latch (Scheduler._exception)
_E_DAC = const(6)
_E_ENGINE = const(7)
_E_MARKER = const(8)  # the marker pin (scheduled trains), None without one
_E_FINISH = const(9)  # the board's finish (tvns/tickio.py)
_E_PUT = const(10)
_E_NONE = const(11)  # None, always (the chip's callback compares with it: no global read)
_E_SLOTS = const(12)
# the session's three tables in one bytes: the event for each phase, OUTPUT_ALLOWED, TABLE
EDGE_TABLES = S.EVENT_FOR_PHASE + S.OUTPUT_ALLOWED + S.TABLE
EDGE_SLOTS = (EDGE_WORDS, _E_RING_W, _E_RING_K, _E_TABLES, _E_EVAL, _E_LATCH, _E_DAC, _E_ENGINE,
              _E_MARKER, _E_FINISH, _E_PUT, _E_NONE, len(S.EVENT_FOR_PHASE),
              len(S.EVENT_FOR_PHASE) + len(S.OUTPUT_ALLOWED))  # fmt: skip


def edge_context(session):
    """The edge's context (Scheduler.__init__, once): the session's ring and the tables; the
    schedule's words come with each load (Scheduler.sched), the calls with edge_bind()."""
    ctx = [None] * _E_SLOTS
    ring_w, ring_k, put = session.ring_words()
    ctx[_E_RING_W] = ring_w
    ctx[_E_RING_K] = ring_k
    ctx[_E_PUT] = put
    ctx[_E_TABLES] = EDGE_TABLES
    return ctx


def edge_bind(ctx, evaluate, latch, dac, engine, marker, finish):
    """The calls the edge makes (Scheduler.__init__, once, each bound already: calling them
    from the tick allocates nothing)."""
    ctx[_E_EVAL] = evaluate
    ctx[_E_LATCH] = latch
    ctx[_E_DAC] = dac
    ctx[_E_ENGINE] = engine
    ctx[_E_MARKER] = marker
    ctx[_E_FINISH] = finish


# A setpoint reaches the DAC within 3 ticks (board/rp2_dac.py: applied between pulses); with a
# late tick, 5 ms. A pulse the sense holds was commanded at most a period + this ago.
_APPLY_MS = const(5)


class _Word:
    """A Scheduler attribute whose only home is word i of its hot state (tvns/tickfast.py):
    a descriptor (one small object each: cheaper to build at boot than a property with two
    closures, docs/SPEED.md)."""

    def __init__(self, i):
        self.i = i

    def __get__(self, obj, cls):
        return obj._hot[self.i]

    def __set__(self, obj, v):
        obj._hot[self.i] = v


class Scheduler:
    # The hot state the running tick reads, one word each (tvns/tickfast.py): the names the
    # main loop, the sim and the tests use, read and written through to the array. The tick
    # itself stores no attribute: with properties in the class, MicroPython looks each store
    # up in the class first (a property's setter?), ~10 us on the rp2 port (docs/SPEED.md).
    t0_ms = _Word(_T0)
    work_ms = _Word(_WORK)
    elapsed_ms = _Word(_ELAPSED)
    cap_ms = _Word(_CAP)
    held_win_ms = _Word(_HELD_WIN)
    held_since_ms = _Word(_HELD_SINCE)
    held_hi_ua = _Word(_HELD_HI)
    held_hi_prev_ua = _Word(_HELD_PREV)
    amp_ua = _Word(_AMP)
    prev_amp_ua = _Word(_PREV_AMP)
    ceiling_ua = _Word(_CEIL)
    ceiling_margin_ua = _Word(_MARGIN)
    keepalive_ms = _Word(_KA)
    host_ms = _Word(_HOST)
    gate_on_ms = _Word(_GATE_MS)
    period_ms = _Word(_PERIOD)
    feed_ms = _Word(_FEED)
    due_ms = _Word(_DUE)
    beats = _Word(_BEATS)
    nom_ua = _Word(_NOM)
    last_up_ms = _Word(_LAST_UP)
    up_from_ua = _Word(_UP_FROM)
    up_gap_ms = _Word(_UP_GAP)
    stop_at_ms = _Word(_STOP_AT)  # session time of the stop's first step
    stop_from_ua = _Word(_STOP_FROM)  # the nominal amplitude the stop ramps down from

    @property
    def stop_requested(self):
        return self._hot[_STOP_REQ] == 1  # a stop asked for (stop(), keep-alive's miss)

    @stop_requested.setter
    def stop_requested(self, on):
        self._hot[_STOP_REQ] = 1 if on else 0

    @property
    def stopping(self):
        return self._hot[_STOPPING] == 1  # the stop's ramp down runs (the step began it)

    @stopping.setter
    def stopping(self, on):
        self._hot[_STOPPING] = 1 if on else 0

    @property
    def sched(self):
        return self._sched  # the loaded protocol's Schedule (or None)

    @sched.setter
    def sched(self, sched):
        # The fast edge (tvns/tickedge.py) reads the schedule's words from its context, never
        # from an old Schedule: a load or use_arm replaces both in one store each (main loop,
        # no session running: the tick does not read them then).
        self._sched = sched
        self._edge[EDGE_WORDS] = None if sched is None else sched.words

    @property
    def nom_gate(self):
        return self._hot[_NOM_GATE] == 1  # the active arm's gate (== gate_on unless sham)

    @nom_gate.setter
    def nom_gate(self, on):
        self._hot[_NOM_GATE] = 1 if on else 0

    @property
    def gate_on(self):
        return self._hot[_GATE] == 1  # last gate state commanded to the engine

    @gate_on.setter
    def gate_on(self, on):
        self._hot[_GATE] = 1 if on else 0

    @property
    def trigger(self):
        return self._trg  # a TriggerRun while a protocol with a trigger block is loaded

    @trigger.setter
    def trigger(self, trg):
        self._trg = trg
        self._hot[_TRIG] = 0 if trg is None else 1  # the fast path leaves it to the full one

    def __init__(self, board, session):
        if (
            _FLOOR_UA != F.SENSE_FLOOR_UA
            or _LEAD_OFF_MIN_UA != F.LEAD_OFF_MIN_SETPOINT_UA
            or _GUARD_MS != F.END_GUARD_MS
            or (_IO_KILL, _IO_ESTOP, _IO_UA, _IO_COMP, _IO_SENSE, _IO_PENDING, _IO_NOW)
            != (
                IO.IO_KILL,
                IO.IO_ESTOP,
                IO.IO_UA,
                IO.IO_COMP,
                IO.IO_SENSE,
                IO.IO_PENDING,
                IO.IO_NOW,
            )
            or TF.LAYOUT != _LAYOUT
            or TL.LAYOUT != _LAYOUT
            or TS.LAYOUT[:42] != _LAYOUT + _STEP_LAYOUT
            or TS.LAYOUT[42:] != (L.RAMP_STEP_MAX_UA, L.STOP_RAMP_STEP_MS)
            or TL.STOP_WORDS != (_STOP_REQ,)
            or TF.STOP_WORDS != (_STOP_REQ,)
            or S.STATE_WORD != _STATE
            or sum(1 << i for i in range(len(S.RUNNING)) if S.RUNNING[i]) != _LAYOUT[32]
        ):
            raise ValueError("scheduler constants out of step with limits/safety/tickio.py")
        # The hot state (tvns/tickfast.py, its words say what each is): all 0 but the ceiling
        # and its margin; no store through the properties here (each costs a property call
        # and a class lookup: boot time on the rp2 port, docs/SPEED.md).
        h = TF.new()
        h.extend(array("i", bytes(4 * _STEP_WORDS)))  # the step's own words (above)
        self._hot = h
        session.bind(h)  # the session's state from now on in h[_STATE] (tvns/session.py)
        self._trg = None  # no trigger (the TRIG word 0): see the trigger property
        # The fast edge's context (EDGE_SLOTS: what it reaches without a lookup; the schedule's
        # words set by the sched property, the rest here, once)
        self._edge = edge_context(session)
        h[_CEIL] = min(L.CURRENT_MAX_UA, board.ceiling_ua)
        # Overcurrent at the ceiling: a tolerance of a few steps of the sense ADC (safety.py).
        h[_MARGIN] = F.CEILING_MARGIN_STEPS * board.sense.step_ua
        self.board = board
        self.session = session
        self._clock = board.clock
        self._engine = board.engine
        self._dac = board.dac
        self.protocol = None
        self.sched = None  # (the edge's context too: the sched property)
        self.nom_ua = 0  # the active arm's amplitude (== amp_ua unless blinded sham)
        self.nom_gate = False  # the active arm's gate (== gate_on unless blinded sham)
        self.up_gap_ms = 0  # upward steps at least one pulse period apart (jitter-proof)
        self._fresh(0)  # prev_amp_ua, held_*, last_up_ms, up_from_ua: as at a session's start
        self.fault_code = F.NONE  # the first cause of the present FAULT latch
        self.fault_ms = 0  # session time of the fault
        self.stop_reason = F.NONE  # HOST_LOSS when a keep-alive miss caused the stop
        self.stop_ms = 0  # session time the stop reason was detected
        self.stop_requested = False
        self.stopping = False
        self.stop_at_ms = 0  # session time of the stop's first step
        self.stop_from_ua = 0  # the nominal amplitude the stop ramps down from
        self.exceptions = 0  # exceptions caught in the tick body (wraps)
        self.off_failed = False  # the output-off path raised: the main loop must starve the WDT
        self._kill = getattr(board, "kill", None)  # the hardware kill path, where the board has one
        self._marker = getattr(board, "marker", None)  # train onsets (tvns/trigger.py)
        self._irq_off = board.disable_irq
        self._irq_on = board.enable_irq
        # The monitors' inputs and the end of the tick in two calls (tvns/tickio.py): the
        # board's own (rp2 on the chip: registers) or the parts' methods.
        tio = getattr(board, "tick_io", None)
        if tio is None:
            tio = IO.PartsIO(board)
        self._io = tio.io
        poll = tio.poll
        if not getattr(tio, "reads_time", False):
            poll = TL.TimedPoll(self._clock, poll).poll
        self._poll = poll  # the time (IO_NOW) and every input: the one sample a tick judges
        self._finish = tio.finish
        # The timer's callback (every board's ticker hands tick_cb to its timer): one viper
        # function over the hot state and the io array that does the idle tick and a clean
        # running tick itself and calls _look, guarded, for anything else (docs/SPEED.md
        # "The timer's callback"). The board's own (rp2 on the chip: board/rp2_fast.py, its
        # poll and finish inline), else tickfast.callback with the two calls. Built once:
        # handing it to a Timer allocates nothing.
        look = self._look  # bound once (a bound method is an allocation)
        latch = self._exception
        # The fast edge (tvns/tickedge.py: a schedule's deadline done in the callback) where
        # the board's tick I/O asks for it (the rp2 chip's, board/rp2_regs.py): its context
        # then holds what the edge calls, bound once.
        edge = getattr(tio, "fast_edge", False)
        if edge:
            calls = (TS._eval, latch, self._dac, self._engine, self._marker, self._finish)
            edge_bind(self._edge, *calls)
        own = getattr(tio, "callback", None)
        if own is not None:
            if edge:
                self.tick_cb = own(h, self._io, look, self._edge)
            else:
                self.tick_cb = own(h, self._io, look)
        else:
            parts = (poll, self._finish, look, latch, None, None)
            if edge:  # the generic edge (imported only here: its machine code is ~6 KB)
                from tvns import tickedge as TE

                if TE.CTX != EDGE_SLOTS or TE.LAYOUT != TS.LAYOUT:
                    raise ValueError("tickedge's numbers out of step with scheduler.py")
                parts = parts[:4] + (self._edge, TE.edge)
            self.tick_cb = TF.callback(h, self._io, parts)

    # ---- commands (main loop, never from an IRQ) ----
    def load(self, protocol, blind_sham=False):
        if self.session.running():
            raise E.TvnsError(E.BUSY, "load refused while stimulating; stop first")
        sched = Schedule(protocol, blind_sham)  # what can fail (memory) before any change
        trig = self._trigger_for(protocol)
        self._engine.load(protocol.width_us, protocol.gap_us, protocol.period_us)
        self.trigger = trig
        self.protocol = protocol
        self.sched = sched
        self.period_ms = (protocol.period_us + 999) // 1000
        self.up_gap_ms = self.period_ms
        self.held_win_ms = self.period_ms + _APPLY_MS
        cap = protocol.session_ms + _GUARD_MS
        hard = L.SESSION_MAX_S * 1000 + _GUARD_MS
        self.cap_ms = cap if cap < hard else hard
        self.keepalive_ms = protocol.keepalive_ms

    def _trigger_for(self, p):
        """The protocol's trigger on this board (docs/GATING.md), or None; the engine told
        which input program to run (the rp2 PIO and the sim model follow the input
        themselves; other engines get it through the tick). TvnsError without an input."""
        spec = p.trigger
        if spec is None:
            untriggered = getattr(self._engine, "set_trigger", None)
            if untriggered is not None:
                untriggered(0, 1)  # the engine's untriggered program (trigger.hw_trigger)
            return None
        # Imported here: an untriggered protocol (and the boot) never loads the trigger
        # modules (boot time and heap on the rp2 port, docs/SPEED.md "Boot"). The first time,
        # after a collection: their ~14 KB (code, the triggered PIO program) are kept for good
        # and then fill the holes at the bottom of the heap, not the free space above it,
        # which a session's garbage had reached (docs/SPEED.md "Heap"). Main loop, once.
        import sys

        if "tvns.trigger" not in sys.modules:
            import gc

            gc.collect()
        from tvns.trigger import TriggerRun, hw_trigger

        if getattr(self.board, "trigger", None) is None:
            msg = "this board has no trigger input (pins.trigger in its map)"
            raise E.TvnsError(E.OUT_OF_RANGE, msg, "trigger")
        polarity = getattr(self.board.trigger, "set_active", None)
        if polarity is not None:
            polarity(spec.active)  # the pull towards the inactive level
        hw = hw_trigger(self._engine, spec.mode, spec.active)
        return TriggerRun(spec, p.period_us, p.on_ms, self.board, hw)

    def use_arm(self, blind_sham):
        """Blinded protocols: the schedule of the allocated arm (start reloads the engine)."""
        if self.session.running():
            raise E.TvnsError(E.BUSY, "the arm cannot change while stimulating")
        self.sched = Schedule(self.protocol, blind_sham)

    def start(self):
        if self.sched is None:
            raise E.TvnsError(E.NO_PROTOCOL, "no valid protocol loaded")
        if self.session.state != S.ARMED:
            raise E.TvnsError(E.BAD_STATE, "start needs an ARMED session")
        # One owner of the tick: no timer may call tick() while this (main-loop) code runs the
        # session's first tick; the app starts the timer again right after (app.start).
        self.board.ticker.stop()
        # Load the engine again: a safe stop since the last load (fault, clear) leaves the
        # PIO stopped and its pins handed back to GPIO; loading also re-arms the kill path.
        p = self.protocol
        self._engine.load(p.width_us, p.gap_us, p.period_us)
        now = self._clock.ticks_ms()
        self.t0_ms = now
        self.work_ms = now  # (due_ms and feed_ms: set by the first tick, below)
        self.elapsed_ms = 0
        self.stop_requested = False
        self.stopping = False
        self.stop_reason = F.NONE
        self.host_ms = now
        self._fresh(now)
        if self.trigger is not None:
            self.trigger.begin(now)
        if not self.session.fire(S.EV_START, 0):
            raise E.TvnsError(E.BAD_STATE, "start needs an ARMED session")
        self.tick()

    def _fresh(self, now):
        """The amplitude's and the monitors' memory of the session before: none (at start,
        and at construction, so that the tick never adds an attribute: an allocation)."""
        h = self._hot
        h[_PREV_AMP] = 0  # the amplitude before amp_ua: a peak-hold sense may still show it
        # The highest amplitudes commanded (and since replaced) that the sense's hold may
        # still show: those replaced in this hold window and in the one before (_monitor).
        h[_HELD_HI] = 0
        h[_HELD_PREV] = 0
        h[_HELD_SINCE] = now  # ticks_ms the present hold window began
        self.last_up_ms = -self.up_gap_ms  # session time of the last upward amplitude step
        self.up_from_ua = 0  # the nominal amplitude before the last upward step

    def stop(self):
        """Operator/host stop. A running session ramps down fast at the next tick."""
        if self.session.running():
            now = self._clock.ticks_ms()
            self.work_ms = now  # stored before the request: a tick in between just runs early
            self.due_ms = now
            self.stop_requested = True
        else:
            self.session.fire(S.EV_STOP, self.elapsed_ms)

    def fault(self, code):
        """The one abort path: the FAULT latch with its first cause, and output off at once
        (a pulse in flight is cut). Both with interrupts off, so a tick cannot pre-empt a
        main-loop fault halfway (a second cause never overwrites the first, and no tick sees a
        running session with its output half stopped). Allocation-free; safe to call again;
        microseconds long (safe_off only writes registers: the MCP4725's transfer is deferred)."""
        irq = self._irq_off()
        try:
            if self.session.state != S.FAULT:
                self.fault_code = code
                self.fault_ms = self.elapsed_ms
                self.session.fire(S.EV_FAULT, self.elapsed_ms)
            self.board.safe_off()
            h = self._hot
            h[_AMP] = 0
            h[_GATE] = 0
            self.nom_ua = 0
            self.nom_gate = False
            self._marks_off()
        finally:
            self._irq_on(irq)

    # ---- the control tick ----
    def tick(self, _timer=None):
        """One tick, as the board's timer runs it: tick_cb (a direct call: start's first tick,
        the sim board, the tests). 0. proof of life (the beats word, wrapping: never a heap int
        in a hard IRQ); then, while a session runs, the inputs and the time read once and
        "nothing due, every monitor clean" answered in tick_cb itself (the dead man fed, the
        due time set); anything else, and a DAC setpoint pending while idle, in _look."""
        self.tick_cb(_timer)

    # ---- the tick's full path and step: tvns/ticklook.py, tvns/tickstep.py ----
    # Module-level functions taken as methods (names the tests and the bench's profile use):
    # the step calls monitor, set_amp, set_gate and output_off as its module's globals.
    _look = look  # (native) the full path, guarded: the step, then the feed and due time
    _exception = exception  # the tick's `exception` latch
    _monitor = monitor  # (viper) the monitors; True after a fault
    _pulsing_for = pulsing_for
    _step = step  # (viper) the schedule, the stop ramp, the amplitude rules, the gate
    _set_amp = set_amp  # (native)
    _set_gate = set_gate  # (native)
    _output_off = output_off  # (native)

    def _marks_off(self):
        trg = self._trg
        if trg is not None:
            trg.off()
        elif self._marker is not None:
            self._marker.value(0)
