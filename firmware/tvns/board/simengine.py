# The sim board's pulse engine (host only, never deployed): an exact model of the RP2040
# PIO pulse program (board/rp2_pio.py) in integer microseconds, the same logic as the PIO:
# - a gate sampled only between pulses (a pulse in flight always finishes);
# - a dead man: each pulse needs one permission (the PIO's `pull` of one TX FIFO word); the
#   control tick tops the permission up to safety.DEADMAN_PULSES (feed), so a hung CPU lets
#   at most that many pulses out; run dry, the next pulse waits for the next feed (starved);
# - the hardware kill path (the PIO's kill machine): kill() takes both phases low at once,
#   and nothing comes out again until the engine is loaded (re-armed).
# - the trigger input (docs/GATING.md): see trigger_edge().
# Pulse trains are recorded as segments [start_us, period_us, count, amp_ua, width_us,
# gap_us]: exact, and O(events) instead of O(pulses), so an hour simulates fast. Recording
# goes through a preallocated ring (no allocation inside the tick); the main loop drains it.
# Longer than ~300 lines on purpose: the PIO timing, the dead man, the kill path and the
# recording all act on the same pulse in flight; apart, each would need the others' state.
#
# Small ints only on the tick's path (a 32-bit port boxes integers from 2**30 up): times are
# the clock's wrapped microseconds (clock.us30, compared with _diff); an open segment older
# than _SPLIT_US is recorded and continued as a new one; ring records carry their start as
# (wrapped ms, us within the ms), which the host unwraps when it drains them; charge is
# kept in nC plus a pC remainder; every counter wraps at 2**30.
from micropython import const

from tvns import errors as E
from tvns import safety as F

_MASK = const(0x3FFFFFFF)
_HALF = const(0x20000000)
_RING = const(256)  # segments held between two drains
_SEG = const(7)  # ring fields: start ms30, start sub-us, period, count, amp, width, gap
_GATE_RING = const(256)  # gate edges (ms30, sub-us, level) held between two drains
_SPLIT_US = const(0x8000000)  # 2**27 us (134 s): an open segment is split past this age
_NEVER_MS = const(0x100000)  # feed(): no feed needed (the tick has other deadlines first)
FEED_LEVEL = F.DEADMAN_PULSES
_GATE_MODE = const(1)  # trigger_fields.GATE
_TRAIN_MODE = const(3)  # trigger_fields.TRAIN


# Wrapped arithmetic in which no intermediate reaches 2**30 (a heap int on a 32-bit port).
def _diff(a, b):
    """a - b for wrapped values (|a - b| < 2**29)."""
    d = a - b
    if d >= _HALF:
        return d - _MASK - 1
    if d < -_HALF:
        return d + _MASK + 1
    return d


def _add(a, b):
    """(a + b) mod 2**30 for a in [0, 2**30) and b in (-2**30, 2**30)."""
    if b >= 0:
        return a + b if a <= _MASK - b else a - (_MASK - b) - 1
    return a + b if a + b >= 0 else a + b + _MASK + 1


class EdgeRing:
    """Wire edges (ms30, sub-us, level) at the clock's present time, in a preallocated ring
    (record() runs in the tick: no allocation, wrapped small ints); the main loop drains them
    as [t_us, level]. The gate wire's (SimEngine) and the marker's (sim.SimMarker)."""

    def __init__(self, clock, size=_GATE_RING):
        self._clock = clock
        self._size = size
        self._ring = [0] * (3 * size)
        self.head = 0
        self.tail = 0
        self.lost = 0  # edges overwritten before they were drained

    def record(self, level):
        clock = self._clock
        i = (self.head % self._size) * 3
        r = self._ring
        r[i] = clock.ms30
        r[i + 1] = clock.sub_us
        r[i + 2] = level
        self.head = _add(self.head, 1)
        if _diff(self.head, self.tail) > self._size:
            self.tail = _add(self.tail, 1)
            self.lost = _add(self.lost, 1)

    def drain(self, out):
        """Move recorded edges [t_us, level] into list out (main loop only)."""
        r = self._ring
        unwrap = self._clock.unwrap_us
        while self.tail != self.head:
            i = (self.tail % self._size) * 3
            out.append([unwrap(r[i], r[i + 1]), r[i + 2]])
            self.tail = _add(self.tail, 1)
        return out


class SimEngine:
    def __init__(self, clock):
        self._clock = clock
        self.width_us = 0
        self.gap_us = 0
        self.period_us = 0
        self.amp_ua = 0  # latched at each pulse start (the DAC applies between pulses)
        self._held_ua = 0  # amplitude of the last pulse of a closed segment, since the gate opened
        self.gated = False  # pulses may run (the firmware's gate, and the input where it counts)
        self.fw_gate = False  # the firmware's gate
        self.trig_mode = 0  # 0: no input; _GATE_MODE, _TRAIN_MODE (set_trigger)
        self.trig_active = 1  # the input level that is active
        self.trig_on = False  # the input is active now
        self.train_run = False  # train mode: a train runs until the gate closes
        self.armed = False  # train mode: the input was seen inactive (the PIO's `wait` 0)
        self.loaded = False  # a safe stop unloads; load() arms the engine (and the kill path)
        self.killed = False  # the kill path cut the output; cleared by load()
        self.fifo = 0  # permission while no segment is open (TX FIFO words)
        self.seg_start = 0  # us30: first pulse start of the open segment
        self.seg_permits = 0  # pulses the open segment may start (counted from seg_start)
        self.next_free = 0  # us30: earliest start of the next pulse (end of the last period)
        self._free_valid = False
        self._off_ms = -1  # last time the output went off (gate closed, stop, kill): ms30, sub
        self._off_sub = 0
        self._stop_ms = -1  # last safe stop
        self._stop_sub = 0
        self.cut_pulses = 0  # pulses cut short by stop() or kill()
        self.starved = 0  # pulses that waited for a late feed (the engine ran dry)
        self.pulses_recorded = 0
        self.charge_nc_recorded = 0  # phase charge of the recorded pulses: nC ...
        self.charge_pc_rem = 0  # ... and pC below 1 nC
        self._ring = [0] * (_RING * _SEG)
        self._head = 0
        self._tail = 0
        self.lost = 0  # segments overwritten before they were drained
        # Gate edges for the trace's gate wire (the GPIO the Pico drives and its PIO reads).
        self.gate_wire = 0  # the gate GPIO as the firmware drives it (a kill leaves it alone)
        self._gates = EdgeRing(self._clock)

    # ---- the board interface ----
    def load(self, width_us, gap_us, period_us):
        if self.fw_gate:
            raise E.TvnsError(E.BUSY, "engine.load while gated on")
        if 2 * width_us + gap_us >= period_us:
            raise E.TvnsError(E.PULSE_FIT, "pulse does not fit the period", "frequency_hz")
        self.width_us = width_us
        self.gap_us = gap_us
        self.period_us = period_us
        # As the PIO: the FIFOs are cleared, the setup words and the first permission put.
        self.fifo = FEED_LEVEL
        self.loaded = True
        self.killed = False

    def set_trigger(self, mode, active):
        """Follow the input (mode: 0 none, 1 gate, 3 train; active: its active level), as the
        PIO's triggered programs do. Main loop, before load. Returns True (it can)."""
        if self.fw_gate:
            raise E.TvnsError(E.BUSY, "engine.set_trigger while gated on")
        self.trig_mode = mode
        self.trig_active = active
        self.train_run = False
        self.armed = not self.trig_on
        return True

    def trigger_edge(self, level):
        """The input pin changed to level (0/1, before polarity), now. As the PIO's
        triggered programs (board/rp2_pio.py): in gate mode a pulse starts only while both
        the firmware's gate and the input are active (sampled between pulses, at `top`); in
        train mode an edge (inactive, then active) while the gate is open starts a train that
        runs until the gate closes, whatever the input does meanwhile. The sim board calls
        this at the edge's exact time (the PIO sees it within 1 us)."""
        on = level == self.trig_active
        if on == self.trig_on:
            return
        self.trig_on = on
        if self.trig_mode == _TRAIN_MODE:
            if not on:
                if not self.train_run:
                    self.armed = True
            elif self.armed and not self.train_run:
                self.armed = False  # the edge is taken, refused or not (the PIO's `jmp pin`)
                if self.fw_gate and self.loaded and not self.killed:
                    self.train_run = True
        self._update()

    def gate(self, on):
        if on == self.fw_gate:
            return
        self.fw_gate = on
        if not on and self.train_run:
            self.train_run = False
            if not self.trig_on:
                self.armed = True
        self._update()
        self._gate_edge(1 if on else 0)

    def _update(self):
        m = self.trig_mode
        run = self.fw_gate and (
            m == 0 or (m == _GATE_MODE and self.trig_on) or (m == _TRAIN_MODE and self.train_run)
        )
        if run != self.gated:
            self._run(run)

    def _run(self, on):
        now = self._clock.us30
        if on:
            s = now
            if self._free_valid:
                ahead = _diff(self.next_free, now)
                if 0 < ahead <= self.period_us:
                    s = self.next_free  # the previous period has not ended yet
            self.seg_start = s
            self.seg_permits = 0 if self.killed else self.fifo
            self.gated = True
        else:
            self._close(now)
            self.gated = False
            if not self.fw_gate:
                self._held_ua = 0  # OS-1 clears the hold with the firmware's gate, not the input
            self._mark_off()

    def _gate_edge(self, level):
        if level != self.gate_wire:
            self.gate_wire = level
            self._record_gate(level)

    def feed(self):
        """Top the permission up to FEED_LEVEL pulses (the tick's TX FIFO top-up). Returns the
        ms (from clock.ticks_ms()) until the next feed is due: just after the last permitted
        pulse has started (the FIFO is empty then), one period before the engine runs dry."""
        if not self.loaded or self.killed:
            return _NEVER_MS
        if not self.gated:
            self.fifo = FEED_LEVEL
            return _NEVER_MS
        clock = self._clock
        now = clock.us30
        period = self.period_us
        n = self._started(now)
        left = self.seg_permits - n
        nxt = _add(self.seg_start, n * period)  # grid start of the next pulse
        if left == 0 and _diff(now, nxt) > 0:
            # Ran dry: the PIO has been waiting at `pull` since nxt; this word releases it now.
            self._close(now)
            self.starved = _add(self.starved, 1)
            self.seg_start = now
            self.seg_permits = FEED_LEVEL
        else:
            if _diff(now, self.seg_start) > _SPLIT_US:
                self._close(now)  # keep every stored time within 2**29 us of now
                self.seg_start = nxt
                self.seg_permits = left
            self.seg_permits += FEED_LEVEL - left
        last = _add(self.seg_start, (self.seg_permits - 1) * period)
        return (clock.sub_us + _diff(last, now) + 1000) // 1000

    def set_amp(self, ua):
        # Pulses that started before now keep the old amplitude; a new segment begins with
        # the next pulse.
        if self.gated:
            now = self._clock.us30
            n = self._started(now)
            nxt = _add(self.seg_start, n * self.period_us)
            self._close(now)
            self.seg_start = nxt
            self.seg_permits = self.fifo
        self.amp_ua = ua

    def stop(self):
        """Safe stop: both phases low now. A pulse in flight is cut (fault path only)."""
        self._cut()
        self._stop_ms = self._clock.ms30
        self._stop_sub = self._clock.sub_us
        self.loaded = False
        self.fifo = 0

    def kill(self):
        """The hardware kill path (rp2: the PIO's kill machine): both phases low now, a pulse
        in flight cut, and no pulse until load() re-arms. The gate wire is the firmware's
        and stays where it was."""
        self._cut(gate_edge=False)
        self.killed = True
        self.fifo = 0

    def held_ua(self):
        """What a sample-and-hold sense (OS-1: sampled in phase A, cleared while the gate is
        low) shows now: the amplitude of the last pulse started since the gate opened, 0
        before the first. Not the setpoint: a lower one set since shows from the next pulse."""
        if not self.fw_gate:
            return 0
        if self.gated and self._started(self._clock.us30):
            return self.amp_ua
        return self._held_ua

    def sync_high(self):
        """SYNC (phase A start to phase B end of a pulse) is high now."""
        if not self.gated:
            return False
        now = self._clock.us30
        n = self._started(now)
        if n == 0:
            return False
        last = _add(self.seg_start, (n - 1) * self.period_us)
        return _diff(now, last) < 2 * self.width_us + self.gap_us

    def pulse_count(self):
        """Pulses started so far, wrapping at 2**30 (the tick's counter: tvns/trigger.py)."""
        if not self.gated:
            return self.pulses_recorded
        return _add(self.pulses_recorded, self._started(self._clock.us30))

    # ---- host side (main loop only: may allocate) ----
    def pulses(self):
        """Pulses started so far (recorded and in the open segment)."""
        n = self.pulses_recorded
        if self.gated:
            n += self._started(self._clock.us30)
        return n

    def charge_uc(self):
        """Charge delivered per phase, summed over the pulses started so far (uC). Each
        pulse delivers it twice, once each way: the net charge is 0 by construction."""
        pc = self.charge_nc_recorded * 1000 + self.charge_pc_rem
        if self.gated:
            pc += self._started(self._clock.us30) * self.amp_ua * self.width_us
        return pc / 1e6

    @property
    def last_off_us(self):
        """Absolute us of the last time the output went off (-1: never)."""
        return -1 if self._off_ms < 0 else self._clock.unwrap_us(self._off_ms, self._off_sub)

    @property
    def stopped_at_us(self):
        return -1 if self._stop_ms < 0 else self._clock.unwrap_us(self._stop_ms, self._stop_sub)

    def drain(self, out, flush=False):
        """Move recorded segments into list out as [start_us, period_us, count, amp_ua,
        width_us, gap_us] (absolute us). flush also closes the open segment at the current
        time, as if the trace ended now."""
        if flush and self.gated:
            now = self._clock.us30
            n = self._started(now)
            nxt = _add(self.seg_start, n * self.period_us)
            self._close(now)
            self.seg_start = nxt
            self.seg_permits = self.fifo
        r = self._ring
        unwrap = self._clock.unwrap_us
        while self._tail != self._head:
            i = (self._tail % _RING) * _SEG
            out.append([unwrap(r[i], r[i + 1])] + r[i + 2 : i + _SEG])
            self._tail = _add(self._tail, 1)
        return out

    def drain_gate(self, out):
        """Move recorded gate edges [t_us, level] into list out (main loop only)."""
        return self._gates.drain(out)

    @property
    def gate_lost(self):
        return self._gates.lost

    # ---- internals (tick path: small ints, no allocation) ----
    def _started(self, now):
        """Pulses of the open segment started before now (at most its permission)."""
        age = _diff(now, self.seg_start)
        if age <= 0:
            # The segment starts later (within a period), or, far back beyond the range of
            # wrapped time (no engine call for minutes while dry), used all its permission.
            return self.seg_permits if age < -_HALF // 2 else 0
        n = (age + self.period_us - 1) // self.period_us
        return n if n < self.seg_permits else self.seg_permits

    def _cut(self, gate_edge=True):
        now = self._clock.us30
        self.train_run = False
        if gate_edge:
            self.fw_gate = False
        if self.gated:
            n = self._started(now)
            last = _add(self.seg_start, (n - 1) * self.period_us)
            self._close(now)
            if n and _diff(now, last) < 2 * self.width_us + self.gap_us:
                self.cut_pulses = _add(self.cut_pulses, 1)
            self.gated = False
            self._held_ua = 0
            self._mark_off()
        if gate_edge:
            self._gate_edge(0)

    def _mark_off(self):
        self._off_ms = self._clock.ms30
        self._off_sub = self._clock.sub_us

    def _close(self, now):
        """Record the pulses of the open segment that started before now; what is left of
        its permission goes back to the FIFO."""
        n = self._started(now)
        s = self.seg_start
        self.fifo = self.seg_permits - n
        if n == 0:
            return
        self._held_ua = self.amp_ua  # the hold shows this segment's last pulse
        period = self.period_us
        self.next_free = _add(s, n * period)
        self._free_valid = True
        # The segment's start as (ms30, us within the ms), from its age (< 2**29 us).
        clock = self._clock
        tot = clock.sub_us - _diff(now, s)
        i = (self._head % _RING) * _SEG
        r = self._ring
        r[i] = _add(clock.ms30, tot // 1000)
        r[i + 1] = tot % 1000
        r[i + 2] = period
        r[i + 3] = n
        r[i + 4] = self.amp_ua
        r[i + 5] = self.width_us
        r[i + 6] = self.gap_us
        self._head = _add(self._head, 1)
        self.pulses_recorded = _add(self.pulses_recorded, n)
        q = self.amp_ua * self.width_us  # pC per phase, <= 10**7
        pc = self.charge_pc_rem + n * (q % 1000)
        self.charge_nc_recorded = _add(self.charge_nc_recorded, n * (q // 1000) + pc // 1000)
        self.charge_pc_rem = pc % 1000
        if _diff(self._head, self._tail) > _RING:
            self._tail = _add(self._tail, 1)
            self.lost = _add(self.lost, 1)

    def _record_gate(self, level):
        self._gates.record(level)
