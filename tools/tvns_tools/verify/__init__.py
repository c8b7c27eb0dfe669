"""`tvns verify`: check a real capture (logic analyzer or scope) against a protocol and the
hard limits. readers -> edges -> align -> checks -> report (docs/VERIFY.md)."""

from tvns_tools.verify import (
    align,
    checks_amp,
    checks_pulse,
    checks_train,
    checks_trigger,
    edges,
    readers,
)
from tvns_tools.verify.capture import Unreadable, map_roles, parse_channels
from tvns_tools.verify.expect import Expected, load_board, load_protocol
from tvns_tools.verify.model import FAIL, PASS, Ctx, na, row

__all__ = ["verify", "Unreadable"]


def verify(
    capture,
    protocol,
    board="pico",
    channels=None,
    sample_rate_hz=None,
    ppm=100.0,
    slack_ms=None,
    sense_ohms=None,
    sense_gain=None,
    amp_tol_pct=10.0,
    arm=None,
):
    """Returns (ctx, rows). ToolError (exit 1) when an input is unusable."""
    board_cfg = load_board(board)
    exp_ceiling = board_cfg.get("ceiling_ua", 10000)
    proto = load_protocol(protocol, exp_ceiling)
    exp = Expected(proto, board_cfg, blind_sham=bool(proto.blinded and arm == "sham"))
    cap = readers.read(capture, sample_rate_hz)
    roles = map_roles(cap, parse_channels(channels))
    spec = proto.trigger
    if spec is not None and "trigger" not in roles:
        raise Unreadable(
            "%s has a trigger block (mode %s) but %s has no trigger channel (channels: %s): "
            "capture the trigger input and name it with --channels trigger=NAME"
            % (protocol, checks_trigger.MODES[spec.mode], cap.path, ", ".join(cap.order))
        )
    slack_ns = int((2 * exp.tick_ms if slack_ms is None else slack_ms) * 1_000_000)
    ctx = Ctx(cap, roles, exp, ppm, slack_ns, amp_tol_pct)
    ctx.sense_ohms = exp.sense_ohms if sense_ohms is None else sense_ohms
    ctx.sense_gain = exp.sense_gain if sense_gain is None else sense_gain
    if ctx.sense_ohms <= 0 or ctx.sense_gain <= 0:
        raise Unreadable("--sense-ohms and --sense-gain must be above 0")
    if proto.blinded and arm is None:
        cap.notes.append("blinded protocol: checked as the active arm (give --arm sham otherwise)")
    _phases(ctx)
    ctx.sync_iv = ctx.wire("sync")
    ctx.gate_iv = ctx.wire("gate")
    ctx.pulses = edges.Pulses(ctx.a_iv, ctx.b_iv)
    if spec is not None:
        checks_trigger.setup(ctx, spec)
        if spec.mode != checks_trigger.START:
            return ctx, _triggered(ctx, spec)
        checks_trigger.clip_at_cap(exp, spec)
    starts = ctx.pulses.a_rise
    m = align.measured_trains(starts, exp.period_ns, cap.start_ns, cap.end_ns, ctx.gate_iv)
    e = align.expected_trains(exp)
    fit = checks_amp.fit_function(ctx) if ctx.amp is not None else None
    ctx.offset_ns, ctx.ambiguous = align.align(m, e, slack_ns, cap.start_ns, cap.end_ns, fit)
    ctx.trains_measured = m
    ctx.trains_expected = e
    rows = [_pulse_count(ctx, e)]
    if not exp.starts:
        return ctx, rows + [
            na(n, n.replace("_", " "), "sham: no pulses expected")
            for n in ("phase_a_width", "period", "pulses_per_train")
        ]
    rows += checks_pulse.run(ctx)
    rows += checks_train.run(ctx, m, e)
    rows += checks_amp.run(ctx)
    if spec is not None:
        rows += checks_trigger.run_start(ctx)
    return ctx, rows


def _triggered(ctx, spec):
    """Gate and train modes: the input, not the clock, places the bursts, so the schedule's
    train checks give way to the trigger's (checks_trigger.py); each pulse is checked as
    always, and the amplitude against the setpoint and the ramp's step."""
    ctx.trains_measured = ctx.bursts
    ctx.trains_expected = []
    rows = checks_trigger.run(ctx, spec.mode)
    rows[1:1] = checks_pulse.run(ctx)
    return rows + checks_amp.run_triggered(ctx)


def _phases(ctx):
    cap, roles, exp = ctx.cap, ctx.roles, ctx.exp
    sense = roles.get("sense")
    if sense is not None:
        times, values = cap.analog[sense]
        exact = cap.units[sense] == "uA"
        k = 1.0 if exact else 1e6 / (ctx.sense_ohms * ctx.sense_gain)  # volts -> uA
        ctx.amp = edges.Amplitude(times, values, k, exact)
    if "phase_a" in roles:
        ctx.a_iv = ctx.wire("phase_a")
        ctx.b_iv = ctx.wire("phase_b")
        ctx.phases_from = "digital %s, %s" % (roles["phase_a"], roles["phase_b"])
        return
    if cap.units[sense] != "V":
        raise Unreadable("no phase_a/phase_b channels, and %s is not a waveform" % sense)
    # Half a ramp step above zero: the smallest current the firmware steps by.
    thr = exp.limits.RAMP_STEP_MAX_UA / 2 / ctx.amp.k
    ctx.a_iv, ctx.b_iv = edges.phases_from_analog(*cap.analog[sense], thr, exp.width_ns)
    ctx.phases_from = "analog %s above %.4g V (0.05 mA)" % (sense, thr)
    exp.visible_only(exp.limits.RAMP_STEP_MAX_UA // 2)
    cap.notes.append(
        "phases taken from the sense voltage: pulses below 0.05 mA (an amplitude that small) "
        "are not seen; capture phase_a/phase_b digitally for timing"
    )


def _pulse_count(ctx, e):
    """Pulses seen against what is due: none for a sham; the exact total when the capture
    holds the whole session; otherwise at least one."""
    exp, cap = ctx.exp, ctx.cap
    n = len(ctx.pulses)
    label = "pulses seen"
    if not exp.starts:
        return row(
            "pulses",
            label,
            FAIL if n or ctx.pulses.partial else PASS,
            str(n),
            "0 (sham: same timing, no output)",
            "",
            "",
            ctx.pulses.a_rise[0] if n else None,
        )
    off = ctx.offset_ns
    whole = (
        off is not None
        and not ctx.ambiguous
        and (
            off + exp.starts[0] > cap.start_ns
            or (n and abs(ctx.pulses.a_rise[0] - off - exp.starts[0]) <= ctx.tol(0))
        )
        and off + exp.starts[-1] + exp.pulse_ns <= cap.end_ns
    )
    if whole:
        total = len(exp.starts)
        ok = abs(n - total) <= len(e)  # a late tick may add or drop one pulse per train
        return row(
            "pulses",
            label,
            PASS if ok else FAIL,
            str(n),
            "%d (the whole session)" % total,
            "",
            "± 1 per train (tick slack)" if n != total else "",
            None,
            "" if ok else "%+d pulses" % (n - total),
        )
    return row(
        "pulses",
        label,
        PASS if n else FAIL,
        str(n),
        "> 0 (the capture covers part of the session)",
        "",
        "",
        None if n else cap.start_ns,
        "" if n else "no complete pulse in the capture",
    )
