"""The mode-specific checks of a triggered protocol (checks_trigger.py runs them): gate
mode's pulses only while the input is active, its bursts' start and stop; train mode's one
train of on_s per accepted edge. Rules and tolerances: trigwire.py."""

import bisect
import math

from tvns_tools.verify import trigwire as W
from tvns_tools.verify.model import FAIL, PASS, ms_text, na, row, s_text, us


def gate_iv(ctx):
    if ctx.gate_iv is None:
        return None
    return W.closed(ctx.gate_iv, ctx.cap.start_ns, ctx.cap.end_ns)


def gate(ctx):
    """gate: every pulse starts while the input is active (and the gate, when captured,
    is open), give or take the engine's latency."""
    name, label = "trigger_gate", "pulse with the input inactive"
    R = ctx.trig
    starts = ctx.pulses.a_rise
    if not starts:
        return na(name, label, "no pulse in the capture")
    gate = gate_iv(ctx)
    slop = R.latency + R.tol0
    bad = []
    for t in starts:
        if W.containing(ctx.trig_iv, t, R.tol0, slop) is None:
            bad.append((t, "pulse at %.6f s with the input inactive" % (t / 1e9)))
        elif gate is not None and W.containing(gate, t, R.tol0, slop) is None:
            bad.append((t, "pulse at %.6f s with the gate closed" % (t / 1e9)))
    return row(
        name,
        label,
        FAIL if bad else PASS,
        "%d of %d" % (len(bad), len(starts)),
        "0",
        "pulses only while the input is active",
        "latency %s + edge" % us(R.latency, 3),
        bad[0][0] if bad else None,
        bad[0][1] if bad else "",
    )


def _due(ctx, t0, prev):
    """When the burst starting at t0 was due: the later of the input's active edge, the
    gate's rise (when captured) and the end of the previous pulse's period."""
    R = ctx.trig
    i = W.containing(ctx.trig_iv, t0, R.tol0, R.latency + R.tol0)
    due = ctx.trig_iv[i][0] if i is not None else t0
    gate = gate_iv(ctx)
    if gate is not None:
        g = W.containing(gate, t0, R.tol0, R.latency + R.tol0)
        if g is not None:
            due = max(due, gate[g][0])
    if prev is not None:
        due = max(due, prev + R.period)
    return due


def gate_latency(ctx):
    """gate: each burst starts within the latency of its due time. Without the gate wire a
    late start is accepted where the firmware's gate may have been shut: the first burst in
    view (the session's start), after the minimum gap, or at the rate cap."""
    name, label = "trigger_latency", "input edge -> burst"
    R = ctx.trig
    starts = ctx.pulses.a_rise
    gate = gate_iv(ctx)
    values, bad = [], []
    onsets = [b[0] for b in ctx.bursts]
    for k, (t0, _last) in enumerate(ctx.bursts):
        i = starts.index(t0)
        prev = starts[i - 1] if i else None
        due = _due(ctx, t0, prev)
        late = t0 - due
        if late <= R.latency + R.tol0:
            values.append(max(late, 0))
            continue
        if gate is None:
            if k == 0:
                continue
            gap_end = ctx.bursts[k - 1][1] + R.period_ceil + R.min_gap
            rate_end = onsets[k - R.rate] + W.MINUTE_NS if k >= R.rate else None
            allow = 2 * R.tick + 2 * R.slack
            if gap_end <= t0 <= gap_end + allow + R.tick:
                continue
            if rate_end is not None and rate_end <= t0 <= rate_end + allow:
                continue
        bad.append((t0, "burst at %.6f s began %s after it was due" % (t0 / 1e9, us(late, 3))))
    # An active input with the gate open (captured) and no pulse: a burst missing.
    if gate is not None:
        bad += _missing_bursts(ctx, gate)
    bad.sort()
    if not values and not bad:
        return na(name, label, "no burst start in view")
    return row(
        name,
        label,
        FAIL if bad else PASS,
        "max %s (n=%d)" % (us(max(values), 3), len(values)) if values else "-",
        "0 (or the gate's rise, or the period end)",
        "",
        "<= %s" % us(R.latency + R.tol0, 3),
        bad[0][0] if bad else None,
        bad[0][1] if bad else "",
    )


def _both(a, b):
    """Intersection of two sorted interval lists."""
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if hi > lo:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def _missing_bursts(ctx, gate):
    R = ctx.trig
    starts = ctx.pulses.a_rise
    out = []
    margin = R.latency + 2 * R.tol0 + ctx.exp.pulse_ns
    for lo, hi in _both(ctx.trig_iv, gate):
        k = bisect.bisect_left(starts, lo - R.tol0)
        prev = starts[k - 1] if k else None
        free = lo if prev is None else max(lo, prev + R.period)
        if hi - free <= margin or hi >= ctx.cap.end_ns or lo <= ctx.cap.start_ns:
            continue
        if k == len(starts) or starts[k] > hi + R.latency + R.tol0:
            out.append((lo, "input active and gate open at %.6f s: no pulse" % (lo / 1e9)))
    return out


def stop(ctx):
    """gate: a burst stops within one period of the input's inactive edge (the pulse in
    flight finishes); with the gate captured, it does not stop before it either."""
    name, label = "trigger_stop", "input off -> burst stops"
    R = ctx.trig
    starts = ctx.pulses.a_rise
    gate = gate_iv(ctx)
    bad, n = [], 0
    for r, f in ctx.trig_iv:
        if f >= ctx.cap.end_ns:
            continue
        inside = [t for t in starts if r - R.tol0 <= t <= f + ctx.exp.period_ns]
        if not inside:
            continue
        n += 1
        last = inside[-1]
        if last > f + R.latency + R.tol0:
            bad.append((last, "pulse at %.6f s, %s after the input went inactive"
                        % (last / 1e9, us(last - f, 3))))  # fmt: skip
        elif gate is not None and last + R.period < f - R.latency - R.tol0:
            g = W.containing(gate, last + R.period, R.tol0, 0)
            if g is not None and gate[g][1] > last + R.period + R.latency + R.tol0:
                bad.append((last + R.period, "burst stopped at %.6f s, the input active until "
                            "%.6f s" % ((last + R.period) / 1e9, f / 1e9)))  # fmt: skip
    if not n:
        return na(name, label, "no burst with its inactive edge in view")
    return row(
        name,
        label,
        FAIL if bad else PASS,
        "%d of %d bursts late" % (len(bad), n) if bad else "%d bursts" % n,
        "last pulse starts by the inactive edge",
        "within one period",
        "latency %s + edge" % us(R.latency, 3),
        bad[0][0] if bad else None,
        bad[0][1] if bad else "",
    )


def train(ctx):
    """train: every train starts at an active edge and lasts on_s (the tick closes it); with
    the gate captured, every edge that found the engine waiting and the gate open started
    one."""
    name, label = "trigger_train", "one train per edge"
    R = ctx.trig
    gate = gate_iv(ctx)
    rises = ctx.trig_rises
    bad, counts = [], []
    lo_n = max(1, math.ceil(R.on / R.period))
    hi_n = math.ceil((R.on + 2 * R.slack) / R.period)
    for k, (t0, last) in enumerate(ctx.bursts):
        i = bisect.bisect_right(rises, t0 + R.tol0) - 1
        if i < 0 or t0 - rises[i] > R.latency + R.tol0:
            if t0 - ctx.cap.start_ns > R.period:  # a train cut by the capture's start
                bad.append((t0, "train at %.6f s: no input edge before it" % (t0 / 1e9)))
            continue
        n = round((last - t0) / R.period) + 1
        if last + R.period >= ctx.cap.end_ns:
            continue  # cut by the capture's end
        counts.append(n)
        short_ok = False
        if gate is not None:
            g = W.containing(gate, t0, R.tol0, R.latency + R.tol0)
            if g is not None and gate[g][1] < t0 + R.on - R.tol0:
                short_ok = n == math.ceil((gate[g][1] - t0) / R.period)  # closed early
        elif k == len(ctx.bursts) - 1:
            short_ok = n < lo_n  # the last train: the session's end or the stim cap
        if not (lo_n <= n <= hi_n or short_ok):
            bad.append((t0, "train at %.6f s: %d pulses, expected %d..%d (on_s %s)"
                        % (t0 / 1e9, n, lo_n, hi_n, s_text(R.on))))  # fmt: skip
    if gate is not None:
        bad += _missed_edges(ctx, gate)
    bad.sort()
    if not counts and not bad:
        return na(name, label, "no whole train in the capture")
    return row(
        name,
        label,
        FAIL if bad else PASS,
        "%s pulses (%d trains)" % (" and ".join(map(str, sorted(set(counts)))) or "-", len(counts)),
        "%d..%d pulses from an edge" % (lo_n, hi_n),
        "",
        "edge + %s; ±%s at the end" % (us(R.latency, 3), ms_text(2 * R.slack)),
        bad[0][0] if bad else None,
        bad[0][1] if bad else "",
    )


def _missed_edges(ctx, gate):
    R = ctx.trig
    onsets = [b[0] for b in ctx.bursts]
    out = []
    for r in ctx.trig_rises:
        k = bisect.bisect_right(onsets, r + R.latency + R.tol0) - 1
        if k >= 0 and r <= ctx.bursts[k][1] + R.period + R.tol0:
            if onsets[k] >= r - R.tol0:
                continue  # this edge started it
            continue  # a train was running: the edge is spent
        g = W.containing(gate, r, -R.tol0, -(R.latency + R.tol0))
        if g is None or r + R.latency + R.period >= ctx.cap.end_ns:
            continue  # the gate was shut: the edge is spent
        out.append((r, "edge at %.6f s with the gate open: no train" % (r / 1e9)))
    return out
