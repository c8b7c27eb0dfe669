"""Checks of each pulse, needing no knowledge of where the capture sits in the session:
phase widths, interphase gap, biphasic pairing, A/B overlap and dead time, SYNC, period,
jitter and drift. Each against the protocol and the hard limits (tvns.limits)."""

import bisect

from tvns_tools.verify.model import FAIL, PASS, median, na, row, span_us, us


def run(ctx):
    p = ctx.pulses
    return [
        _width(ctx, "phase_a_width", "phase A width", p.a_rise, p.a_fall),
        _width(ctx, "phase_b_width", "phase B width", p.b_rise, p.b_fall),
        _gap(ctx),
        _biphasic(ctx),
        _overlap(ctx),
        _dead_time(ctx),
        _sync(ctx),
        *_period_jitter_drift(ctx),
    ]


def _width(ctx, name, label, rises, falls):
    L = ctx.limits
    w = ctx.exp.width_ns
    tol = ctx.tol(w)
    pairs = [(r, f - r) for r, f in zip(rises, falls) if r is not None and f is not None]
    if not pairs:
        return na(name, label, "no complete %s in the capture" % label.split(" width")[0])
    lo, hi = L.WIDTH_MIN_US * 1000 - tol, L.WIDTH_MAX_US * 1000 + tol
    bad = [(t, v) for t, v in pairs if abs(v - w) > tol or not lo <= v <= hi]
    values = [v for _t, v in pairs]
    return row(
        name,
        label,
        FAIL if bad else PASS,
        "%s (n=%d)" % (span_us(values), len(values)),
        us(w, 0),
        "%d..%d us" % (L.WIDTH_MIN_US, L.WIDTH_MAX_US),
        "±" + us(tol, 3),
        bad[0][0] if bad else None,
        "%d of %d outside; first %s" % (len(bad), len(values), us(bad[0][1], 3)) if bad else "",
    )


def _gap(ctx):
    L = ctx.limits
    p = ctx.pulses
    g = ctx.exp.gap_ns
    lo, hi = ctx.exp.gap_lo_ns, ctx.exp.gap_hi_ns  # == g but on an RMT board (channel skew)
    tol = ctx.tol(g)
    pairs = [(fa, rb - fa) for fa, rb in zip(p.a_fall, p.b_rise) if rb is not None]
    if not pairs:
        return na("interphase_gap", "interphase gap", "no pulse with both phases")
    limit = L.GAP_MAX_US * 1000 + hi - g + tol
    bad = [(t, v) for t, v in pairs if not lo - tol <= v <= hi + tol or v > limit]
    values = [v for _t, v in pairs]
    return row(
        "interphase_gap",
        "interphase gap",
        FAIL if bad else PASS,
        "%s (n=%d)" % (span_us(values), len(values)),
        us(g, 0) if hi == lo else "%s..%s" % (us(lo, 0), us(hi, 0)),
        "%d..%d us" % (L.GAP_MIN_US, L.GAP_MAX_US),
        "±" + us(tol, 3),
        bad[0][0] if bad else None,
        "%d of %d outside; first %s" % (len(bad), len(values), us(bad[0][1], 3)) if bad else "",
    )


def _biphasic(ctx):
    p = ctx.pulses
    label = "A/B paired"
    if not len(p) and not p.orphan_b:
        return na("biphasic", label, "no complete pulse in the capture")
    missing = [r for r, b in zip(p.a_rise, p.b_rise) if b is None]
    bad = sorted(missing + p.orphan_b)
    detail = ""
    if bad:
        detail = "%d phase A without phase B, %d phase B without phase A; first at %.6f s" % (
            len(missing),
            len(p.orphan_b),
            bad[0] / 1e9,
        )
    return row(
        "biphasic",
        label,
        FAIL if bad else PASS,
        "%d unpaired of %d" % (len(bad), len(p)),
        "B after every A",
        "biphasic only",
        "",
        bad[0] if bad else None,
        detail,
    )


def _overlap(ctx):
    from tvns_tools.verify.edges import overlaps

    found = overlaps(ctx.a_iv, ctx.b_iv, ctx.cap.start_ns, ctx.cap.end_ns)
    return row(
        "no_overlap",
        "A/B overlap",
        FAIL if found else PASS,
        "%d overlaps%s"
        % (len(found), ", worst %s" % us(max(d for _t, d in found), 3) if found else ""),
        "0",
        "never",
        "",
        found[0][0] if found else None,
        "first at %.6f s" % (found[0][0] / 1e9) if found else "",
    )


def _dead_time(ctx):
    p = ctx.pulses
    board_ns = ctx.exp.dead_time_ns
    off_min_ns = ctx.limits.OFF_MIN_US * 1000
    ab = [(fa, rb - fa) for fa, rb in zip(p.a_fall, p.b_rise) if rb is not None]
    ba = [
        (fb, p.a_rise[i + 1] - fb)
        for i, fb in enumerate(p.b_fall[:-1])
        if fb is not None and p.a_rise[i + 1] - fb < ctx.exp.period_ns
    ]
    if not ab:
        return na("dead_time", "dead time", "no pulse with both phases")
    tol = ctx.tol(0)
    bad = [(t, v) for t, v in ab if v < board_ns - tol]
    bad += [(t, v) for t, v in ba if v < off_min_ns - ctx.tol(off_min_ns)]
    bad.sort()
    worst = min(v for _t, v in ab)
    return row(
        "dead_time",
        "dead time",
        FAIL if bad else PASS,
        "min %s" % us(worst, 3),
        ">= %d ns A->B, >= %d us B->A" % (board_ns, ctx.limits.OFF_MIN_US),
        "",
        "±" + us(tol, 3),
        bad[0][0] if bad else None,
        "first %s at %.6f s" % (us(bad[0][1], 3), bad[0][0] / 1e9) if bad else "",
    )


def _sync(ctx):
    label = "sync"
    if ctx.sync_iv is None:
        return na("sync", label, "sync not captured")
    p = ctx.pulses
    skew = ctx.exp.skew_ns  # RMT: SYNC rises with A within the skew, ends up to it after B
    tol = ctx.tol(0) + skew
    sync = [(r, f) for r, f in ctx.sync_iv if r is not None and f is not None]
    s_rises = [r for r, _f in sync]
    bad = []
    for ra, fb in zip(p.a_rise, p.b_fall):
        i = bisect.bisect_left(s_rises, ra - tol)
        ok = i < len(sync) and abs(sync[i][0] - ra) <= tol
        if not ok or fb is None or not -ctx.tol(0) <= sync[i][1] - fb <= tol:
            bad.append(ra)
    n_bad_pulses = len(bad)
    if p.a_rise:  # SYNC with no pulse under it (between the first and last pulse seen)
        for r in s_rises:
            if p.a_rise[0] <= r <= p.a_rise[-1]:
                i = bisect.bisect_left(p.a_rise, r - tol)
                if i == len(p.a_rise) or abs(p.a_rise[i] - r) > tol:
                    bad.append(r)
    bad.sort()
    return row(
        "sync",
        label,
        FAIL if bad else PASS,
        "%d/%d marked, %d stray" % (len(p) - n_bad_pulses, len(p), len(bad) - n_bad_pulses),
        "A start..B end",
        "",
        "±" + us(tol, 3),
        bad[0] if bad else None,
        "first mismatch at %.6f s" % (bad[0] / 1e9) if bad else "",
    )


def _period_jitter_drift(ctx):
    exp = ctx.exp
    period = exp.period_ns
    L = ctx.limits
    starts = ctx.pulses.a_rise
    pairs = [(b, b - a) for a, b in zip(starts, starts[1:]) if b - a <= period * 3 // 2]
    names = (("period", "period"), ("jitter", "jitter (worst)"), ("drift", "drift"))
    if not pairs:
        why = "no two pulses one period apart in the capture"
        return [na(n, label, why) for n, label in names]
    values = [v for _t, v in pairs]
    tol = ctx.tol(period) + exp.skew_ns
    lo_ns, hi_ns = 1_000_000_000 // L.FREQ_MAX_HZ, 1_000_000_000 // L.FREQ_MIN_HZ
    bad = [(t, v) for t, v in pairs if abs(v - period) > tol or not lo_ns <= v <= hi_ns]
    med = median(values)
    period_row = row(
        "period",
        "period",
        FAIL if bad else PASS,
        "%s (n=%d)" % (span_us(values), len(values)),
        "%s = %.4g Hz" % (us(period, 0), 1e9 / period),
        "%d..%d Hz" % (L.FREQ_MIN_HZ, L.FREQ_MAX_HZ),
        "±" + us(tol, 3),
        bad[0][0] if bad else None,
        "%d of %d outside; first %s" % (len(bad), len(values), us(bad[0][1], 3)) if bad else "",
    )
    # Jitter: period to period, against the capture's own median (a constant offset is
    # drift, not jitter). One sample of quantization is all a clean PIO shows; an RMT
    # board's phase A moves with its channels' start skew.
    jtol = ctx.sample_ns + ctx.extra_ns + exp.skew_ns
    dev = [(t, abs(v - med)) for t, v in pairs]
    worst_t, worst = max(dev, key=lambda x: x[1])
    jbad = [(t, d) for t, d in dev if d > jtol]
    jitter_row = row(
        "jitter",
        "jitter (worst)",
        FAIL if jbad else PASS,
        us(worst, 3),
        "0 (PIO)" if not exp.skew_ns else "<= skew (RMT)",
        "",
        "<= " + us(jtol, 3),
        jbad[0][0] if jbad else None,
        "worst at %.6f s" % (worst_t / 1e9),
    )
    # Drift: the mean period over whole trains against the protocol's, in ppm.
    spans = _train_spans(starts, period)
    n_periods = sum(n for _s, n in spans)
    total = sum(s for s, _n in spans)
    drift_ppm = (total / n_periods - period) / period * 1e6
    dtol_ppm = ctx.ppm + 1e6 * len(spans) * (ctx.sample_ns + ctx.extra_ns) / total
    drift_row = row(
        "drift",
        "drift",
        FAIL if abs(drift_ppm) > dtol_ppm else PASS,
        "%+.1f ppm (%d periods)" % (drift_ppm, n_periods),
        "0 ppm",
        "",
        "±%.1f ppm" % dtol_ppm,
        None,  # a figure over the whole capture: no one instant
    )
    return [period_row, jitter_row, drift_row]


def _train_spans(starts, period):
    """[(first-to-last ns, periods)] of each run of pulses one period apart."""
    out = []
    first = 0
    for i in range(1, len(starts) + 1):
        if i == len(starts) or starts[i] - starts[i - 1] > period * 3 // 2:
            if i - 1 > first:
                out.append((starts[i - 1] - starts[first], i - 1 - first))
            first = i
    return out
