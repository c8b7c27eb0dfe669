"""Checks of the session as a whole: no pulse outside a train (against the schedule's gate
windows and the captured gate), gate-to-pulse latency, and the session length."""

import bisect

from tvns_tools.verify.checks_train import NOT_PLACED, gate_pairs
from tvns_tools.verify.model import FAIL, PASS, ms_text, na, row, s_text, us


def run(ctx):
    return [_outside(ctx), _latency(ctx), _session(ctx)]


def _outside(ctx):
    name, label = "outside_train", "pulse outside trains"
    starts = ctx.pulses.a_rise
    exp, slack = ctx.exp, ctx.slack_ns
    if not starts:
        return na(name, label, "no pulse in the capture")
    bad = []
    how = []
    if ctx.offset_ns is not None:
        how.append("schedule ±%s" % ms_text(slack))
        bad += [t for t in starts if exp.window_of(t - ctx.offset_ns, slack) is None]
    if ctx.gate_iv is not None:
        how.append("gate")
        g = [
            (r if r is not None else ctx.cap.start_ns, f if f is not None else ctx.cap.end_ns)
            for r, f in ctx.gate_iv
        ]
        rises = [r for r, _f in g]
        lat = exp.pipeline_ns + exp.gate_latency_ns + ctx.tol(0)
        for t in starts:
            i = bisect.bisect_right(rises, t) - 1
            if i < 0 or t > g[i][1] + lat:
                bad.append(t)
    if not how:
        return na(name, label, NOT_PLACED + " and no gate captured")
    bad = sorted(set(bad))
    return row(
        name,
        label,
        FAIL if bad else PASS,
        "%d of %d" % (len(bad), len(starts)),
        "0",
        "none outside RAMP/ON",
        "; ".join(how),
        bad[0] if bad else None,
        "first at %.6f s" % (bad[0] / 1e9) if bad else "",
    )


def _latency(ctx):
    name, label = "gate_latency", "gate->pulse"
    if ctx.gate_iv is None:
        return na(name, label, "gate not captured")
    starts = ctx.pulses.a_rise
    period = ctx.exp.period_ns
    tol = ctx.tol(0) + ctx.exp.gate_latency_ns
    pipe = ctx.exp.pipeline_ns  # RMT: every pulse this long after its place (docs/ESP32.md)
    values, bad = [], []
    for r, f in gate_pairs(ctx) + [
        (r, None) for r, f in ctx.gate_iv if r is not None and f is None
    ]:
        i = bisect.bisect_left(starts, r)
        if i == len(starts) or (f is not None and starts[i] > f + pipe + tol):
            if f is None or f - r >= period // 10:
                bad.append((r, None))
            continue
        prev = starts[i - 1] if i > 0 else None
        due = (max(r, prev + period - pipe) if prev is not None else r) + pipe
        values.append(starts[i] - r)
        if not 0 <= starts[i] - due <= tol:
            bad.append((r, starts[i] - due))
    if not values and not bad:
        return na(name, label, "no gate opening in the capture")
    return row(
        name,
        label,
        FAIL if bad else PASS,
        "max %s (n=%d)" % (us(max(values), 3), len(values)) if values else "-",
        "0 (or the period end)" if not pipe else "%s (or the period end)" % us(pipe, 0),
        "",
        "<= " + us(tol, 3),
        bad[0][0] if bad else None,
        ("gate opened at %.6f s: " % (bad[0][0] / 1e9))
        + ("no pulse" if bad[0][1] is None else "pulse %s late" % us(bad[0][1], 3))
        if bad
        else "",
    )


def _session(ctx):
    name, label = "session_length", "session length"
    exp = ctx.exp
    if ctx.offset_ns is None:
        return na(name, label, NOT_PLACED)
    if ctx.ambiguous:
        return na(name, label, "the capture's trains repeat: its place in the session is ambiguous")
    if not exp.starts:
        return na(name, label, "no pulses expected")
    off, slack = ctx.offset_ns, ctx.slack_ns
    first_due = exp.starts[0] + off
    last_end_due = exp.starts[-1] + exp.pulse_ns + off
    cap = ctx.cap
    # The capture must begin before the first pulse: a wire already high at its first
    # sample (a trace cut exactly at the session start) hides that pulse's rising edge.
    p = ctx.pulses
    seen_first = bool(p.a_rise) and abs(p.a_rise[0] - first_due) <= ctx.tol(0)
    if (first_due <= cap.start_ns and not seen_first) or last_end_due > cap.end_ns:
        return na(
            name,
            label,
            "the capture covers session time %.3f..%.3f s of %g s"
            % ((cap.start_ns - off) / 1e9, (cap.end_ns - off) / 1e9, exp.session_ns / 1e9),
        )
    measured = p.b_fall[-1] - p.a_rise[0] if p.b_fall and p.b_fall[-1] else None
    expected = last_end_due - first_due
    L = ctx.limits
    tol = 2 * slack + ctx.tol(expected)
    ok = measured is not None and abs(measured - expected) <= tol
    ok = ok and measured <= min(exp.session_ns, L.SESSION_MAX_S * 1_000_000_000)
    return row(
        name,
        label,
        PASS if ok else FAIL,
        "%s first..last pulse" % (s_text(measured) if measured else "-"),
        "%s (gate shut %s)" % (s_text(expected), s_text(exp.gate_end_ns)),
        "<= %g s" % min(exp.session_ns / 1e9, L.SESSION_MAX_S),
        "±" + ms_text(tol),
        None if ok else p.a_rise[-1],
    )
