"""Checks of a triggered protocol against the captured trigger input (trigwire.py has the
rules): in gate and train modes these replace the schedule's train checks (the input, not
the clock, places the trains); in start mode they are added to them. Caps and the marker in
every mode."""

from tvns_tools.verify import checks_trigger_modes as M
from tvns_tools.verify import trigwire as W
from tvns_tools.verify.model import FAIL, PASS, ms_text, na, row, s_text

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
        rows += [M.gate(ctx), M.gate_latency(ctx), M.stop(ctx)]
    else:
        rows += [M.train(ctx)]
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
