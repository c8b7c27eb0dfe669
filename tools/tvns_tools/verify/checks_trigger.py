"""Checks of a triggered protocol against the captured trigger input (trigwire.py has the
rules): in gate and train modes these replace the schedule's train checks (the input, not
the clock, places the trains); in start mode they are added to them. Caps and the marker in
every mode."""

from tvns_tools.verify import trigwire as W
from tvns_tools.verify.model import FAIL, PASS, ms_text, na, row, s_text, us

GATE, START, TRAIN = 1, 2, 3  # tvns.trigger_fields
MODES = ("none", "gate", "start", "train")


def setup(ctx, spec):
    """The trigger's wires and bursts on ctx (the checks and the plot read them)."""
    cap = ctx.cap
    ctx.trig = W.Rules(ctx, spec)
    changes = cap.digital[ctx.roles["trigger"]]
    ctx.trig_iv = W.closed(
        W.active_intervals(changes, spec.active, cap.start_ns, cap.end_ns), cap.start_ns, cap.end_ns
    )
    # rises seen in the capture (an input already active at its start has none)
    ctx.trig_rises = [r for r, _f in W.active_intervals(changes, spec.active, 0, 0) if r]
    ctx.marker_iv = ctx.wire("marker")
    starts = ctx.pulses.a_rise
    ctx.bursts = [(starts[i], starts[j]) for i, j in W.bursts(starts, ctx.trig.split)]


def run(ctx, mode):
    """Rows for a gate or train protocol (start mode: run_start)."""
    rows = [_pulses(ctx)]
    if mode == GATE:
        rows += [_gate(ctx), _gate_latency(ctx), _stop(ctx)]
    else:
        rows += [_train(ctx)]
    return rows + [_rate(ctx), _gap(ctx), _stim(ctx), _marker(ctx)]


def clip_at_cap(exp, spec):
    """start mode: the schedule as the stimulation cap leaves it. The tick closes the gate
    when it sees max_stim_s of pulses given (by default the protocol's own stim_s: the cap
    then falls on the last pulse and shuts the last train up to a tick early)."""
    cap = -(-spec.max_stim_ms * 1000 // exp.proto.period_us)
    if cap >= len(exp.starts):
        cap_t = exp.starts[cap - 1] if cap == len(exp.starts) else None
    else:
        cap_t = exp.starts[cap - 1]
        exp.starts = exp.starts[:cap]
        exp.amps = exp.amps[:cap]
    if cap_t is None:
        return
    end = cap_t + exp.tick_ms * 1_000_000
    exp.windows = [(a, min(b, end)) for a, b in exp.windows if a <= cap_t]
    if exp.windows and exp.windows[-1][1] == end:
        # the gate's fall there waits for the tick that sees the count (deadline-driven: up
        # to a period + 2 ms on): the pulses, not the gate wire, give that train's length
        exp.cap_window = len(exp.windows) - 1


def run_start(ctx):
    return [_start(ctx), _stim(ctx), _marker(ctx)]


def _gate_iv(ctx):
    if ctx.gate_iv is None:
        return None
    return W.closed(ctx.gate_iv, ctx.cap.start_ns, ctx.cap.end_ns)


def _pulses(ctx):
    n = len(ctx.pulses)
    seen = bool(ctx.trig_iv)
    ok = n > 0 or not seen
    return row(
        "pulses",
        "pulses seen",
        PASS if ok else FAIL,
        str(n),
        "> 0 (the input was active)" if seen else "0 (the input never active)",
        "",
        "",
        None if ok else ctx.trig_iv[0][0],
        "" if ok else "the input was active, no pulse came",
    )


def _gate(ctx):
    """gate: every pulse starts while the input is active (and the gate, when captured,
    is open), give or take the engine's latency."""
    name, label = "trigger_gate", "pulse with the input inactive"
    R = ctx.trig
    starts = ctx.pulses.a_rise
    if not starts:
        return na(name, label, "no pulse in the capture")
    gate = _gate_iv(ctx)
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
    gate = _gate_iv(ctx)
    if gate is not None:
        g = W.containing(gate, t0, R.tol0, R.latency + R.tol0)
        if g is not None:
            due = max(due, gate[g][0])
    if prev is not None:
        due = max(due, prev + R.period)
    return due


def _gate_latency(ctx):
    """gate: each burst starts within the latency of its due time. Without the gate wire a
    late start is accepted where the firmware's gate may have been shut: the first burst in
    view (the session's start), after the minimum gap, or at the rate cap."""
    name, label = "trigger_latency", "input edge -> burst"
    R = ctx.trig
    starts = ctx.pulses.a_rise
    gate = _gate_iv(ctx)
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
    import bisect

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


def _stop(ctx):
    """gate: a burst stops within one period of the input's inactive edge (the pulse in
    flight finishes); with the gate captured, it does not stop before it either."""
    name, label = "trigger_stop", "input off -> burst stops"
    R = ctx.trig
    starts = ctx.pulses.a_rise
    gate = _gate_iv(ctx)
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


def _train(ctx):
    """train: every train starts at an active edge and lasts on_s (the tick closes it); with
    the gate captured, every edge that found the engine waiting and the gate open started
    one."""
    import math

    name, label = "trigger_train", "one train per edge"
    R = ctx.trig
    gate = _gate_iv(ctx)
    rises = ctx.trig_rises
    bad, counts = [], []
    lo_n = max(1, math.ceil(R.on / R.period))
    hi_n = math.ceil((R.on + 2 * R.slack) / R.period)
    for k, (t0, last) in enumerate(ctx.bursts):
        import bisect

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
    import bisect

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


def _rate(ctx):
    name, label = "trigger_rate", "trains per minute"
    R = ctx.trig
    on = [b[0] for b in ctx.bursts]
    if not on:
        return na(name, label, "no burst in the capture")
    bad = []
    for k in range(R.rate, len(on)):
        if on[k] - on[k - R.rate] < W.MINUTE_NS - R.slack:
            bad.append((on[k], "%d bursts in %s up to %.6f s"
                        % (R.rate + 1, s_text(on[k] - on[k - R.rate]), on[k] / 1e9)))  # fmt: skip
    most = _most_in_a_minute(on)
    return row(
        name,
        label,
        FAIL if bad else PASS,
        "max %d in 60 s (%d bursts)" % (most, len(on)),
        "<= %d" % R.rate,
        "max_trains_per_min",
        "±" + ms_text(R.slack),
        bad[0][0] if bad else None,
        bad[0][1] if bad else "",
    )


def _most_in_a_minute(on):
    most, j = 0, 0
    for i, t in enumerate(on):
        while t - on[j] >= W.MINUTE_NS:
            j += 1
        most = max(most, i - j + 1)
    return most


def _gap(ctx):
    name, label = "trigger_gap", "gap between bursts"
    R = ctx.trig
    b = ctx.bursts
    if len(b) < 2:
        return na(name, label, "fewer than two bursts in the capture")
    want = R.min_gap + R.period - R.slack
    gaps = [(b[k + 1][0], b[k + 1][0] - b[k][1]) for k in range(len(b) - 1)]
    bad = [(t, g) for t, g in gaps if g < want]
    return row(
        name,
        label,
        FAIL if bad else PASS,
        "min %s (n=%d)" % (s_text(min(g for _t, g in gaps)), len(gaps)),
        ">= %s + one period" % s_text(R.min_gap),
        "min_gap_s",
        "-" + ms_text(R.slack),
        bad[0][0] if bad else None,
        "burst at %.6f s only %s after the last pulse before it"
        % (bad[0][0] / 1e9, s_text(bad[0][1]))
        if bad
        else "",
    )


def _stim(ctx):
    name, label = "trigger_stim", "stimulation total"
    R = ctx.trig
    n = len(ctx.pulses)
    # the cap acts at the tick: a pulse may start before the tick that sees the total
    extra = -(-(R.tick + R.slack) // R.period)
    ok = n <= R.max_pulses + extra
    return row(
        name,
        label,
        PASS if ok else FAIL,
        "%d pulses = %s" % (n, s_text(n * R.period)),
        "<= %d pulses" % R.max_pulses,
        "max_stim_s %s" % s_text(R.spec.max_stim_ms * 1_000_000),
        "+%d (tick)" % extra,
        None if ok else ctx.pulses.a_rise[R.max_pulses + extra],
        "" if ok else "%d pulses over the cap" % (n - R.max_pulses),
    )


def _marker(ctx):
    """The marker: high from the tick that sees each burst's first pulse until the tick that
    sees it has ended; never without a burst."""
    name, label = "marker", "marker"
    if ctx.marker_iv is None:
        return na(name, label, "marker not captured")
    R = ctx.trig
    cap = ctx.cap
    mk = W.closed(ctx.marker_iv, cap.start_ns, cap.end_ns)
    bad, used = [], set()
    # The tick that sees the first pulse: within 1 ms while it polls an active input, else
    # at its next deadline (at most a period + 2 ms on): the same bound as the fall.
    rise_max = R.marker_fall_max + R.tol0
    for t0, last in ctx.bursts:
        j = None
        for k, (r, _f) in enumerate(mk):
            already = k == 0 and r == cap.start_ns and t0 - r <= rise_max  # high at the start
            if t0 - R.tol0 <= r <= t0 + rise_max or already:
                j = k
                break
        if j is None:
            bad.append((t0, "burst at %.6f s: no marker rise within %s"
                        % (t0 / 1e9, ms_text(rise_max))))  # fmt: skip
            continue
        used.add(j)
        f = mk[j][1]
        if f < cap.end_ns and not last + R.period - R.tol0 <= f <= last + R.marker_fall_max:
            bad.append((f, "marker fell at %.6f s, the burst's last pulse at %.6f s"
                        % (f / 1e9, last / 1e9)))  # fmt: skip
    for k, (r, _f) in enumerate(mk):
        if k not in used and r > cap.start_ns:
            bad.append((r, "marker at %.6f s without a burst" % (r / 1e9)))
    bad.sort()
    if not ctx.bursts and not mk:
        return na(name, label, "no burst in the capture")
    return row(
        name,
        label,
        FAIL if bad else PASS,
        "%d of %d bursts marked" % (len(used), len(ctx.bursts)),
        "high from each burst's start to its end",
        "",
        "rise, fall <= %s after the first, last pulse" % ms_text(rise_max),
        bad[0][0] if bad else None,
        bad[0][1] if bad else "",
    )


def _start(ctx):
    """start: session time 0 (the capture placed by its trains) at the first active edge
    (to the tick), and no pulse before it."""
    name, label = "trigger_start", "session start at the edge"
    R = ctx.trig
    starts = ctx.pulses.a_rise
    rises = [r for r, f in ctx.trig_iv if r > ctx.cap.start_ns and f - r >= R.debounce]
    if not rises:
        return na(name, label, "no active edge in the capture")
    edge = rises[0]
    early = [t for t in starts if t < edge]
    off = ctx.offset_ns
    bad = None
    if early:
        bad = (early[0], "pulse at %.6f s before the start edge at %.6f s"
               % (early[0] / 1e9, edge / 1e9))  # fmt: skip
    elif off is None or ctx.ambiguous:
        return na(name, label, "could not place the capture in the session")
    elif not edge - R.slack <= off <= edge + R.debounce + R.tick + R.slack:
        bad = (off, "session time 0 at %.6f s, the edge at %.6f s" % (off / 1e9, edge / 1e9))
    return row(
        name,
        label,
        FAIL if bad else PASS,
        "t=0 %s after the edge" % ms_text(off - edge) if off is not None else "-",
        "0 (the tick that sees the edge)",
        "",
        "+%s" % ms_text(R.debounce + R.tick + R.slack),
        bad[0] if bad else None,
        bad[1] if bad else "",
    )
