# The trigger / gate input while a session runs (docs/GATING.md): the firmware's side of it.
# Longer than ~300 lines: one session's trigger state, the tick's poll and the caps it
# applies are one piece of state read together (the tick's path), kept in one place.
#
# Who does what:
# - The pulse engine follows the raw input in hardware where it can (rp2: the PIO waits on
#   the trigger pin and tests the firmware's gate before every pulse, so an edge starts a
#   pulse within 1 us without any code; the sim board models the same). The firmware keeps
#   authority: no pulse unless its own gate is open, and it opens the gate only in a
#   stimulating state, within the caps below.
# - A board whose engine cannot (ESP32: its pin IRQs and timers are soft) gets the input
#   through this module: the gate follows the debounced level, a millisecond path.
# - Once per control tick (poll): the input is sampled and debounced (the log's view, start
#   mode, the missing-trigger state), the engine's pulse counter tells when a burst or train
#   really began and ended (robust to any input: a 10 kHz square wave, bounce, a stuck line),
#   and the caps are applied to the firmware's gate: the minimum gap after each burst or
#   train, trains per minute, the total stimulation (in pulses, exact), a train's length.
# - Events (edges, trains, caps, missing) go into a preallocated ring with their session
#   time; the main loop drains them into the log (never flash in the tick).
# Integer-only and allocation-free after __init__ (the tick is a hard IRQ on rp2); every
# stored time is a ticks_ms value or a session ms (small ints).
from array import array

from micropython import const

from tvns.ring import EventRing
from tvns.trigger_fields import GATE, START, TRAIN

EV_ON = const(1)  # the debounced input became active
EV_OFF = const(2)  # ... inactive
EV_TRAIN = const(3)  # a burst (gate mode) or a train (train mode, scheduled trains) began
EV_TRAIN_END = const(4)  # ... ended (no pulse for a period)
EV_START = const(5)  # start mode: the edge that started the session (session time 0)
EV_MISSING = const(6)  # no active edge for missing_s: a visible state, not a silent stall
EV_BACK = const(7)  # the input is active again after EV_MISSING
EV_CAP_RATE = const(8)  # max_trains_per_min reached: the gate stays closed until it allows
EV_CAP_STIM = const(9)  # max_stim_s reached: no more pulses in this session
EVENT_NAMES = (
    None,
    "on",
    "off",
    "train",
    "train_end",
    "start",
    "missing",
    "back",
    "cap_rate",
    "cap_stim",
)
_RING = const(64)  # events held between two main-loop passes (100 ms)
_MINUTE_MS = const(60000)
_WRAP = const(0x3FFFFFFF)
_FAR_MS = const(0x100000)  # no deadline of this module's own


class TriggerRun:
    """One session's trigger state. board.trigger: the input (level() -> 0/1 at the pin);
    hw: the engine follows the input itself (engine.set_trigger accepted the mode)."""

    def __init__(self, spec, period_us, on_ms, board, hw):
        self.mode = spec.mode
        self.active = spec.active
        self.debounce_ms = spec.debounce_ms
        self.min_gap_ms = spec.min_gap_ms
        self.rate_cap = spec.max_trains_per_min
        self.missing_ms = spec.missing_ms
        self.max_pulses = -(-spec.max_stim_ms * 1000 // period_us)  # ceil: whole pulses
        self.period_ms = (period_us + 999) // 1000
        self.period_us = period_us
        self._next_chance = 0
        self.on_ms = on_ms
        self.hw = hw
        self._clock = board.clock
        self._level = board.trigger.level
        engine = board.engine
        self._count = getattr(engine, "pulse_count", None) or engine.pulses
        self._marker = getattr(board, "marker", None)
        self._starts = array("i", [0] * self.rate_cap)  # ticks_ms of the last trains
        self.events = EventRing(_RING, EVENT_NAMES)  # drained by the main loop (app.py)
        self.trains = 0  # bursts or trains begun in this session (wraps)
        self.stim_pulses = 0  # pulses delivered in this session (stops counting at the cap)
        self.begin(self._clock.ticks_ms())

    # ---- session start (main loop, before the first tick) ----
    def begin(self, now):
        self.raw = self._raw()  # the level at the last sample (1 = active)
        self.stable = self.raw  # the debounced level (1 = active); no event for the first
        self._pend_ms = -1  # ticks_ms since which the raw level differs from stable (-1: not)
        self._pend_ms_valid = False
        self.last_edge_ms = now
        self.missing = False
        self.bursting = False
        self.burst_ms = now  # ticks_ms the present burst or train began
        self._last_c = self._count()
        self._last_pulse_ms = now
        self._gap_ms = now  # no new burst before this (ticks_ms)
        self._train_end_ms = now
        self._soft_train = False
        self.capped = False
        self._rate_blocked = False
        self._n_starts = 0
        self.stim_pulses = 0
        self.trains = 0
        self.waiting = self.mode == START  # start mode: the session waits for its edge
        self.edge_ms = now
        self.open = False
        self.due_ms = now

    def _raw(self):
        return 1 if self._level() == self.active else 0

    # ---- the tick (hard IRQ on rp2): no allocation, no waiting, small ints only ----
    def poll(self, now, t):
        """Sample, debounce, account; sets self.open (the trigger's permission, which the
        tick ANDs with the schedule's gate) and self.due_ms (when this module next has work).
        Returns True when the permission or the burst changed (the ramp may step again)."""
        clock = self._clock
        due = clock.ticks_add(now, _FAR_MS)
        # 1. The debounced view of the input (log, start mode, missing, the soft gate).
        raw = self._raw()
        self.raw = raw
        rose = False
        if raw == self.stable:
            self._pend_ms_valid = False
        else:
            if not self._pend_ms_valid:
                self._pend_ms_valid = True
                self._pend_ms = now
            held = clock.ticks_diff(now, self._pend_ms)
            if held >= self.debounce_ms:
                self.stable = raw
                self._pend_ms_valid = False
                # The change's session time: held ms ago. Start mode's wait is session time
                # 0 throughout (its edge is 0 by definition), never before it.
                at = t - held
                if at < 0:
                    at = 0
                self._event(at, EV_ON if raw else EV_OFF)
                if raw:
                    rose = True
                    self.edge_ms = self._pend_ms
                    self._seen(self._pend_ms, at)
            else:
                due = clock.ticks_add(self._pend_ms, self.debounce_ms)
        if raw and not self.bursting:
            due = self._sooner(due, clock.ticks_add(now, 1))  # a pulse may start: look again
        # 2. Start mode: the session's clock starts at the edge (the scheduler reads it).
        if self.waiting:
            if rose:
                self.waiting = False
                self._event(0, EV_START)
            else:
                self._missing(now, 0)
                self.due_ms = self._sooner(due, clock.ticks_add(self.last_edge_ms, self.missing_ms))
                return False
        # 3. What the engine really did: pulses since the last poll (any input whatever).
        was_bursting = self.bursting
        c = self._count()
        d = c - self._last_c
        if d < 0:
            d = d + _WRAP + 1  # the counter wrapped (d + _WRAP first: never 2**30)
        self._last_c = c
        if d > 0:
            self._last_pulse_ms = now
            s = self.stim_pulses
            self.stim_pulses = s + d if s < _WRAP - d else _WRAP
            if not self.bursting:
                self._burst_start(now, t)
        elif self.bursting and clock.ticks_diff(now, self._last_pulse_ms) > self.period_ms + 1:
            self.bursting = False
            self._soft_train = False
            self._gap_ms = clock.ticks_add(now, self.min_gap_ms)
            self._event(t, EV_TRAIN_END)
            mk = self._marker
            if mk is not None:
                mk.value(0)
        if self.bursting:
            due = self._sooner(due, clock.ticks_add(self._last_pulse_ms, self.period_ms + 2))
        # 4. The caps and the gap: the firmware's permission.
        if not self.capped and self.stim_pulses >= self.max_pulses:
            self.capped = True
            self._event(t, EV_CAP_STIM)
        was = self.open
        if self._soft_train and self._clock.ticks_diff(now, self._train_end_ms) >= 0:
            self._soft_train = False
        ok = not self.capped
        if ok and self.bursting:
            if self.mode == TRAIN:
                left = clock.ticks_diff(self._train_end_ms, now)
                ok = left > 0
                if ok:
                    due = self._sooner(due, self._train_end_ms)
            elif not self.hw:
                ok = self.stable == 1  # soft gate mode: the debounced level is the gate
        elif ok:
            ok = self._may_begin(now, t)
            if not ok:
                due = self._sooner(due, self._next_chance)
            elif not self.hw:
                if self.mode == TRAIN:
                    ok = rose or self._soft_train
                    if rose:
                        self._soft_train = True
                        self._train_end_ms = clock.ticks_add(now, self.on_ms)
                else:
                    ok = self.stable == 1
        self.open = ok
        # 5. The missing-trigger state (not in train mode between trains by choice: any
        #    mode says when no active edge came for missing_s).
        self._missing(now, t)
        if not self.missing:
            due = self._sooner(due, clock.ticks_add(self.last_edge_ms, self.missing_ms + 1))
        self.due_ms = due
        return ok != was or self.bursting != was_bursting

    def _may_begin(self, now, t):
        """May a new burst or train begin now (gap over, trains per minute left)?"""
        clock = self._clock
        if self.mode == START:
            return True  # scheduled trains after the start edge: the caps are the input's
        if clock.ticks_diff(now, self._gap_ms) < 0:
            self._next_chance = self._gap_ms
            return False
        if self._n_starts >= self.rate_cap:
            oldest = self._starts[self._n_starts % self.rate_cap]
            if clock.ticks_diff(now, oldest) < _MINUTE_MS:
                self._next_chance = clock.ticks_add(oldest, _MINUTE_MS)
                if not self._rate_blocked:
                    self._rate_blocked = True
                    self._event(t, EV_CAP_RATE)
                return False
        self._rate_blocked = False
        return True

    def _burst_start(self, now, t):
        self.bursting = True
        self.burst_ms = now
        if self.mode == TRAIN and self.hw:
            self._train_end_ms = self._clock.ticks_add(now, self.on_ms)
        self._starts[self._n_starts % self.rate_cap] = now
        n = self._n_starts + 1
        # keep the index's phase when wrapping: a multiple of the cap, far below 2**30
        self._n_starts = n if n < 0x1000000 else n - (0x1000000 // self.rate_cap) * self.rate_cap
        tr = self.trains
        self.trains = tr + 1 if tr < _WRAP else 0
        self._event(t, EV_TRAIN)
        self._seen(now, t)
        mk = self._marker
        if mk is not None:
            mk.value(1)

    def _seen(self, now, t):
        self.last_edge_ms = now
        if self.missing:
            self.missing = False
            self._event(t, EV_BACK)

    def _missing(self, now, t):
        if (
            self.missing_ms
            and not self.missing
            and self._clock.ticks_diff(now, self.last_edge_ms) > self.missing_ms
        ):
            self.missing = True
            self._event(t, EV_MISSING)

    def _sooner(self, a, b):
        return b if self._clock.ticks_diff(b, a) < 0 else a

    def _event(self, t, kind):
        self.events.put(t, kind)

    def flowing_ms(self, now):
        """ms since the present burst began while pulses should be flowing now (a burst
        runs, and in gate mode the input is active at this sample), else -1: the lead-off
        check reads the sense only then."""
        if not self.bursting or (self.mode == GATE and not self._raw()):
            return -1
        return self._clock.ticks_diff(now, self.burst_ms)

    def holds_ramp(self):
        """Ramp steps wait while the input gives no pulses (gate and train modes): within a
        burst consecutive pulses differ by at most one step, between bursts the amplitude
        holds, so every burst starts where the last one ended."""
        return self.mode != START and not self.bursting

    def off(self):
        """Output off (end, stop, fault): the marker goes low with it."""
        self.open = False
        mk = self._marker
        if mk is not None:
            mk.value(0)

    # ---- main loop ----
    def status(self):
        return {
            "mode": ("none", "gate", "start", "train")[self.mode],
            "active": self.stable == 1,
            "waiting": self.waiting,
            "missing": self.missing,
            "trains": self.trains,
            "stim_s": self.stim_pulses * self.period_us / 1e6,
            "capped": self.capped,
        }


def hw_trigger(engine, mode, active):
    """Ask the engine to follow the input itself (rp2 PIO, the sim board's model): True when
    it does. Start mode needs nothing of the engine (the session's clock starts at the edge)."""
    fn = getattr(engine, "set_trigger", None)
    if fn is None:
        return False
    return fn(mode if mode in (GATE, TRAIN) else 0, active)
