"""The verdict: one JSON document (--json) and the same as a table a person reads in five
seconds. The keys are a contract, listed in JSON_KEYS (shown by `tvns verify --help` and
docs/VERIFY.md)."""

from tvns_tools.verify.model import FAIL, NA

JSON_KEYS = """\
JSON (--json) keys:
  verdict            "pass" or "mismatch"; exit_code 0 or 2 to match
  capture            path, format, channels {role: channel}, phases_from, start_s, end_s,
                     duration_s, sample_period_ns, sample_period_source, notes [text]
  protocol           path, name, amplitude_ma, pulse_width_us, interphase_gap_us,
                     frequency_hz, period_us, on_s, off_s, ramp_up_s, ramp_down_s, session_s,
                     trigger (the block with its defaults, or null)
  board              the --board name
  tolerances         edge_ns (one sample + file rounding), timebase_ppm, tick_slack_ms,
                     gate_latency_ns, amplitude_pct
  alignment          session_start_s (capture time of the session's t=0, or null),
                     ambiguous (bool), covers_session_s [from, to] or null
  counts             pulses, partial_pulses, trains
  checks             [{check, label, status ("pass" | "fail" | "n/a"), measured, expected,
                     limit, tolerance, first_mismatch_s, detail}]
  first_mismatch     {check, t_s, detail} of the earliest failing check, or null
  not_checked        [{check, why}]: what the capture could not show
Checks: pulses, phase_a_width, phase_b_width, interphase_gap, biphasic, no_overlap,
  dead_time, sync, period, jitter, drift, pulses_per_train, train_on, train_off,
  duty_cycle, outside_train, gate_latency, session_length, amplitude, ramp,
  charge_balance; triggered protocols (docs/VERIFY.md): trigger_gate, trigger_latency,
  trigger_stop, trigger_train, trigger_rate, trigger_gap, trigger_stim, trigger_start,
  marker."""


def build(ctx, rows, capture_path, protocol_path, board):
    cap, exp = ctx.cap, ctx.exp
    p = exp.proto.doc
    failing = [r for r in rows if r["status"] == FAIL]
    first = None
    if failing:
        timed = [r for r in failing if r["first_mismatch_s"] is not None]
        f = min(timed, key=lambda r: r["first_mismatch_s"]) if timed else failing[0]
        first = {"check": f["check"], "t_s": f["first_mismatch_s"], "detail": f["detail"]}
    off = ctx.offset_ns
    return {
        "verdict": "mismatch" if failing else "pass",
        "exit_code": 2 if failing else 0,
        "capture": {
            "path": str(capture_path),
            "format": cap.format,
            "channels": dict(ctx.roles),
            "phases_from": ctx.phases_from,
            "start_s": cap.start_ns / 1e9,
            "end_s": cap.end_ns / 1e9,
            "duration_s": cap.duration_ns() / 1e9,
            "sample_period_ns": cap.sample_ns,
            "sample_period_source": cap.sample_source,
            "notes": list(cap.notes),
        },
        "protocol": {
            "path": str(protocol_path),
            "name": p["name"],
            "amplitude_ma": p["amplitude_ma"],
            "pulse_width_us": p["pulse_width_us"],
            "interphase_gap_us": p["interphase_gap_us"],
            "frequency_hz": p["frequency_hz"],
            "period_us": exp.proto.period_us,
            "on_s": p["on_s"],
            "off_s": p["off_s"],
            "ramp_up_s": p["ramp_up_s"],
            "ramp_down_s": p["ramp_down_s"],
            "session_s": p["session_s"],
            "trigger": exp.proto.trigger.doc() if exp.proto.trigger is not None else None,
        },
        "board": board,
        "tolerances": {
            "edge_ns": ctx.tol(0),
            "timebase_ppm": ctx.ppm,
            "tick_slack_ms": ctx.slack_ns / 1e6,
            "gate_latency_ns": exp.gate_latency_ns,
            "pipeline_ns": exp.pipeline_ns,
            "amplitude_pct": ctx.amp_tol_pct,
        },
        "alignment": {
            "session_start_s": None if off is None else off / 1e9,
            "ambiguous": ctx.ambiguous,
            "covers_session_s": None
            if off is None
            else [(cap.start_ns - off) / 1e9, (cap.end_ns - off) / 1e9],
        },
        "counts": {
            "pulses": len(ctx.pulses),
            "partial_pulses": ctx.pulses.partial,
            "trains": len(ctx.trains_measured),  # bursts, for a gate or train protocol
        },
        "checks": rows,
        "first_mismatch": first,
        "not_checked": [
            {"check": r["check"], "why": r["detail"]} for r in rows if r["status"] == NA
        ],
    }


_STYLE = {"pass": "green", "fail": "bold red", "n/a": "dim"}


def print_table(doc, console=None):
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    ok = doc["verdict"] == "pass"
    cap, proto = doc["capture"], doc["protocol"]
    fails = sum(1 for r in doc["checks"] if r["status"] == FAIL)
    title = "%s: %s vs %s" % (
        "PASS" if ok else "MISMATCH, %d failed" % fails,
        cap["path"],
        proto["name"],
    )
    table = Table(title=title, title_style="bold green" if ok else "bold red", title_justify="left")
    for col, kw in (
        ("check", {}),
        ("result", {}),
        ("measured", {"overflow": "fold"}),
        ("expected", {"overflow": "fold"}),
        ("limit", {"overflow": "fold"}),
        ("tolerance", {}),
    ):
        table.add_column(col, **kw)
    order = sorted(doc["checks"], key=lambda r: {"fail": 0, "pass": 1, "n/a": 2}[r["status"]])
    for r in order:
        style = _STYLE[r["status"]]
        measured = r["measured"] if r["status"] != NA else r["detail"]
        table.add_row(
            r["label"],
            "[%s]%s[/]" % (style, r["status"].upper() if r["status"] == FAIL else r["status"]),
            measured,
            r["expected"],
            r["limit"],
            r["tolerance"],
            style="dim" if r["status"] == NA else None,
        )
    tol = doc["tolerances"]
    al = doc["alignment"]
    where = (
        "session time %.3f..%.3f s%s"
        % (*al["covers_session_s"], " (ambiguous)" if al["ambiguous"] else "")
        if al["covers_session_s"]
        else "not placed in the session"
    )
    table.caption = (
        "%s, %.6g s; sample period %.6g ns (%s); edges ±%.6g ns + %g ppm; tick slack %g ms; "
        "%s; %d pulses, %d trains"
        % (
            cap["format"],
            cap["duration_s"],
            cap["sample_period_ns"],
            cap["sample_period_source"],
            tol["edge_ns"],
            tol["timebase_ppm"],
            tol["tick_slack_ms"],
            where,
            doc["counts"]["pulses"],
            doc["counts"]["trains"],
        )
    )
    console.print(table)
    if doc["first_mismatch"]:
        f = doc["first_mismatch"]
        at = "" if f["t_s"] is None else " at %.6f s" % f["t_s"]
        console.print("[bold red]first mismatch: %s%s[/] %s" % (f["check"], at, f["detail"]))
    for note in cap["notes"]:
        console.print("[dim]note: %s[/]" % note)
