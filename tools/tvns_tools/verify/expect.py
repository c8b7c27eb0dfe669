"""What the firmware promises for a protocol, in nanoseconds from the session start, derived
with the firmware's own code (tvns.protocol, tvns.schedule) and its timing rules
(docs/PROTOCOL-FORMAT.md "Timeline"):
- the gate opens with the ramp's first non-zero step and at every ON edge, and closes at
  every OFF edge, with the ramp down's last (0 uA) step and at the latest one pulse (rounded
  up to 1 ms) + 50 ms before the session end; a ramp down that begins in OFF opens none;
- the first pulse of a train starts when the gate opens, or when the previous period ends
  if that is later; then one pulse every period while the gate is open; a pulse in flight
  when the gate closes finishes;
- each pulse carries the amplitude set when it starts (ramps are staircases of <= 0.1 mA).
The board adds what its hardware does on top: the control tick's grid (gate and amplitude
edges up to `slack` late) and the PIO's gate-to-pulse latency; or, on a board with an
`rmt` section (the ESP32, docs/ESP32.md), the RMT engine's constant pipeline latency, and
the start skew of its channels, which lengthens the interphase gap by up to
`rmt.skew_max_us` (less `skew_comp_us`), moves phase A by as much from period to period,
and lets SYNC end that much after phase B."""

import bisect
import json

from tvns_tools.firmware import ROOT, ToolError, import_firmware

BOARDS = ROOT / "hardware" / "boards"
# rp2: the PIO sees the gate through the 2-cycle input synchroniser, then `wait` ends and
# phase A rises on the next cycle (tools/tvns_tools/pio_sim.py); the state machine's
# 5-instruction setup adds 6 cycles before the first train after a load. 8 ns cycles at
# 125 MHz: 96 ns, rounded up.
GATE_LATENCY_NS = 100


def load_board(name):
    path = BOARDS / ("%s.json" % name)
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in BOARDS.glob("*.json")))
        raise ToolError("--board %s: no hardware/boards/%s.json (known: %s)" % (name, name, known))
    with open(path) as f:
        return json.load(f)


def load_protocol(path, ceiling_ua):
    import_firmware()
    from tvns import protocol

    try:
        with open(path, "rb") as f:
            text = f.read(64 * 1024 + 1)
    except OSError as exc:
        raise ToolError("cannot read %s: %s" % (path, exc.strerror)) from exc
    proto, errs = protocol.parse(text, ceiling_ua)
    if proto is None:
        lines = ["%s: %s (%s)" % (e.field or "protocol", e.message, e.code) for e in errs]
        raise ToolError("invalid protocol %s\n  %s" % (path, "\n  ".join(lines)))
    return proto


class Expected:
    def __init__(self, proto, board, blind_sham=False):
        import_firmware()
        from tvns import limits, schedule
        from tvns.safety import END_GUARD_MS, SENSE_FLOOR_UA

        self.proto = proto
        self.limits = limits
        self.width_ns = proto.width_us * 1000
        self.gap_ns = proto.gap_us * 1000
        self.period_ns = proto.period_us * 1000
        self.pulse_ns = 2 * self.width_ns + self.gap_ns
        self.session_ns = proto.session_ms * 1_000_000
        self.gate_end_ns = schedule.gate_end_ms(proto) * 1_000_000
        self.end_guard_ms = END_GUARD_MS
        self.sense_floor_ua = SENSE_FLOOR_UA
        self.ceiling_ua = min(
            int(board.get("ceiling_ua", limits.CURRENT_MAX_UA)), limits.CURRENT_MAX_UA
        )
        self.tick_ms = int(board.get("tick_ms", 1))
        self.dead_time_ns = int(board.get("pio", {}).get("dead_time_ns", 0))
        self._board_engine(board, proto)
        self.sense_ohms = float(board.get("sense", {}).get("r_ohms", 100))
        self.sense_gain = float(board.get("sense", {}).get("amp_gain", 1))
        self.target_ua = 0 if proto.sham else proto.amplitude_ua
        self.windows = []  # [(start_ns, end_ns)] gate open
        self.amp_t = []  # ns of each delivered-amplitude change
        self.amp_v = []  # uA from then on
        self._step(schedule.Schedule(proto, blind_sham))
        self.starts, self.amps = self._pulses()
        self.ramp_up_ns = proto.ramp_up_ms * 1_000_000
        self.ramp_down_ns = (proto.session_ms - proto.ramp_down_ms) * 1_000_000

    def _board_engine(self, board, proto):
        """What the board's pulse engine adds: the PIO's latency, or the RMT's pipeline."""
        self.pipeline_ns = 0
        self.gate_latency_ns = GATE_LATENCY_NS
        self.skew_ns = 0  # RMT: channel start skew (gap, A-to-A jitter, SYNC's end)
        self.gap_lo_ns = self.gap_hi_ns = self.gap_ns
        if "rmt" not in board:
            return
        from tvns.board import esp32_rmt
        from tvns.errors import TvnsError

        try:
            cfg = esp32_rmt.read_config(board)
            lat = esp32_rmt.latency_for(cfg, proto.width_us, proto.gap_us, proto.period_us)
        except TvnsError as exc:
            raise ToolError("board rmt section: %s (%s)" % (exc.message, exc.field)) from None
        self.pipeline_ns = lat * 1000
        self.skew_ns = cfg["skew_max_us"] * 1000
        self.gate_latency_ns = self.skew_ns
        comp = cfg["skew_comp_us"] * 1000
        self.gap_lo_ns = self.gap_ns - comp
        self.gap_hi_ns = self.gap_ns + self.skew_ns - comp

    def _step(self, sch):
        """Walk the schedule from deadline to deadline, as the tick does on time."""
        t = 0
        gate_on = None
        while True:
            sch.eval(t)
            if sch.out_gate and gate_on is None:
                gate_on = t
            elif not sch.out_gate and gate_on is not None:
                self.windows.append((gate_on * 1_000_000, t * 1_000_000))
                gate_on = None
            if not self.amp_v or self.amp_v[-1] != sch.out_ua:
                self.amp_t.append(t * 1_000_000)
                self.amp_v.append(sch.out_ua)
            if t >= self.proto.session_ms:
                break
            t = sch.next_ms if sch.next_ms > t else t + 1

    def _pulses(self):
        starts, amps = [], []
        period = self.period_ns
        next_free = 0
        for a, b in self.windows:
            t = max(a, next_free)
            while t < b:
                starts.append(t)
                amps.append(self.amp_at(t))
                t += period
            next_free = t
        return starts, amps

    def visible_only(self, min_ua):
        """Keep only the pulses of at least min_ua: what a sense-voltage capture can see
        (a protocol below 0.05 mA ramps in one step to its amplitude)."""
        keep = [(t, a) for t, a in zip(self.starts, self.amps) if a >= min_ua]
        self.starts = [t for t, _a in keep]
        self.amps = [a for _t, a in keep]

    def amp_at(self, t_ns):
        i = bisect.bisect_right(self.amp_t, t_ns) - 1
        return self.amp_v[i] if i >= 0 else 0

    def window_of(self, t_ns, slack_ns):
        """Index of the gate window holding t (within slack), or None."""
        i = bisect.bisect_right(self.windows, (t_ns + slack_ns, 1 << 62)) - 1
        if i >= 0 and t_ns < self.windows[i][1] + slack_ns:
            return i
        return None
