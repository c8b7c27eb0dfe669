"""The trigger input and the marker output in a capture (docs/GATING.md, docs/VERIFY.md
"Triggered protocols"): the input's active stretches after the protocol's polarity, bursts
of pulses as the firmware counts them, and the timing rules the checks hold them to.

What the firmware promises (tvns/trigger.py, board/rp2_pio.py):
- gate: the engine starts a pulse only while the input is active and the firmware's gate is
  open; it samples both between pulses, so a burst starts `latency` after the later of the
  active edge, the gate's rise and the end of the previous period, and stops after the
  pulse in flight when the input goes inactive;
- train: an edge (inactive, then active) that finds the gate open and the engine waiting
  starts one train: pulses every period until the firmware closes its gate, on_s after the
  tick that saw the first pulse; edges during a train or while the gate is shut are spent;
- start: the session's time 0 is the tick that sees the first edge (debounced);
- every mode: a burst ends when the tick finds no pulse for a period + 1 ms; the next one
  begins no sooner than min_gap_s after that, at most max_trains_per_min begin in any
  minute, and no pulse comes once max_stim_s of pulses were given;
- the marker rises at the tick that sees a burst's first pulse and falls at the tick that
  sees it has ended."""

import bisect

MINUTE_NS = 60_000_000_000


def active_intervals(changes, active, start_ns, end_ns):
    """[(rise, fall)] of the input's active stretches (level == active); rise None: active
    when the capture began, fall None: still active at its end."""
    out, rise, on = [], None, False
    for i, (t, v) in enumerate(changes):
        a = v == active
        if i == 0:
            on = a
            continue
        if a and not on:
            rise, on = t, True
        elif not a and on:
            out.append((rise, t))
            on = False
    if on:
        out.append((rise, None))
    return out


def closed(iv, start_ns, end_ns):
    """Intervals with their open ends replaced by the capture's ends."""
    return [(start_ns if r is None else r, end_ns if f is None else f) for r, f in iv]


def containing(iv, t, before=0, after=0):
    """Index of the interval [(r, f)] (closed, sorted) that holds t, with r - before and
    f + after; or None."""
    i = bisect.bisect_right(iv, (t + before, 1 << 62)) - 1
    if i >= 0 and t <= iv[i][1] + after:
        return i
    return None


def bursts(starts, split_ns):
    """[(i, j)]: runs of pulse starts no more than split_ns apart."""
    out = []
    for k, t in enumerate(starts):
        if k and t - starts[k - 1] <= split_ns:
            out[-1][1] = k
        else:
            out.append([k, k])
    return [tuple(b) for b in out]


class Rules:
    """The trigger's numbers in ns, with the capture's tolerances."""

    def __init__(self, ctx, spec):
        exp = ctx.exp
        self.spec = spec
        self.period = exp.period_ns
        self.period_ceil = -(-exp.period_ns // 1_000_000) * 1_000_000  # the tick's period_ms
        self.tick = exp.tick_ms * 1_000_000
        self.slack = ctx.slack_ns
        self.tol0 = ctx.tol(0)
        self.min_gap = spec.min_gap_ms * 1_000_000
        self.rate = spec.max_trains_per_min
        self.max_pulses = -(-spec.max_stim_ms * 1000 // exp.proto.period_us)
        self.on = exp.proto.on_ms * 1_000_000
        self.debounce = spec.debounce_ms * 1_000_000
        if exp.skew_ns or exp.pipeline_ns:
            # An RMT board (ESP32): the tick reads the input; debounce, one tick, the RMT
            # pipeline and the tick's lateness (docs/GATING.md "Timing").
            self.latency = self.debounce + self.tick + exp.pipeline_ns + exp.skew_ns + self.slack
        else:
            # rp2: the PIO waits on the pin itself (5 cycles, 40 ns); the gate's own bound.
            self.latency = exp.gate_latency_ns
        # A burst ends at the tick that finds no pulse for period_ms + 1 ms since the tick
        # that saw the last one; the ticks run on deadlines (at least every period_ms + 2 ms
        # while a burst runs), so that tick may come up to two periods + 4 ms after the last
        # pulse (+ lateness). The marker falls there; pulses further apart than that are
        # surely two bursts to the firmware too (so the caps count no burst it did not).
        self.marker_fall_max = 2 * self.period_ceil + 2 * self.tick + self.slack
        self.split = max(self.period * 3 // 2, self.marker_fall_max + self.slack)
