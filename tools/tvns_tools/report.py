"""`tvns report LOG`: one report per session from a session log, with the tVNS minimum
reporting items (Farmer et al. 2021) filled from what the device logged, the safety figures
derived from the logged protocol by the firmware's own code, and an envelope plot.

What only a person can know (site, skin preparation, electrode material, anode/cathode
placement, blinding, ...) comes from an optional "meta" object in session_start (or in the
protocol) and reads NOT_RECORDED when absent: never guessed."""

import datetime
import json
import pathlib

from tvns_tools import logs
from tvns_tools.firmware import ToolError, import_firmware
from tvns_tools.sessionplot import plot

import_firmware()
from tvns import limits as L  # noqa: E402
from tvns import protocol as P  # noqa: E402

NOT_RECORDED = "not recorded"
# The reporting items, in report order: (section, item). The tests hold the report to it.
ITEMS = (
    ("Device", "Device maker"),
    ("Device", "Device model"),
    ("Device", "Board"),
    ("Device", "Firmware version"),
    ("Device", "Regulatory status"),
    ("Device", "Calibration"),
    ("Blinding", "Blinding"),
    ("Blinding", "Sham"),
    ("Blinding", "Sham type"),
    ("Blinding", "Manipulation check"),
    ("Timing", "Intended session duration"),
    ("Timing", "Actual session duration"),
    ("Timing", "End reason"),
    ("Timing", "Time of day"),
    ("Timing", "Daily dose"),
    ("Stimulation", "Stimulation site"),
    ("Stimulation", "Skin preparation"),
    ("Stimulation", "Electrode material"),
    ("Stimulation", "Electrode size and area"),
    ("Stimulation", "Current"),
    ("Stimulation", "Pulse width"),
    ("Stimulation", "Interphase gap"),
    ("Stimulation", "Frequency"),
    ("Stimulation", "Duty cycle"),
    ("Stimulation", "Ramps"),
    ("Stimulation", "Constant current or constant voltage"),
    ("Stimulation", "Waveform"),
    ("Stimulation", "Anode/cathode placement"),
    ("Safety (derived)", "Charge per phase"),
    ("Safety (derived)", "r.m.s. current"),
    ("Safety (derived)", "r.m.s. current density"),
    ("Safety (derived)", "Shannon k"),
    ("Safety (derived)", "Pulses planned"),
    ("Safety (derived)", "Pulses delivered"),
    ("Safety (derived)", "Charge delivered"),
)
# meta keys for the items only a person can know (docs/LOG-FORMAT.md lists them).
META_ITEMS = {
    "Device maker": "device_maker",
    "Device model": "device_model",
    "Regulatory status": "regulatory_status",
    "Blinding": "blinding",
    "Manipulation check": "manipulation_check",
    "Stimulation site": "site",
    "Skin preparation": "skin_preparation",
    "Electrode material": "electrode_material",
    "Anode/cathode placement": "anode_cathode",
}


def _meta(start):
    proto_meta = start.get("protocol", {}).get("meta")
    meta = dict(proto_meta) if isinstance(proto_meta, dict) else {}
    if isinstance(start.get("meta"), dict):
        meta.update(start["meta"])  # the session's own record wins over the protocol's
    return meta


def _protocol(start):
    doc = {k: v for k, v in start.get("protocol", {}).items() if k != "meta"}
    proto, errs = P.validate(doc, L.CURRENT_MAX_UA)
    if proto is None:
        raise ToolError(
            "session %s: the logged protocol does not validate (%s)"
            % (start["seq"], "; ".join(e.message for e in errs))
        )
    return proto


def _utc(unix_s):
    return datetime.datetime.fromtimestamp(unix_s, datetime.timezone.utc)


def _daily_dose(session, all_sessions):
    start, end = session["start"], session["end"]
    dur = end.get("duration_s") if end else None
    if start.get("exposure_before_s") is not None and dur is not None:
        total = start["exposure_before_s"] + dur
        return "%g s that day (%g s before this session + %g s), cap %g s" % (
            total,
            start["exposure_before_s"],
            dur,
            L.DAILY_EXPOSURE_MAX_S,
        )
    if start.get("unix_s") is None:
        return NOT_RECORDED
    day = _utc(start["unix_s"]).date()
    same = [
        s
        for s in all_sessions
        if s["start"].get("unix_s") is not None
        and _utc(s["start"]["unix_s"]).date() == day
        and s["start"]["seq"] <= start["seq"]
    ]
    done = [s["end"]["duration_s"] for s in same if s["end"] and "duration_s" in s["end"]]
    return (
        "%g s in %d session(s) on %s UTC, this log only (sessions without an end not counted)"
        % (
            sum(done),
            len(same),
            day.isoformat(),
        )
    )


def items(session, all_sessions):
    """{item: value text} for every entry of ITEMS, plus "_derived" (the firmware's figures)."""
    start, end = session["start"], session["end"]
    doc = start["protocol"]
    proto = _protocol(start)
    d = proto.derived()
    meta = _meta(start)
    out = {
        name: str(meta[key]) if key in meta else NOT_RECORDED for name, key in META_ITEMS.items()
    }
    out["Board"] = start.get("board") or NOT_RECORDED
    out["Firmware version"] = start.get("firmware_version") or NOT_RECORDED
    cal = start.get("calibration")
    out["Calibration"] = json.dumps(cal, sort_keys=True) if cal else NOT_RECORDED
    if doc.get("blinded"):
        # The allocation is not in the log (docs/BLINDING.md): only `unblind` tells it.
        out["Sham"] = "blinded (arm allocated on the device, not logged; unblind with the PIN)"
        out["Sham type"] = meta.get(
            "sham_type", "blinded sham: ramp up and straight back down, then no output"
        )
    elif doc["sham"]:
        out["Sham"] = "yes (sham protocol: same states and timing, 0 mA, no pulses)"
        out["Sham type"] = meta.get("sham_type", "0 mA at the stimulation electrodes")
    else:
        out["Sham"] = "no (active stimulation)"
        out["Sham type"] = meta.get("sham_type", NOT_RECORDED)
    out["Intended session duration"] = "%g s" % doc["session_s"]
    if end is None:
        out["Actual session duration"] = NOT_RECORDED + " (no session_end: the session was cut)"
        out["End reason"] = NOT_RECORDED + " (no session_end record)"
    else:
        dur = end.get("duration_s")
        out["Actual session duration"] = NOT_RECORDED if dur is None else "%g s" % dur
        out["End reason"] = end.get("reason") or NOT_RECORDED
    if start.get("unix_s") is not None:
        out["Time of day"] = _utc(start["unix_s"]).strftime("%H:%M:%S UTC on %Y-%m-%d")
    else:
        out["Time of day"] = meta.get("time_of_day", NOT_RECORDED)
    out["Daily dose"] = _daily_dose(session, all_sessions)
    size = meta.get("electrode_size")
    out["Electrode size and area"] = "%g cm2 (protocol electrode_area_cm2)%s" % (
        doc["electrode_area_cm2"],
        "; size: %s" % size if size else "; size: " + NOT_RECORDED,
    )
    changes = [r for r in session["events"] if r["kind"] == "amplitude"]
    out["Current"] = "%g mA peak per phase%s" % (
        doc["amplitude_ma"],
        "".join("; %g mA at %g s" % (r["amplitude_ma"], r["t_s"]) for r in changes),
    )
    out["Pulse width"] = "%d us per phase" % doc["pulse_width_us"]
    out["Interphase gap"] = "%d us" % doc["interphase_gap_us"]
    out["Frequency"] = "%g Hz (delivered %s Hz: period %d us)" % (
        doc["frequency_hz"],
        d["frequency_hz_actual"],
        d["period_us"],
    )
    out["Duty cycle"] = (
        "continuous" if doc["off_s"] == 0 else "%g s on / %g s off" % (doc["on_s"], doc["off_s"])
    )
    out["Ramps"] = "up %g s, down %g s, steps <= 0.1 mA" % (doc["ramp_up_s"], doc["ramp_down_s"])
    mode = start.get("output_mode")
    out["Constant current or constant voltage"] = (
        mode.replace("_", " ") if isinstance(mode, str) else NOT_RECORDED
    )
    out["Waveform"] = (
        "biphasic (bi-directional), symmetric rectangular, charge-balanced; no bursts "
        "(single pulses at the set frequency)"
    )
    out["Charge per phase"] = "%s uC" % d["charge_per_phase_uc"]
    out["r.m.s. current"] = "%s mA" % d["rms_current_ma"]
    out["r.m.s. current density"] = "%s mA/cm2" % d["rms_current_density_ma_cm2"]
    out["Shannon k"] = "%s (limit < %g)" % (d["shannon_k"], L.SHANNON_K_MAX_X1000 / 1000)
    out["Pulses planned"] = str(d["pulses_total"])
    got = (end or {}).get("pulses")
    out["Pulses delivered"] = NOT_RECORDED if got is None else str(got)
    q = (end or {}).get("charge_uc")
    out["Charge delivered"] = NOT_RECORDED if q is None else "%s uC per direction" % q
    out["_derived"] = d
    return out


def markdown(session, index, all_sessions, plot_name=None):
    it = items(session, all_sessions)
    start = session["start"]
    lines = [
        "## Session %d: %s (log seq %d)" % (index, start["protocol"]["name"], start["seq"]),
    ]
    section = None
    for sec, name in ITEMS:
        if sec != section:
            lines += ["", "### " + sec, "", "| item | value |", "|---|---|"]
            section = sec
        lines.append("| %s | %s |" % (name, it[name].replace("|", "/")))
    events = [r for r in session["events"] if r["kind"] in ("fault", "amplitude", "power_loss")]
    lines += ["", "### Events", ""]
    if events:
        lines += ["| seq | t (s) | kind | detail |", "|---|---|---|---|"]
        for r in events:
            detail = {k: v for k, v in r.items() if k not in ("seq", "kind", "t_s")}
            lines.append("| %d | %s | %s | %s |" % (r["seq"], r.get("t_s", ""), r["kind"], detail))
    else:
        lines.append("No faults or amplitude changes logged.")
    if plot_name:
        lines += ["", "![session %d envelope](%s)" % (index, plot_name)]
    return "\n".join(lines) + "\n"


def to_html(md_text, title):
    try:
        from markdown_it import MarkdownIt

        body = MarkdownIt("commonmark").enable("table").render(md_text)
    except ImportError:  # markdown-it-py comes with rich; if it ever does not, stay readable
        import html

        body = "<pre>%s</pre>" % html.escape(md_text)
    return (
        "<!doctype html>\n<html><head><meta charset='utf-8'><title>%s</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}"
        "</style></head><body>\n%s</body></html>\n" % (title, body)
    )


def report(log_path, session=None, out=None):
    """Markdown text for one session (1-based index; negative counts from the end) or all.
    With out (a path): also writes out.md, out.html and out-session<N>.png beside it."""
    all_sessions = logs.sessions(logs.records(log_path))
    if not all_sessions:
        raise ToolError("%s holds no session_start record" % log_path)
    picked = list(enumerate(all_sessions, 1))
    if session is not None:
        n = session if session > 0 else len(all_sessions) + 1 + session
        if not 1 <= n <= len(all_sessions):
            raise ToolError("--session %d: the log has %d sessions" % (session, len(picked)))
        picked = [picked[n - 1]]
    check = logs.check(log_path)
    head = [
        "# tVNS session report: %s" % pathlib.Path(log_path).name,
        "",
        "Log: %d valid records, %d bad lines skipped, %d torn tail bytes, %d power_loss records."
        % (check["valid"], check["bad_records"], check["torn_tail_bytes"], check["power_loss"]),
        'Items a person must supply read "%s" when the log does not carry them.' % NOT_RECORDED,
        "",
    ]
    parts = []
    for i, s in picked:
        png = None
        if out is not None:
            out_p = pathlib.Path(out)
            out_p.parent.mkdir(parents=True, exist_ok=True)
            png = "%s-session%d.png" % (out_p.stem, i)
            plot(s, i, out_p.parent / png)
        parts.append(markdown(s, i, all_sessions, png))
    text = "\n".join(head) + "\n" + "\n".join(parts)
    if out is not None:
        out_p = pathlib.Path(out)
        out_p.with_suffix(".md").write_text(text)
        out_p.with_suffix(".html").write_text(to_html(text, out_p.stem))
    return text


def cmd_report(args):
    text = report(args.log, args.session, args.out)
    if args.out is None:
        print(text, end="")
    else:
        base = pathlib.Path(args.out)
        print("wrote %s, %s" % (base.with_suffix(".md"), base.with_suffix(".html")))
    return 0
