# The control tick: advance the session, set the amplitude, gate the pulse engine.
# Integer-only and allocation-free, so a board may run it from a hard Timer IRQ;
# deadline-driven, so the simulator calls the very same code only when something is due.
# Longer than ~300 lines on purpose: the tick, its monitors and the stop ramp stay in one
# module so the hot path reads its state without a call across modules (each costs
# microseconds on the Cortex-M0+, docs/SPEED.md); the commands that prepare it sit beside.
#
# Concurrency rules (the rp2 tick is a hard Timer IRQ that may pre-empt the main loop at any
# bytecode):
# - One owner of the tick: while the board's timer runs, only the timer calls tick();
#   start() stops the timer before it runs the session's first tick itself, and the app
#   starts it again afterwards (app.start -> board.ticker.start). Two ticks never interleave.
# - While a session runs, only the tick changes the session state. Commands from the main
#   loop (stop) leave a request that the next tick carries out.
# - The fault latch is taken with interrupts off (board.disable_irq): a tick cannot
#   pre-empt a main-loop fault halfway and leave the wrong first cause.
# - The tick body is guarded: an exception there (the rp2 port stops calling a callback
#   that raised) turns the output off and latches `exception`; nothing escapes the tick.
# - Every integer the tick keeps stays a small int (< 2**30) forever: counters wrap to 0
#   before _WRAP + 1 is ever formed; times are ticks_* values (the audit: SAFETY.md).
# - The pulse engine is a dead man: each tick tops up its permission (engine.feed), at most
#   safety.DEADMAN_PULSES pulses beyond the last tick that ran; due_ms includes the time
#   the engine's permission runs out, so the sim board (ticks only at deadlines) feeds it too.
#
# Nominal and delivered: nom_ua/nom_gate are what the active arm commands; amp_ua/gate_on
# what goes to the DAC and the engine. They differ only in the blinded sham arm, where the
# states, the stop ramp's length and the status the operator sees follow the nominal
# values (docs/BLINDING.md) and the monitors the delivered ones.
import sys

import micropython
from micropython import const

from tvns import errors as E
from tvns import limits as L
from tvns import safety as F
from tvns import schedule as SCH
from tvns import session as S
from tvns import tickfast as TF
from tvns import tickio as IO
from tvns.ring import array  # (an import of `array` would search the file system first)
from tvns.schedule import Schedule

if sys.implementation.name != "micropython":  # the viper casts, for CPython (the host)
    from tvns.tickfast import ptr32

    def ptr8(b):
        return b


# ptr32 and ptr8 are builtins of the viper emitter (not Python names) on a board.
# ruff: noqa: F821

_STEP_UA = const(100)  # limits.RAMP_STEP_MAX_UA, inlined for the hot path
_STOP_STEP_MS = const(10)  # limits.STOP_RAMP_STEP_MS
_FLOOR_UA = const(50)  # safety.SENSE_FLOOR_UA
_LEAD_OFF_MIN_UA = const(200)  # safety.LEAD_OFF_MIN_SETPOINT_UA
_GUARD_MS = const(50)  # safety.END_GUARD_MS
_NO_EVENT = const(255)
_WRAP = const(0x3FFFFFFF)  # counters wrap here: 2**30 - 1, the largest small int of a 32-bit port
# ticks_ms arithmetic inline (MicroPython's period, 2**30): a call of clock.ticks_diff costs
# ~10 us on the rp2 port; no intermediate reaches 2**30 (a heap int on a 32-bit port).
_MASK = const(0x3FFFFFFF)
_HALF = const(0x20000000)
_IO_KILL = const(0)  # tvns/tickio.py IO_KILL
_IO_ESTOP = const(1)  # tvns/tickio.py IO_ESTOP
_IO_UA = const(2)  # tvns/tickio.py IO_UA
_IO_COMP = const(3)  # tvns/tickio.py IO_COMP
_IO_SENSE = const(4)  # tvns/tickio.py IO_SENSE
_IO_PENDING = const(5)  # tvns/tickio.py IO_PENDING
_IO_NOW = const(6)  # tvns/tickio.py IO_NOW
# The hot state's words (tvns/tickfast.py, the only home of these values: the attributes of
# the same names below are properties over them)
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
# The step's own words, appended to tickfast's (its LAYOUT ends them at 22 words: checked
# below; the fast path never reads these): the amplitude rules' state, stored on every ramp
# step and train edge. As attributes each store cost ~15-25 us on the rp2 port (MicroPython
# looks a store up in the class first when the class has descriptors, docs/SPEED.md).
_NOM = const(22)  # (nom_ua) the active arm's amplitude (== amp_ua unless blinded sham)
_NOM_GATE = const(23)  # (nom_gate) 1: the active arm's gate open
_LAST_UP = const(24)  # (last_up_ms) session time of the last upward amplitude step
_UP_FROM = const(25)  # (up_from_ua) the nominal amplitude before the last upward step
_UP_GAP = const(26)  # (up_gap_ms) upward steps at least this far apart (a pulse period)
_STEP_WORDS = const(5)
# tvns/tickfast.py's LAYOUT as this module numbers it (a constant: checked at construction)
_LAYOUT = (_T0, _WORK, _ELAPSED, _CAP, _HELD_WIN, _HELD_SINCE, _HELD_HI, _HELD_PREV, _AMP,
           _PREV_AMP, _CEIL, _MARGIN, _KA, _HOST, _GATE, _GATE_MS, _PERIOD, _FEED, _DUE, _TRIG,
           _BEATS, 22, _IO_KILL, _IO_ESTOP, _IO_UA, _IO_COMP, _IO_SENSE, _IO_NOW, _FLOOR_UA,
           _LEAD_OFF_MIN_UA, _STATE, _IO_PENDING, 0x3C)  # fmt: skip
_eval = SCH.eval_words  # Schedule.eval over its words (viper: the step's one call for it)
# The schedule's answer in its words (tvns/schedule.py ANSWER) and the states it names
_W_PHASE = const(13)
_W_AMP = const(14)
_W_GATE = const(15)
_W_NEXT = const(16)
_W_OUT = const(17)
_W_OUT_GATE = const(18)
_W_GE = const(6)
_RAMP_DOWN = const(5)
_DONE = const(6)
_EV_STOP = const(7)
_NO_TRIGGER = None  # (viper compares an object with an object, not with the literal None)
_EV_STOPPED = const(8)
if (_W_PHASE, _W_AMP, _W_GATE, _W_NEXT, _W_OUT, _W_OUT_GATE, _W_GE) != SCH.ANSWER or (
    _RAMP_DOWN,
    _DONE,
    _EV_STOP,
    _EV_STOPPED,
) != (S.RAMP_DOWN, S.DONE, S.EV_STOP, S.EV_STOPPED):
    raise ValueError("scheduler's schedule words out of step with schedule.py")
if TF.LAYOUT[21] != _NOM:  # tickfast's word count (LAYOUT[21]): the step's words follow
    raise ValueError("scheduler's step words out of step with tickfast.py")
# A setpoint reaches the DAC within 3 ticks (board/rp2_dac.py: applied between pulses); with a
# late tick, 5 ms. A pulse the sense holds was commanded at most a period + this ago.
_APPLY_MS = const(5)
# safety.py's fault codes the monitors latch (viper folds only this module's consts)
_NONE = const(0)
_OVERCURRENT = const(1)
_LEAD_OFF = const(2)
_ESTOP = const(3)
_HOST_LOSS = const(5)
_SESSION_CAP = const(6)
_KILL = const(9)
if (_NONE, _OVERCURRENT, _LEAD_OFF, _ESTOP, _HOST_LOSS, _SESSION_CAP, _KILL) != (
    F.NONE,
    F.OVERCURRENT,
    F.LEAD_OFF,
    F.ESTOP,
    F.HOST_LOSS,
    F.SESSION_CAP,
    F.KILL,
):
    raise ValueError("scheduler's fault codes out of step with safety.py")
_RUNNING = S.RUNNING  # module globals: one lookup fewer per use in the tick
_OUTPUT_ALLOWED = S.OUTPUT_ALLOWED
# The event that moves the session into each schedule phase (indexed by state).
_EVENT_FOR_PHASE = bytes(
    (
        _NO_EVENT,  # IDLE
        _NO_EVENT,  # ARMED
        _NO_EVENT,  # RAMP_UP: entered by START
        S.EV_TRAIN_ON,  # ON
        S.EV_TRAIN_OFF,  # OFF
        S.EV_RAMP_DOWN,  # RAMP_DOWN
        S.EV_END,  # DONE
        _NO_EVENT,
        _NO_EVENT,
    )
)


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


class _TimedPoll:
    """A board's own poll that does not read the time (tickio.py IO_NOW): the clock's
    ticks_ms written first, so every poll gives the tick its time."""

    def __init__(self, clock, poll):
        self._clock = clock
        self._poll = poll
        self.poll = self._timed  # bound once: the tick must not allocate a bound method

    def _timed(self, io):
        io[_IO_NOW] = self._clock.ticks_ms()
        self._poll(io)


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
            _STEP_UA != L.RAMP_STEP_MAX_UA
            or _STOP_STEP_MS != L.STOP_RAMP_STEP_MS
            or _FLOOR_UA != F.SENSE_FLOOR_UA
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
        h[_CEIL] = min(L.CURRENT_MAX_UA, board.ceiling_ua)
        # Overcurrent at the ceiling: a tolerance of a few steps of the sense ADC (safety.py).
        h[_MARGIN] = F.CEILING_MARGIN_STEPS * board.sense.step_ua
        self.board = board
        self.session = session
        self._clock = board.clock
        self._engine = board.engine
        self._dac = board.dac
        self.protocol = None
        self.sched = None
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
            poll = _TimedPoll(self._clock, poll).poll
        self._poll = poll  # the time (IO_NOW) and every input: the one sample a tick judges
        self._finish = tio.finish
        # The timer's callback (every board's ticker hands tick_cb to its timer): one viper
        # function over the hot state and the io array that does the idle tick and a clean
        # running tick itself and calls _look, guarded, for anything else (docs/SPEED.md
        # "The timer's callback"). The board's own (rp2 on the chip: board/rp2_fast.py, its
        # poll and finish inline), else tickfast.callback with the two calls. Built once:
        # handing it to a Timer allocates nothing.
        look = self._look  # bound once (a bound method is an allocation)
        own = getattr(tio, "callback", None)
        if own is not None:
            self.tick_cb = own(h, self._io, look)
        else:
            self.tick_cb = TF.callback(h, self._io, (poll, self._finish, look, self._exception))

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

    @micropython.viper  # machine words and ptr32 over the arrays (docs/SPEED.md)
    def _monitor(self, now: int, t: int) -> bool:
        """Runs on every tick while a session runs. Returns True after a fault."""
        # The hardware kill path has already cut the output (rp2: the PIO's kill machine);
        # here it is latched with its cause. The polls below are the second line of defence.
        # The inputs were read once by the fast path's poll (tvns/tickfast.py), the sense and
        # the comparator while the gate is on: this judges the same sample, never a second.
        # Every word read is >= 0 but IO_KILL (-1: the kill machine fired), which a 64-bit
        # host runtime's viper reads zero-extended: both spellings of -1 are tested.
        io = ptr32(self._io)
        h = ptr32(self._hot)
        gate_on = h[_GATE]
        code = io[_IO_KILL]
        if code < 0 or code > 0xFFFF:  # the board's poll saw the kill machine fire: its cause
            code = int(self._kill.tripped())
            if code == _NONE:
                code = _KILL
        if code != _NONE:
            pass
        elif io[_IO_ESTOP] != 0:
            code = _ESTOP
        elif t > h[_CAP]:
            code = _SESSION_CAP
        elif gate_on != 0:
            ua = io[_IO_UA]
            # The highest amplitude the sense may show: the one commanded, or one replaced
            # since the last pulse the hold shows could have started (a sample-and-hold keeps
            # the last pulse: a stop ramp at 25 Hz takes up to 4 steps between two pulses, at
            # 1 Hz the whole ramp). Two windows of a period + _APPLY_MS: an amplitude replaced
            # at t counts until t + 1 to 2 windows, never less than it can show. Inline: a
            # method call costs ~10 us on the rp2 port (docs/SPEED.md).
            d = now - h[_HELD_SINCE]  # ticks_diff, inline
            if d >= _HALF:
                d = d - _MASK - 1
            elif d < -_HALF:
                d = d + _MASK + 1
            if d >= h[_HELD_WIN]:
                h[_HELD_PREV] = h[_HELD_HI]
                h[_HELD_HI] = 0
                h[_HELD_SINCE] = now
            amp = h[_AMP]
            hi = amp
            if h[_HELD_HI] > hi:
                hi = h[_HELD_HI]
            if h[_HELD_PREV] > hi:
                hi = h[_HELD_PREV]
            if ua > hi + hi // 10 + _FLOOR_UA or ua > h[_CEIL] + h[_MARGIN]:
                code = _OVERCURRENT
            elif io[_IO_COMP] != 0:
                code = _LEAD_OFF
            elif amp >= _LEAD_OFF_MIN_UA:
                # The peak hold shows the last pulse, maybe still at the previous (lower)
                # amplitude: on the rp2 port a 100 -> 200 uA ramp step read 96 uA here.
                low = h[_PREV_AMP]
                if amp < low:
                    low = amp
                if ua < low // 2:
                    d = now - h[_GATE_MS]  # ticks_diff, inline
                    if d >= _HALF:
                        d = d - _MASK - 1
                    elif d < -_HALF:
                        d = d + _MASK + 1
                    if d > h[_PERIOD] and int(self._pulsing_for(now)) > h[_PERIOD]:
                        code = _LEAD_OFF  # the source cannot drive the setpoint into this load
        if code != _NONE:
            self.fault(code)
            return True
        ka = h[_KA]
        if ka != 0 and not self.stop_requested:
            d = now - h[_HOST]  # ticks_diff, inline
            if d >= _HALF:
                d = d - _MASK - 1
            elif d < -_HALF:
                d = d + _MASK + 1
            if d <= ka:
                return False
            self.stop_requested = True  # host silent: ramp down fast, end STOPPED
            self.stop_reason = _HOST_LOSS
            self.stop_ms = t
            h[_WORK] = now
        return False

    # ---- the control tick ----
    def tick(self, _timer=None):
        """One tick, as the board's timer runs it: tick_cb (a direct call: start's first tick,
        the sim board, the tests). 0. proof of life (the beats word, wrapping: never a heap int
        in a hard IRQ); then, while a session runs, the inputs and the time read once and
        "nothing due, every monitor clean" answered in tick_cb itself (the dead man fed, the
        due time set); anything else, and a DAC setpoint pending while idle, in _look."""
        self.tick_cb(_timer)

    @micropython.native  # machine code (mpy-cross -march): the hot path
    def _look(self, _timer=None):
        """The full path (tick_cb's "look"), guarded: an exception turns the output off and
        latches `exception` (nothing may escape: the rp2 port stops calling a callback that
        raised). Running: the step below judges the readings tick_cb took (io: never read
        twice), then a pending DAC setpoint is applied when no pulse is in flight (never a
        wait here) and, while the session still runs, the dead-man engine fed (after the gate
        decision, so a feed never releases a pulse into a train this tick closed) and the
        deadline set. Not running: a setpoint left pending reaches the DAC."""
        try:
            h = self._hot
            io = self._io
            if _RUNNING[h[_STATE]] == 1:  # only a running session is advanced
                self._step()
                if _RUNNING[h[_STATE]] == 1:
                    # A pending setpoint to the DAC (between pulses), then the dead man fed.
                    fed = self._finish(io)
                    now = io[_IO_NOW]  # the step's: a feed deadline never later than due
                    f = now + fed if now <= _MASK - fed else now - (_MASK - fed) - 1
                    h[_FEED] = f
                    w = h[_WORK]
                    trg = self._trg
                    if trg is not None and self._clock.ticks_diff(trg.due_ms, w) < 0:
                        w = trg.due_ms
                    d = f - w  # ticks_diff, inline
                    if d >= _HALF:
                        d = d - _MASK - 1
                    elif d < -_HALF:
                        d = d + _MASK + 1
                    h[_DUE] = f if d < 0 else w
                    return
            if io[_IO_PENDING] >= 0:  # a setpoint left pending reaches the DAC
                self._dac.apply()
        except Exception:  # noqa: BLE001 - whatever it was, the output goes off
            self._exception()

    def _exception(self):
        n = self.exceptions
        self.exceptions = n + 1 if n < _WRAP else 0
        try:
            self.fault(F.EXCEPTION)
        except Exception:  # noqa: BLE001
            # The output-off path itself raised: the main loop stops feeding the watchdog,
            # which resets the chip (and so stops the PIO) within its timeout.
            self.off_failed = True

    @micropython.viper  # machine words and ptr32 over the arrays (docs/SPEED.md)
    def _step(self):
        # The hot state's and the schedule's words through ptr32 (every word read so is >= 0
        # but last_up_ms, read through the array object: a 64-bit host runtime's viper reads
        # a ptr32 word zero-extended); the session, the trigger and the schedule's call are
        # objects as before. (The methods of the step are module globals, _monitor_f etc.
        # below the class: a method looked up on self first misses the scheduler's nearly
        # full instance dict, ~20 us on the rp2 port, docs/SPEED.md.)
        # 1. A running session only (tick checks): where are we in it?
        s = self.session
        hot = self._hot
        h = ptr32(hot)
        now = ptr32(self._io)[_IO_NOW]  # the poll's (tick): the time the monitors judge with
        trg = self._trg
        if trg is not _NO_TRIGGER and trg.waiting:
            # Start mode: session time stays 0 until the input's edge, then counts from it.
            trg.poll(now, 0)
            if trg.waiting:
                h[_T0] = now
                if not self.stop_requested:  # a stop's work_ms (stop()) ends the wait now
                    h[_WORK] = int(trg.due_ms)
            else:
                h[_T0] = int(trg.edge_ms)
                h[_WORK] = now
        t = now - h[_T0]  # ticks_diff, inline
        if t >= _HALF:
            t = t - _MASK - 1
        elif t < -_HALF:
            t = t + _MASK + 1
        h[_ELAPSED] = t
        # 2. Monitors on every tick: e-stop, session cap, overcurrent, lead-off, keep-alive.
        if _monitor_f(self, now, t):
            return
        # 2b. The trigger input, sampled every tick (tvns/trigger.py): its permission, caps.
        if trg is not _NO_TRIGGER:
            if trg.waiting and not self.stop_requested:
                return  # nothing runs before the start edge; a stop ends the wait
            if trg.poll(now, t):
                h[_WORK] = now
        # 3. Deadline-driven: nothing else can change before work_ms.
        d = now - h[_WORK]  # ticks_diff, inline
        if d >= _HALF:
            d = d - _MASK - 1
        elif d < -_HALF:
            d = d + _MASK + 1
        if d < 0:
            return
        # The schedule's answer in its words (tvns/schedule.py: one viper call, no attribute
        # on the schedule read or written; a descriptor read would be a call each).
        words = self.sched.words
        w = ptr32(words)
        allowed = ptr8(_OUTPUT_ALLOWED)
        # 4. A stop request: ramp down one 0.1 mA step per _STOP_STEP_MS, then STOPPED.
        #    Timed on the nominal amplitude, so a blinded sham's stop lasts as long. Step k
        #    falls due at stop_at_ms + (k - 1) * _STOP_STEP_MS, from the stop, not from when
        #    this tick ran: a late tick takes every step that fell due (one larger step down),
        #    so late ticks never stretch a stop. Never above the schedule's own ramp down, and
        #    over by the gate's end: a stop never runs into the session's end.
        if self.stop_requested and not self.stopping:
            self.stopping = True
            self.stop_at_ms = t
            self.stop_from_ua = h[_NOM]
            s.fire(_EV_STOP, t)
        if self.stopping:
            at = int(self.stop_at_ms)
            k = (t - at) // _STOP_STEP_MS + 1
            nom = int(self.stop_from_ua) - k * _STEP_UA
            _eval(words, t)
            if w[_W_PHASE] >= _RAMP_DOWN and w[_W_AMP] < nom:
                nom = w[_W_AMP]
            if nom <= 0 or h[_NOM_GATE] == 0 or allowed[h[_STATE]] == 0 or t >= w[_W_GE]:
                _output_off_f(self)
                s.fire(_EV_STOPPED, t)
                return
            h[_NOM] = nom
            a = h[_AMP]
            _set_amp_f(self, a if a < nom else nom)
            nx = at + k * _STOP_STEP_MS
            if w[_W_NEXT] < nx:  # the schedule's own step down or the gate's end first
                nx = w[_W_NEXT]
            t0 = h[_T0]  # 0 <= nx < 2**30: ticks_add, inline
            h[_WORK] = t0 + nx if t0 <= _MASK - nx else t0 - (_MASK - nx) - 1
            return
        # 5. Where the schedule says the session is now.
        _eval(words, t)
        phase = w[_W_PHASE]
        if phase != h[_STATE]:
            s.fire(ptr8(_EVENT_FOR_PHASE)[phase], t)
        if phase == _DONE:
            _output_off_f(self)
            return
        # 6. Amplitude: at most one 0.1 mA step up, upward steps at least one pulse period
        #    apart and only while pulses run, so late ticks delay a ramp but never steepen
        #    it. Never above the ceiling. Decreases apply at once. Worked out on the
        #    nominal amplitude; the delivered one is never above it.
        amp = w[_W_AMP]
        nom = h[_NOM]
        t0 = h[_T0]
        nx = w[_W_NEXT]  # 0 <= nx < 2**30: ticks_add, inline
        due = t0 + nx if t0 <= _MASK - nx else t0 - (_MASK - nx) - 1
        sgate = w[_W_GATE]
        last_up = int(hot[_LAST_UP])  # (-up_gap_ms before the first step: signed)
        gap = h[_UP_GAP]
        if sgate == 0 and nom > h[_UP_FROM] and t - last_up < gap:
            # The gate closes less than a period after a step up: maybe no pulse showed it.
            # Withdrawn, so the next train's first step starts from what a pulse did show.
            nom = h[_UP_FROM]
        if amp > nom:
            wait = last_up + gap - t
            held = sgate == 0
            if not held and trg is not _NO_TRIGGER and nom > 0:
                if trg.holds_ramp():
                    held = True
            if held:
                amp = nom  # no pulses now: steps taken here would add up unseen
            elif wait > 0:
                amp = nom
                if wait < nx - t:  # never past the schedule's own next change
                    # 0 < wait < 2**30: ticks_add, inline
                    due = now + wait if now <= _MASK - wait else now - (_MASK - wait) - 1
            else:
                if amp > nom + _STEP_UA:
                    amp = nom + _STEP_UA
                    if gap < nx - t:  # 0 <= gap < 2**30: ticks_add, inline
                        due = now + gap if now <= _MASK - gap else now - (_MASK - gap) - 1
                h[_LAST_UP] = t
                h[_UP_FROM] = nom
        if amp > h[_CEIL]:
            amp = h[_CEIL]
        ok = allowed[h[_STATE]]
        h[_NOM] = amp
        h[_NOM_GATE] = 1 if sgate != 0 and ok != 0 else 0
        if w[_W_OUT] < amp:
            amp = w[_W_OUT]
        gate = 0
        if w[_W_OUT_GATE] != 0 and ok != 0:
            gate = 1
            if trg is not _NO_TRIGGER and not trg.open:
                gate = 0
        # 7. Order matters: amplitude before gate-on, gate-off before amplitude changes.
        #    (_set_amp inline, and the gate's call only for a change: a call costs ~10 us on
        #    the rp2 port.)
        if gate == 0 and h[_GATE] != 0:
            _set_gate_f(self, False)
        old = h[_AMP]
        if amp != old:
            self._dac.set_ua(amp)
            h[_PREV_AMP] = old
            h[_AMP] = amp
            if old > h[_HELD_HI]:
                h[_HELD_HI] = old  # the hold may show it for a window yet (_monitor)
        if gate != 0 and h[_GATE] == 0:
            _set_gate_f(self, True)
        h[_WORK] = due

    @micropython.native  # machine code (mpy-cross -march): the hot path
    def _set_amp(self, amp):
        h = self._hot
        old = h[_AMP]
        if amp != old:
            self._dac.set_ua(amp)
            h[_PREV_AMP] = old
            h[_AMP] = amp
            if old > h[_HELD_HI]:
                h[_HELD_HI] = old  # the hold may show it for a window yet (_monitor)

    @micropython.native  # machine code (mpy-cross -march): the hot path
    def _set_gate(self, on):
        h = self._hot
        if (1 if on else 0) != h[_GATE]:
            self._engine.gate(on)
            h[_GATE] = 1 if on else 0
            if on:
                h[_GATE_MS] = self._clock.ticks_ms()
            mk = self._marker
            if mk is not None and self._trg is None:
                mk.value(1 if on else 0)  # scheduled trains: the marker is the train

    def _pulsing_for(self, now):
        """ms since the present burst of pulses began (a large number without a trigger:
        pulses run whenever the gate is open); -1 while no pulse runs."""
        trg = self._trg
        if trg is None:
            return 0x100000
        return trg.flowing_ms(now)

    def _marks_off(self):
        trg = self._trg
        if trg is not None:
            trg.off()
        elif self._marker is not None:
            self._marker.value(0)

    @micropython.native  # machine code (mpy-cross -march): the hot path
    def _output_off(self):
        # Normal end: close the gate (the pulse in flight finishes balanced), then 0 uA.
        _set_gate_f(self, False)  # an untriggered protocol's marker falls with the gate
        _set_amp_f(self, 0)
        h = self._hot
        h[_NOM] = 0
        h[_NOM_GATE] = 0
        trg = self._trg
        if trg is not None:
            trg.off()


# The step's methods as module globals (the functions themselves, not bound): _step and
# _output_off call them without a look-up on self (docs/SPEED.md); the methods stay for
# every other caller.
_monitor_f = Scheduler._monitor
_set_amp_f = Scheduler._set_amp
_set_gate_f = Scheduler._set_gate
_output_off_f = Scheduler._output_off
