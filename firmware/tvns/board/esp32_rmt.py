# The ESP32 pulse engine: MicroPython's esp32.RMT (v1.28.0, ESP-IDF 5 driver) driving
# phase A, phase B and SYNC, one RMT channel each. docs/ESP32.md has the why at length.
#
# One pulse per write. The control tick (a soft machine.Timer, every tick_ms) calls feed()
# (the board interface's dead man: docs/BOARD-INTERFACE.md); when the next pulse is due, feed
# writes exactly one biphasic pulse: a finite item list per channel, lead (low) + phase
# (high) + a 1 us tail (low). No loop mode (it has a history of bugs on every IDF), no queue
# (write_pulses blocks while its channel is transmitting, so feed only writes to idle
# channels). Hence the dead man: a CPU that stops feeding lets out at most the one pulse
# already written (the interface's bound, safety.DEADMAN_PULSES, is 2).
#
# Timing. A pulse whose model start (the sim engine's, the PIO's) is t is committed by the
# first feed at or after t and placed at t + latency_us on the RMT: every decision the tick
# makes (gate, amplitude) lands exactly where the model puts it, shifted by a constant. A
# feed later than latency_us - lead_min_us places the pulse lead_min_us from now and moves
# the grid with it: periods stretch, never shrink (the frequency never exceeds the
# protocol's). Phase widths are item durations: exact, in whole RMT ticks.
#
# Skew. Channels start one write_pulses call after the other, and nothing on the ESP32
# starts two together. A starts somewhere inside its own call; B's call begins after A's
# returned. B's lead is A's lead + width + gap - skew_comp_us, counted from B's own start,
# so B's rise is at least `gap - skew_comp` after A's fall whatever the calls cost: with
# skew_comp_us = 0 (the default) A and B can never overlap, and the gap grows by the start
# skew s (about one write_pulses call). A bench-measured skew_comp_us (never above the
# smallest skew measured) gives the gap back; skew_max_us is the bound the board promises
# (SYNC covers it; pulses whose measured bound exceeds it are counted in skew_over).
#
# Stop. stop() hands the three pins back to GPIO (Pin.init(OUT) routes the GPIO matrix to
# the plain output latch, set to 0 first): both phases low at once without touching the
# RMT (rmt_disable spins with interrupts off until a transmission ends on the ESP32 with
# IDF <= 5.5.1). load() re-creates the channels after a stop.
#
# Everything feed(), gate() and stop() run is integer-only and allocation-free once load()
# has primed the channels (write_pulses reallocates its item buffer only when it grows).
from micropython import const

from tvns import limits
from tvns.board.esp32_plan import (  # noqa: F401 - re-exported: the engine's arithmetic
    MEM_SYMBOLS,
    PULSE_MAX,
    SOURCE_HZ,
    TAIL_US,
    item_lists,
    items_for,
    latency_for,
    read_config,
    split,
    ticks_per_us,
)
from tvns.errors import OUT_OF_RANGE, TvnsError

_WRAP = const(0x3FFFFFFF)  # counters: n + 1 if n < _WRAP else 0 (never forms 2**30)
_NEVER_MS = const(0x100000)  # feed(): no feed needed (the tick has other deadlines first)


class RmtEngine:
    """The board interface's engine on three RMT channels; see the top of this module."""

    def __init__(self, machine, esp32, clock, cfg, pins, gate_pin):
        """pins: GPIO numbers (sync or None, phase_a, phase_b); gate_pin: the gate GPIO."""
        self._esp32 = esp32
        self._clock = clock
        self.cfg = cfg
        self._lead_min = cfg["lead_min_us"]
        self._comp_us = cfg["skew_comp_us"]
        self._skew_max = cfg["skew_max_us"]
        Pin = machine.Pin
        self._out = Pin.OUT
        # GPIO outputs driven low until load() hands them to the RMT. Write order: the
        # channel slots are (sync or None, phase_a, phase_b).
        self._slots = [None if g is None else Pin(g, Pin.OUT, value=0) for g in pins]
        self._pins = [p for p in self._slots if p is not None]
        self._gate = Pin(gate_pin, Pin.OUT, value=0)
        self._ch = []  # RMT channels in write order: [sync], a, b
        self._dac = None
        self.loaded = False
        self.gated = False
        self._detached = True  # pins on GPIO: the channels must be (re)created
        self.on_commit = None  # host observer (sim board, bench): fn(rise_ticks_us, ua)
        self._lat_us = 0
        self._period_us = 0
        self._commit_us = 0  # ticks_us when the next pulse is due (its model start)
        self._wg_ticks = 0  # width + gap in ticks
        self._width_us = 0
        self._tpu = 1
        self._n = None  # item counts (len S, len A, len B, lead items S, A, B)
        self._lists = None  # durations and levels for S, A, B
        self.written = 0  # pulses written (wraps at 2**30)
        self._charge_uc = 0  # phase charge written: whole uC ...
        self._charge_pc = 0  # ... and the pC below one uC (small ints in the tick)
        self.late = 0  # pulses placed late (feed later than latency - lead_min)
        self.deferred = 0  # feeds that found a channel still busy at a due pulse
        self.skew_over = 0  # pulses whose measured A->B start-skew bound exceeded skew_max
        self.skew_bound_us = 0  # the largest measured A->B start-skew bound (bench)

    def attach_dac(self, dac):
        self._dac = dac

    # ---- configuration (main loop) ----
    def load(self, width_us, gap_us, period_us):
        if not limits.WIDTH_MIN_US <= width_us <= limits.WIDTH_MAX_US:
            raise TvnsError(OUT_OF_RANGE, "width_us outside hard limits", "width_us")
        if not limits.GAP_MIN_US <= gap_us <= limits.GAP_MAX_US:
            raise TvnsError(OUT_OF_RANGE, "gap_us outside hard limits", "gap_us")
        if not 1_000_000 // limits.FREQ_MAX_HZ <= period_us <= 1_000_000 // limits.FREQ_MIN_HZ:
            raise TvnsError(OUT_OF_RANGE, "period_us outside hard limits", "period_us")
        cfg = self.cfg
        tpu = ticks_per_us(cfg["resolution_hz"], self._esp32.RMT.source_freq())
        lat = latency_for(cfg, width_us, gap_us, period_us)
        with_sync = self._slots[0] is not None
        lists = item_lists(tpu, lat, width_us, gap_us, self._skew_max, with_sync)
        self.gate(False)
        if self._detached:
            self._make_channels(cfg["resolution_hz"])
        self._n = lists[0]
        self._lists = lists[1:]
        self._tpu = tpu
        self._lat_us = lat
        self._period_us = period_us
        self._wg_ticks = (width_us + gap_us) * tpu
        self._width_us = width_us
        self._commit_us = self._clock.ticks_us()
        self._prime()
        if self._dac is not None:
            self._dac.reset_pulses()
        self.loaded = True

    def _make_channels(self, resolution_hz):
        # The old channels first: an RMT channel keeps its pin until it is deleted. deinit
        # waits for a transmission in progress (at most one pulse write, a few ms).
        for ch in self._ch:
            ch.deinit()
        self._ch = []
        RMT = self._esp32.RMT
        for pin in self._slots:
            ch = None
            if pin is not None:
                ch = RMT(pin=pin, resolution_hz=resolution_hz, idle_level=False)
            self._ch.append(ch)
        self._detached = False

    def _prime(self):
        # One all-low write of each list's length: the channel is enabled and write_pulses
        # has grown its item buffer to the size every later write uses (no allocation in
        # the tick). Lasts a few us; the pins stay low.
        for i in range(3):
            ch = self._ch[i]
            if ch is not None:
                n = self._n[i]
                ch.write_pulses([1] * n, [0] * n)

    # ---- the tick's interface (integer-only, allocation-free) ----
    def gate(self, on):
        if on:
            if not self.gated and self.loaded:
                clock = self._clock
                now = clock.ticks_us()
                # A new train starts now, or when the last period ends if it has not yet.
                if clock.ticks_diff(self._commit_us, now) < 0:
                    self._commit_us = now
                self.gated = True
                self._gate.value(1)
        else:
            # Sampled only at a commit: a pulse already written finishes (charge balance).
            self.gated = False
            self._gate.value(0)

    def pulses(self):
        """Pulses written since boot (App counts a session's from its start)."""
        return self.written

    def charge_uc(self):
        """Phase charge of the pulses written since boot, uC (main loop only: a float)."""
        return self._charge_uc + self._charge_pc / 1e6

    def latency_us(self):
        """The pipeline latency of the loaded pulse: model start to phase A."""
        return self._lat_us

    def idle(self):
        """True when no pulse is written and unfinished (the DAC may change)."""
        if self._detached:
            return True
        for ch in self._ch:
            if ch is not None and not ch.wait_done():
                return False
        return True

    def next_due_us(self):
        """ticks_us of the next pulse's commit while gated, else None (the sim board
        wakes the tick there)."""
        return self._commit_us if self.gated and self.loaded else None

    def feed(self, before=False):
        """The dead man: write the next pulse if it is due. The tick calls it after its gate
        decision (a pulse due up to now); the board's ticker also calls it just before the
        tick (before=True: only a pulse due strictly before now), so a pulse is written with
        the gate and amplitude of its own start. Returns the ms (from clock.ticks_ms()) until
        the next pulse is due: the sim board ticks there."""
        if self._detached or not self.gated:
            return _NEVER_MS
        clock = self._clock
        now = clock.ticks_us()
        due = clock.ticks_diff(now, self._commit_us)
        if due > 0 or (due == 0 and not before):
            if not self.idle():
                d = self.deferred
                self.deferred = d + 1 if d < _WRAP else 0
                return 1  # the last frame has not ended yet (a late one): the next tick
            dac = self._dac
            self._write(dac.commit_ua() if dac is not None else 0)
            due = clock.ticks_diff(clock.ticks_us(), self._commit_us)
        return (999 - due) // 1000 if due < 0 else 0

    def sync_high(self):
        """A pulse is written and unfinished (the DAC waits for the end)."""
        return not self.idle()

    def _write(self, ua):
        clock = self._clock
        tpu = self._tpu
        target = clock.ticks_add(self._commit_us, self._lat_us)
        t0 = clock.ticks_us()
        lead = clock.ticks_diff(target, t0)
        if lead < self._lead_min:  # late: place it lead_min from now, move the grid with it
            lead = self._lead_min
            target = clock.ticks_add(t0, lead)
            self._commit_us = clock.ticks_add(target, -self._lat_us)
            k = self.late
            self.late = k + 1 if k < _WRAP else 0
        n = self._n
        d_s, lv_s, d_a, lv_a, d_b, lv_b = self._lists
        ch = self._ch
        if ch[0] is not None:
            split(d_s, 0, n[3], lead * tpu)
            ch[0].write_pulses(d_s, lv_s)
            t0 = clock.ticks_us()
            lead = clock.ticks_diff(target, t0)
            if lead < 1:
                lead = 1
        split(d_a, 0, n[4], lead * tpu)
        ch[1].write_pulses(d_a, lv_a)  # A starts inside this call, after t0
        lead_b = (lead - self._comp_us) * tpu + self._wg_ticks
        if lead_b < n[5]:
            lead_b = n[5]  # later only: the gap grows, never shrinks below gap - comp
        split(d_b, 0, n[5], lead_b)
        ch[2].write_pulses(d_b, lv_b)  # B starts inside this call: after A's start
        bound = clock.ticks_diff(clock.ticks_us(), t0)  # >= B start - A start
        if bound > self.skew_bound_us:
            self.skew_bound_us = bound
        if bound > self._skew_max:
            k = self.skew_over
            self.skew_over = k + 1 if k < _WRAP else 0
        self._commit_us = clock.ticks_add(self._commit_us, self._period_us)
        k = self.written
        self.written = k + 1 if k < _WRAP else 0
        pc = self._charge_pc + ua * self._width_us  # <= 1e6 + 1e7: a small int
        if pc >= 1000000:
            uc = self._charge_uc
            if uc > _WRAP - 100:  # ~300 h at 10 mA x 1 ms x 100 Hz: start again
                uc = 0
            self._charge_uc = uc + pc // 1000000
            pc %= 1000000
        self._charge_pc = pc
        if self.on_commit is not None:
            self.on_commit(target, ua)

    def stop(self):
        # Both phases (and SYNC) low now: each pin goes back to the GPIO matrix's plain
        # output, latch set to 0 first (no glitch). The RMT may finish its write unseen.
        self.gated = False
        self._gate.value(0)
        out = self._out
        for pin in self._pins:
            pin.value(0)
            pin.init(out)
        self._detached = True
        self.loaded = False
