"""Checks of the current, when an amplitude channel is captured (a scope on the sense
resistor, converted with --sense-ohms / --sense-gain; or the simulator's amplitude_ua):
the amplitude in the trains, the ramp shape, and charge balance. Tolerance: the firmware's
own overcurrent margin (10 % of the setpoint) + its sense floor (50 uA) + 2 steps of the
capture's resolution; ramp steps may not exceed 0.1 mA + 10 uA + 2 steps of resolution."""

import bisect

from tvns_tools.verify.model import FAIL, PASS, na, row

STEP_SLACK_UA = 10  # a tenth of a ramp step: what a median over a phase still wobbles by
NAMES = (
    ("amplitude", "amplitude"),
    ("ramp", "ramp shape"),
    ("charge_balance", "charge balance"),
)


def run(ctx):
    if ctx.amp is None:
        return [na(n, lab, "no amplitude channel captured") for n, lab in NAMES]
    p = ctx.pulses
    noise_ua = 2 * ctx.amp.lsb_ua + STEP_SLACK_UA
    tol_ua = _tol_ua(ctx)
    amp_a = [ctx.amp.phase_ua(r, f) for r, f in zip(p.a_rise, p.a_fall)]
    amp_b = [ctx.amp.phase_ua(r, f) if r is not None else None for r, f in zip(p.b_rise, p.b_fall)]
    return [
        _amplitude(ctx, amp_a, tol_ua),
        _ramp(ctx, amp_a, tol_ua, noise_ua),
        _balance(ctx, amp_a, amp_b, tol_ua),
    ]


def run_triggered(ctx):
    """A gate or train protocol: the ramp steps only while pulses run (each burst starts
    where the last ended), so there is no staircase in time to compare with: the amplitude
    is held to the setpoint and the ceiling, and consecutive pulses to the ramp's step."""
    if ctx.amp is None:
        return [na(n, lab, "no amplitude channel captured") for n, lab in NAMES]
    p = ctx.pulses
    noise_ua = 2 * ctx.amp.lsb_ua + STEP_SLACK_UA
    tol_ua = _tol_ua(ctx)
    amp_a = [ctx.amp.phase_ua(r, f) for r, f in zip(p.a_rise, p.a_fall)]
    amp_b = [ctx.amp.phase_ua(r, f) if r is not None else None for r, f in zip(p.b_rise, p.b_fall)]
    return [
        _amplitude(ctx, amp_a, tol_ua),
        _steps(ctx, amp_a, noise_ua),
        _balance(ctx, amp_a, amp_b, tol_ua),
    ]


def _steps(ctx, amp_a, noise_ua):
    step_max = ctx.limits.RAMP_STEP_MAX_UA
    bad, prev, n = [], None, 0
    for t, a in zip(ctx.pulses.a_rise, amp_a):
        if a is None:
            continue
        if prev is not None:
            n += 1
            if abs(a - prev) > step_max + noise_ua:
                bad.append((t, "step of %.3f mA between pulses" % (abs(a - prev) / 1000)))
        prev = a
    if not n:
        return na("ramp", "ramp shape", "fewer than two pulses with an amplitude")
    return row(
        "ramp",
        "ramp shape",
        FAIL if bad else PASS,
        "%d steps" % n,
        "steps only while pulses run",
        "steps <= %g mA" % (step_max / 1000),
        "+%.3f mA" % (noise_ua / 1000),
        bad[0][0] if bad else None,
        ("at %.6f s: " % (bad[0][0] / 1e9)) + bad[0][1] if bad else "",
    )


def fit_function(ctx):
    """For align(): offset -> how many of up to 200 pulses carry the amplitude the schedule
    gives at that place (within the amplitude tolerance)."""
    p = ctx.pulses
    step = max(1, len(p) // 200)
    sample = [
        (p.a_rise[i], ctx.amp.phase_ua(p.a_rise[i], p.a_fall[i])) for i in range(0, len(p), step)
    ]
    tol_ua = _tol_ua(ctx)

    def fit(offset_ns):
        saved = ctx.offset_ns
        ctx.offset_ns = offset_ns
        try:
            n = 0
            for t, a in sample:
                want = _expected(ctx, t)
                if a is not None and want is not None and want[0] - tol_ua <= a <= want[1] + tol_ua:
                    n += 1
            return n
        finally:
            ctx.offset_ns = saved

    return fit


def _tol_ua(ctx):
    return ctx.amp_tol_pct / 100 * ctx.exp.target_ua + ctx.sense_floor_ua + 2 * ctx.amp.lsb_ua


def _expected(ctx, t):
    """(low, high) uA the pulse starting at capture time t may carry: the staircase value
    at t and at t - slack (a late tick applies a step late)."""
    exp = ctx.exp
    s = t - ctx.offset_ns
    i = bisect.bisect_left(exp.starts, s - ctx.slack_ns)
    if i == len(exp.starts) or abs(exp.starts[i] - s) > ctx.slack_ns:
        return None
    a, b = exp.amp_at(s), exp.amp_at(s - ctx.slack_ns)
    return min(a, b), max(a, b)


def _amplitude(ctx, amp_a, tol_ua):
    exp = ctx.exp
    L = ctx.limits
    ceiling = exp.ceiling_ua
    bad = []
    values = []
    for t, a in zip(ctx.pulses.a_rise, amp_a):
        if a is None:
            continue
        want = _expected(ctx, t) if ctx.offset_ns is not None else None
        steady = want is None or want == (exp.target_ua, exp.target_ua)
        if want is None and ctx.offset_ns is None and abs(a - exp.target_ua) <= tol_ua:
            values.append(a)  # not placed (a triggered protocol): those at the setpoint
        if a > ceiling + tol_ua:
            bad.append((t, a, "above the board ceiling"))
        elif steady and want is not None:
            values.append(a)
            if abs(a - exp.target_ua) > tol_ua:
                bad.append((t, a, "off the setpoint"))
        elif want is None and a > exp.target_ua + tol_ua:
            bad.append((t, a, "above the setpoint"))
    if not values and not bad:
        return na("amplitude", "amplitude", "no pulse at the set amplitude in view")
    return row(
        "amplitude",
        "amplitude",
        FAIL if bad else PASS,
        "%s mA (n=%d)" % (_span_ma(values), len(values)) if values else "-",
        "%g mA" % (exp.target_ua / 1000),
        "<= %g mA (board; %g abs.)" % (ceiling / 1000, L.CURRENT_MAX_UA / 1000),
        "±%.3f mA" % (tol_ua / 1000),
        bad[0][0] if bad else None,
        "%.3f mA at %.6f s (%s)" % (bad[0][1] / 1000, bad[0][0] / 1e9, bad[0][2]) if bad else "",
    )


def _ramp(ctx, amp_a, tol_ua, noise_ua):
    name, label = "ramp", "ramp shape"
    if ctx.offset_ns is None:
        return na(name, label, "could not place the capture in the session")
    exp = ctx.exp
    step_max = ctx.limits.RAMP_STEP_MAX_UA
    bad = []
    n = 0
    prev = None
    for t, a in zip(ctx.pulses.a_rise, amp_a):
        want = _expected(ctx, t)
        if a is None or want is None:
            prev = None
            continue
        if prev is not None and abs(a - prev) > step_max + noise_ua:
            bad.append((t, "step of %.3f mA between pulses" % (abs(a - prev) / 1000)))
        prev = a
        if want == (exp.target_ua, exp.target_ua):
            continue
        n += 1
        if not want[0] - tol_ua <= a <= want[1] + tol_ua:
            bad.append(
                (t, "%.3f mA where the staircase gives %.3f mA" % (a / 1000, want[1] / 1000))
            )
    if not n and not bad:
        return na(name, label, "no ramp in the capture")
    bad.sort()
    return row(
        name,
        label,
        FAIL if bad else PASS,
        "%d ramp pulses" % n,
        "0->%g mA in %g s" % (exp.target_ua / 1000, exp.proto.doc["ramp_up_s"]),
        "from 0, steps <= %g mA" % (step_max / 1000),
        "±%.3f mA" % (tol_ua / 1000),
        bad[0][0] if bad else None,
        ("at %.6f s: " % (bad[0][0] / 1e9)) + bad[0][1] if bad else "",
    )


def _balance(ctx, amp_a, amp_b, tol_ua):
    p = ctx.pulses
    bad = []
    worst = 0.0
    n = 0
    for i, (a, b) in enumerate(zip(amp_a, amp_b)):
        if a is None:
            continue
        n += 1
        qa = a * (p.a_fall[i] - p.a_rise[i]) / 1e9  # uA x s = uC
        # a missing phase B leaves phase A's whole charge in the tissue
        qb = 0.0 if b is None else b * (p.b_fall[i] - p.b_rise[i]) / 1e9
        b = b or 0.0
        net = abs(qa - qb)
        w = p.a_fall[i] - p.a_rise[i]
        allowed = (tol_ua * w + max(a, b) * ctx.tol(w)) / 1e9
        worst = max(worst, net)
        if net > allowed:
            bad.append((p.a_rise[i], net))
    if not n:
        return na("charge_balance", "charge balance", "no pulse with both phases")
    return row(
        "charge_balance",
        "charge balance",
        FAIL if bad else PASS,
        "net <= %.4f uC (n=%d)" % (worst, n),
        "0 uC",
        "balanced",
        "amp. + width tol.",
        bad[0][0] if bad else None,
        "net %.4f uC at %.6f s" % (bad[0][1], bad[0][0] / 1e9) if bad else "",
    )


def _span_ma(values):
    lo, hi = min(values) / 1000, max(values) / 1000
    return "%.3f" % lo if hi - lo < 0.0005 else "%.3f..%.3f" % (lo, hi)
