# Host only: sim.SimEngine's interface (gated, amp_ua, pulses(), drain(), drain_gate(),
# cut_pulses, last_off_us) over the firmware's RMT engine (board/esp32_rmt.py) on the ESP32
# silicon model. Nothing here computes a pulse: each pulse is read back from the frames the
# engine wrote (simesp32hw.Channel.tx), cut where a stop or a chip reset took the pads
# from the RMT, and recorded as the sim board's segments [start_us, period_us, count,
# amp_ua, width_us, gap_us], the gap being what the pins show (the gap asked for plus the
# A->B channel start skew).
from tvns.board.simesp32hw import CU_PER_US

_SEG = 6


def _high(tx):
    """(rise_cu, fall_cu) of the first high run of a frame, or None."""
    start, items, _end = tx
    t = start
    rise = None
    for dur, level in items:
        if level and rise is None:
            rise = t
        elif not level and rise is not None:
            return rise, t
        t += dur
    return None if rise is None else (rise, t)


class RmtRecorder:
    def __init__(self, board):
        self._board = board
        self._fw = None
        self.width_us = 0
        self.gap_us = 0
        self.period_us = 0
        self.stopped_at_us = -1
        self.last_off_us = -1
        self.cut_pulses = 0
        self.pulses_recorded = 0
        self.charge_pc_recorded = 0
        self.committed = 0
        self.dropped = 0  # written, but a stop or reset came before the pulse started
        self.lost = 0
        self.gate_lost = 0
        self.keep_frames = False  # True: keep every frame (for the edges of a VCD)
        self._pending = []  # (ua, tx_sync, tx_a, tx_b): written, not yet recorded
        self._open = None
        self._closed = []
        self._gate = []
        self._cuts = []  # cu: a stop or reset took the pads from the RMT

    def attach(self, fw_engine):
        self._fw = fw_engine
        fw_engine.on_commit = self._on_commit

    # ---- the engine interface, forwarded ----
    @property
    def gated(self):
        return self._fw is not None and self._fw.gated

    @property
    def starved(self):
        """Pulses placed late (a feed later than the pipeline allows): the ESP32's analogue
        of the sim engine's pulses that waited for a late feed."""
        return self._fw.late if self._fw is not None else 0

    @property
    def amp_ua(self):
        dac = self._fw._dac if self._fw is not None else None
        return dac.value_ua if dac is not None else 0

    def load(self, width_us, gap_us, period_us):
        self._fw.load(width_us, gap_us, period_us)
        self.width_us, self.gap_us, self.period_us = width_us, gap_us, period_us

    def gate(self, on):
        was = self._fw.gated
        self._fw.gate(on)
        if self._fw.gated != was:
            now = self._board.clock.now_us
            self._gate.append([now, 1 if self._fw.gated else 0])
            if not self._fw.gated:
                self.last_off_us = now

    def stop(self):
        self._off()
        self._fw.stop()

    def cut(self):
        """A chip reset: the pads float from now on."""
        self._off()

    def _off(self):
        now = self._board.clock.now_us
        if self._fw.gated:
            self._gate.append([now, 0])
        if self._fw.gated or self.busy_until_us() > now:
            self.last_off_us = now
        self._cuts.append(now * CU_PER_US)
        self.stopped_at_us = now

    def feed(self, before=False):
        return self._fw.feed(before)

    def sync_high(self):
        return self._fw.sync_high()

    # ---- what the frames put on the pins ----
    def _on_commit(self, _target, ua):
        tx = [None if c is None else c._ch.tx[-1] for c in self._fw._ch]
        self._pending.append((ua, tx[0], tx[1], tx[2]))
        self.committed += 1

    def busy_until_us(self):
        if not self._pending:
            return -1
        return (self._pending[-1][3][2] + CU_PER_US - 1) // CU_PER_US

    def pulses(self):
        return self.committed - self.dropped

    def charge_uc(self):
        pc = self.charge_pc_recorded
        for ua, _s, _a, _b in self._pending:
            pc += ua * self.width_us
        return pc / 1e6

    def _cut_at(self, start_cu, end_cu):
        for c in self._cuts:
            if start_cu <= c < end_cu:
                return c
        return None

    def _record(self, rec):
        ua, _ts, ta, tb = rec
        a = _high(ta)
        b = _high(tb)
        c = self._cut_at(ta[0], tb[2])
        if c is not None and c <= a[0]:
            self.dropped += 1  # never reached the pins
            return
        if c is not None:
            self.cut_pulses += 1
        start = a[0] // CU_PER_US
        width = (a[1] - a[0]) // CU_PER_US
        gap = (b[0] - a[1]) // CU_PER_US
        self.pulses_recorded += 1
        self.charge_pc_recorded += ua * width
        seg = self._open
        if (
            seg is not None
            and seg[3] == ua
            and seg[4] == width
            and seg[5] == gap
            and start == seg[0] + seg[2] * seg[1]
        ):
            seg[2] += 1
            return
        if seg is not None:
            self._closed.append(seg)
        self._open = [start, self.period_us, 1, ua, width, gap]

    def drain(self, out, flush=False):
        """Move the recorded segments into out (main loop only); flush also records the
        pulses still in flight and closes the open segment."""
        now_cu = self._board.clock.now_us * CU_PER_US
        pending = self._pending
        i = 0
        while i < len(pending):
            rec = pending[i]
            if not flush and rec[3][2] > now_cu and self._cut_at(rec[2][0], rec[3][2]) is None:
                break
            self._record(rec)
            i += 1
        del pending[:i]
        if flush and self._open is not None:
            self._closed.append(self._open)
            self._open = None
        out.extend(self._closed)
        self._closed = []
        if not self.keep_frames:
            self._trim()
        return out

    def _trim(self):
        keep_from = self._pending[0][2][0] if self._pending else self._board.chip.now_cu()
        for ch in self._board.chip.channels:
            tx = ch.tx
            n = 0
            while n < len(tx) - 1 and tx[n][2] < keep_from:
                n += 1
            if n:
                del tx[:n]
        self._cuts = [c for c in self._cuts if c >= keep_from]

    def drain_gate(self, out):
        out.extend(self._gate)
        self._gate = []
        return out

    def wire_edges(self):
        """{wire: [(t_cu, level)]} of phase_a, phase_b, sync and gate as the pads drove them
        (needs keep_frames)."""
        pins = self._board.config["pins"]
        chip = self._board.chip
        out = {}
        for wire in ("phase_a", "phase_b", "sync", "gate"):
            if wire in pins:
                out[wire] = chip.edges(pins[wire]["gpio"])
        return out

    def result(self, origin_us):
        """The ESP32 run's own keys of simrun's result: the engine's counters, and with
        keep_frames every edge of the four wires in chip units (1/80 us) from the start."""
        fw = self._fw
        chip = self._board.chip
        out = {}
        if self.keep_frames:
            origin_cu = origin_us * CU_PER_US
            edges = {}
            for wire, seq in self.wire_edges().items():
                edges[wire] = [[t - origin_cu, lv] for t, lv in seq if t >= origin_cu]
            out["rmt_edges"] = edges
            out["rmt_cu_per_us"] = CU_PER_US
        out["rmt"] = {
            "resolution_hz": fw.cfg["resolution_hz"],
            "latency_us": fw.latency_us(),
            "entry_us": chip.entry_us,
            "skew_max_us": fw.cfg["skew_max_us"],
            "skew_comp_us": fw.cfg["skew_comp_us"],
            "pulses_written": self.committed,
            "late": fw.late,
            "deferred": fw.deferred,
            "skew_bound_us": fw.skew_bound_us,
            "skew_over": fw.skew_over,
            "blocked_us": chip.blocked_us,
            "spin_us": chip.spin_us,
            "item_buffer_grows": [ch.grows for ch in chip.channels],
        }
        return out
