"""Checks of the trains, once the capture is placed in the session (align.py): pulses per
train, train on and off durations and the duty cycle (checks_session.py: pulses outside
trains, gate-to-pulse latency, session length). Train edges come from the control tick,
so they get the board's tick slack; pulses within a train come from the PIO and get the
sample tolerance."""

import bisect
import math

from tvns_tools.verify.model import FAIL, PASS, ms_text, na, row, s_text

NOT_PLACED = "could not place the capture in the session (no train start in view)"


def run(ctx, m, e):
    from tvns_tools.verify import checks_session

    return [
        _per_train(ctx, m, e),
        *_on_off_duty(ctx, m, e),
        *checks_session.run(ctx),
    ]


def _window_end(ctx, t):
    exp = ctx.exp
    i = exp.window_of(t, 0)
    return exp.windows[i][1] if i is not None else t + exp.period_ns


def _per_train(ctx, m, e):
    name, label = "pulses_per_train", "pulses/train"
    if ctx.offset_ns is None:
        return na(name, label, NOT_PLACED)
    period, slack, off = ctx.exp.period_ns, ctx.slack_ns, ctx.offset_ns
    bad, seen, checked = [], set(), []
    for t in m:
        if t.match is None:
            if t.c_start:
                bad.append(
                    (t.first, "a train starts at %.6f s where none is due" % (t.first / 1e9))
                )
            continue
        seen.add(t.match)
        if not t.c_end:
            continue
        f = t.first - off
        we = _window_end(ctx, e[t.match].last)
        lo = max(1, math.ceil((we - slack - f) / period))
        hi = max(lo, math.ceil((we + slack - f) / period))
        checked.append((t.n, e[t.match].n))
        if not lo <= t.n <= hi:
            why = "train at %.6f s: %d pulses, expected %d" % (t.first / 1e9, t.n, e[t.match].n)
            bad.append((t.first, why))
    e_first = [x.first for x in e]
    lo = bisect.bisect_left(e_first, ctx.cap.start_ns - off + period * 2)
    hi = bisect.bisect_right(e_first, ctx.cap.end_ns - off - period * 2)
    for j in range(lo, hi):
        if j not in seen:
            bad.append(
                (e[j].first + off, "train due at %.6f s missing" % ((e[j].first + off) / 1e9))
            )
    bad.sort()
    if not checked and not bad:
        return na(name, label, "no whole train in the capture")
    counts = sorted({n for n, _x in checked})
    wanted = sorted({x for _n, x in checked})
    return row(
        name,
        label,
        FAIL if bad else PASS,
        "%s (%d trains)" % (" and ".join(map(str, counts)) or "-", len(checked)),
        " and ".join(map(str, wanted)) or "-",
        "",
        "±%s at ends" % ms_text(slack),
        bad[0][0] if bad else None,
        bad[0][1] if bad else "",
    )


def gate_pairs(ctx):
    """Whole gate-high intervals [(rise, fall)] in the capture."""
    return [(r, f) for r, f in (ctx.gate_iv or ()) if r is not None and f is not None]


def _on_off_duty(ctx, m, e):
    labels = (("train_on", "train on"), ("train_off", "train off"), ("duty_cycle", "duty cycle"))
    if ctx.offset_ns is None:
        return [na(n, lab, NOT_PLACED) for n, lab in labels]
    exp, slack = ctx.exp, ctx.slack_ns
    period = exp.period_ns
    tol = 2 * slack + ctx.tol(0)
    # (measured on, expected on, measured off after it or None, expected off, at): from the
    # pulses (what reaches the electrodes); the captured gate must agree as well.
    spans = _pulse_spans(m, e, period)
    gate_spans = _gate_spans(ctx) if ctx.gate_iv is not None else []
    source = "pulses" + (" + gate" if gate_spans else "")
    if not spans:
        spans, gate_spans, source = gate_spans, [], "gate"
    if not spans:
        return [na(n, lab, "no whole train in the capture") for n, lab in labels]
    p = exp.proto
    rows = []
    bad = [(at, mo, eo) for mo, eo, _a, _b, at in spans + gate_spans if abs(mo - eo) > tol]
    bad.sort()
    rows.append(
        row(
            "train_on",
            "train on",
            FAIL if bad else PASS,
            "%s (n=%d, %s)" % (_span_s(mo for mo, *_x in spans), len(spans), source),
            _span_s(eo for _m, eo, *_x in spans),
            "0.1..3600 s",
            "±" + ms_text(tol),
            bad[0][0] if bad else None,
            "train at %.6f s on %s, expected %s"
            % (bad[0][0] / 1e9, s_text(bad[0][1]), s_text(bad[0][2]))
            if bad
            else "",
        )
    )
    offs = [(mo, eo, at) for _m, _e, mo, eo, at in spans if mo is not None]
    obad = [(at, mo, eo) for mo, eo, at in offs if abs(mo - eo) > tol]
    obad += [
        (at, mo, eo) for _a, _b, mo, eo, at in gate_spans if mo is not None and abs(mo - eo) > tol
    ]
    obad.sort()
    if offs:
        rows.append(
            row(
                "train_off",
                "train off",
                FAIL if obad else PASS,
                "%s (n=%d)" % (_span_s(mo for mo, _e, _t in offs), len(offs)),
                _span_s(eo for _m, eo, _t in offs),
                "0, 0.1..3600 s",
                "±" + ms_text(tol),
                obad[0][0] if obad else None,
                "after the train at %.6f s: off %s, expected %s"
                % (obad[0][0] / 1e9, s_text(obad[0][1]), s_text(obad[0][2]))
                if obad
                else "",
            )
        )
        m_on = sum(mo for mo, _e, o, _x, _t in spans if o is not None)
        e_on = sum(eo for _m, eo, o, _x, _t in spans if o is not None)
        m_cyc = m_on + sum(mo for mo, _e, _t in offs)
        e_cyc = e_on + sum(eo for _m, eo, _t in offs)
        dtol = 100.0 * tol * 2 * len(offs) / e_cyc
        dm, de = 100.0 * m_on / m_cyc, 100.0 * e_on / e_cyc
        rows.append(
            row(
                "duty_cycle",
                "duty cycle",
                FAIL if abs(dm - de) > dtol else PASS,
                "%.3f %% (%d cycles)" % (dm, len(offs)),
                "%.3f %%" % de,
                "",
                "±%.3f %%" % dtol,
                None,  # a figure over the whole capture: no one instant
            )
        )
    else:
        why = "continuous (off_s = 0)" if not p.off_ms else "no two whole trains in a row"
        rows.append(na("train_off", "train off", why))
        rows.append(na("duty_cycle", "duty cycle", why))
    return rows


def _pulse_spans(m, e, period):
    out = []
    whole = [t for t in m if t.c_start and t.c_end and t.match is not None]
    for k, t in enumerate(whole):
        x = e[t.match]
        m_off = e_off = None
        nxt = whole[k + 1] if k + 1 < len(whole) else None
        if nxt is not None and nxt.match == t.match + 1:
            m_off = nxt.first - (t.last + period)
            e_off = e[t.match + 1].first - (x.last + period)
        out.append((t.on_ns(period), x.on_ns(period), m_off, e_off, t.first))
    return out


def _gate_spans(ctx):
    exp, off = ctx.exp, ctx.offset_ns
    out = []
    g = gate_pairs(ctx)
    for k, (r, f) in enumerate(g):
        w = exp.window_of(r - off, ctx.slack_ns)
        if w is None or w == getattr(exp, "cap_window", None):
            continue
        a, b = exp.windows[w]
        m_off = e_off = None
        if k + 1 < len(g) and w + 1 < len(exp.windows):
            m_off, e_off = g[k + 1][0] - f, exp.windows[w + 1][0] - b
        out.append((f - r, b - a, m_off, e_off, r))
    return out


def _span_s(values):
    v = list(values)
    lo, hi = min(v), max(v)
    return s_text(lo) if hi - lo < 1000 else "%s..%s" % (s_text(lo), s_text(hi))
