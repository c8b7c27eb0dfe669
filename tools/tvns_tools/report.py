"""`tvns report LOG`: one report per session from a session log, with the tVNS minimum
reporting items (Farmer et al. 2021) filled from what the device logged, the safety figures
derived from the logged protocol by the firmware's own code, and an envelope plot.

What only a person can know (site, skin preparation, electrode material, anode/cathode
placement, blinding, ...) comes from an optional "meta" object in session_start (or in the
protocol) and reads NOT_RECORDED when absent: never guessed.

Longer than ~300 lines on purpose: the consensus items are one table read top to bottom
(items()) with the helpers that fill it; the formatting lives in reportfmt.py and sessionplot.py."""

import datetime
import json
import pathlib

from tvns_tools import logs, reportfmt
from tvns_tools.firmware import ToolError, import_firmware
from tvns_tools.sessionplot import plot

import_firmware()
from tvns import limits as L  # noqa: E402
from tvns import protocol as P  # noqa: E402

NOT_RECORDED = "not recorded"
# The reporting items, in report order: (section, item). The tests hold the report to it.
ITEMS = (
    ("Study", "Participant"),
    ("Study", "Session"),
    ("Study", "Study"),
    ("Study", "Operator"),
    ("Study", "Notes"),
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
    ("Stimulation", "Trigger"),
    ("Stimulation", "Perception threshold"),
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
# meta keys for the items only a person can know (docs/META.md lists them).
META_ITEMS = {
    "Participant": "participant_id",
    "Session": "session_id",
    "Study": "study_id",
    "Operator": "operator",
    "Notes": "notes",
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
    if isinstance(doc.get("name"), str) and not P.name_ok(doc["name"]):
        doc["name"] = "logged"  # a name from before the printable-ASCII rule: not a figure
    proto, errs = P.validate(doc, L.CURRENT_MAX_UA)
    if proto is None:
        raise ToolError(
            "session %s: the logged protocol does not validate (%s)"
            % (start["seq"], "; ".join(e.message for e in errs))
        )
    return proto


def _utc(unix_s):
    return datetime.datetime.fromtimestamp(unix_s, datetime.timezone.utc)


def _offset_s(text):
    """'+HH:MM' -> seconds east of UTC, or None."""
    if not isinstance(text, str) or len(text) != 6 or text[0] not in "+-" or text[3] != ":":
        return None
    try:
        secs = int(text[1:3]) * 3600 + int(text[4:6]) * 60
    except ValueError:
        return None
    return secs if text[0] == "+" else -secs


def _time_of_day(start, meta):
    """When the session started, from the clock the device logged: the host's (set_time,
    information only) or the investigator-confirmed one; local time when the meta gave the
    UTC offset (tvns run fills in the host's)."""
    for key, source in (
        ("unix_s", "host clock via set_time"),
        ("unix_s_confirmed", "investigator-confirmed clock"),
    ):
        t = start.get(key)
        if isinstance(t, (int, float)) and not isinstance(t, bool) and 0 < t < 1e11:
            utc = _utc(t)
            text = utc.strftime("%H:%M:%S UTC on %Y-%m-%d")
            off = _offset_s(meta.get("utc_offset"))
            if off is not None:
                local = utc + datetime.timedelta(seconds=off)
                text = "%s local (UTC%s), %s" % (
                    local.strftime("%H:%M:%S on %Y-%m-%d"),
                    meta["utc_offset"],
                    text,
                )
            return "%s (%s)" % (text, source)
    return meta.get("time_of_day", NOT_RECORDED)


def _daily_dose(session, all_sessions):
    start, end = session["start"], session["end"]
    dur = end.get("duration_s") if end else None
    if start.get("exposure_before_s") is not None and dur is not None:
        total = start["exposure_before_s"] + dur
        return (
            "%.1f min (%g s) in the last 24 h with this session (%g s before it + %g s), "
            "cap %g min"
            % (
                total / 60,
                total,
                start["exposure_before_s"],
                dur,
                L.DAILY_EXPOSURE_MAX_S / 60,
            )
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
    out["Time of day"] = _time_of_day(start, meta)
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
    out["Trigger"] = _trigger(doc, session)
    out["Perception threshold"] = _titration(session.get("titration"))
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


def _trigger(doc, session):
    """The trigger mode and what the log says it did (docs/GATING.md)."""
    trig = doc.get("trigger")
    if not trig:
        return "none (the protocol's own timing)"
    counts = {}
    for r in session["events"]:
        if r["kind"] == "trigger":
            counts[r["event"]] = counts.get(r["event"], 0) + 1
    text = (
        "%s (polarity %s, debounce %g s, min gap %g s, <= %d trains/min, <= %g s stimulation)"
        % (
            trig["mode"],
            trig.get("polarity", "high"),
            trig.get("debounce_s", 0),
            trig.get("min_gap_s", 0),
            trig.get("max_trains_per_min", 0),
            trig.get("max_stim_s", 0),
        )
    )
    text += "; %d trains/bursts" % counts.get("train", 0)
    for k in ("missing", "cap_rate", "cap_stim"):
        if counts.get(k):
            text += ", %s x%d" % (k, counts[k])
    return text


def _titration(rec):
    if rec is None:
        return NOT_RECORDED + " (no titration logged before this session)"
    if rec.get("threshold_ma") is None:
        return "no threshold: %s after %d trials (log seq %s)" % (
            rec.get("outcome"),
            len(rec.get("trials") or []),
            rec.get("seq"),
        )
    return "%g mA (%d trials, %d reversals; staircase on the device, log seq %s)" % (
        rec["threshold_ma"],
        len(rec.get("trials") or []),
        len(rec.get("reversals_ma") or []),
        rec.get("seq"),
    )


def _title(session, index):
    start = session["start"]
    name = start.get("protocol", {}).get("name", "?")
    return "Session %d: %s (log seq %s)" % (index, name, start.get("seq"))


def _sections(it):
    out, section = [], None
    for sec, name in ITEMS:
        if sec != section:
            out.append((sec, []))
            section = sec
        out[-1][1].append((name, it[name]))
    return out


def _events(session):
    rows = []
    for r in session["events"]:
        if r["kind"] in ("fault", "amplitude", "power_loss"):
            detail = {k: v for k, v in r.items() if k not in ("seq", "kind", "t_s")}
            rows.append((r["seq"], r.get("t_s", ""), r["kind"], json.dumps(detail, sort_keys=True)))
    return rows


def markdown(session, index, all_sessions, plot_name=None, extra=()):
    """One session's Markdown; every field escaped (reportfmt.md)."""
    it = items(session, all_sessions)
    return reportfmt.markdown(
        _title(session, index), _sections(it) + list(extra), _events(session), plot_name
    )


def _writable(rec):
    """Can the record be written out as UTF-8? A line whose strings hold lone surrogates (a
    MicroPython once logged names decoded from escaped non-BMP characters that way) cannot:
    it counts as a bad line, never a crash."""
    try:
        json.dumps(rec, ensure_ascii=False).encode("utf-8")
    except UnicodeError:
        return False
    return True


def report(log_path, session=None, out=None, extra=None, plot_for=None):
    """Markdown text for one session (1-based index; negative counts from the end) or all.
    With out (a path): also writes out.md, out.html (self-contained: the plots inside) and
    out-session<N>.png beside it. extra(index) -> [(section, rows)] appended to a session
    (tvns simulate adds its own); plot_for(index) -> a PNG to show instead of drawing the
    log's envelope (tvns simulate's plot)."""
    read = logs.records(log_path)
    recs = [r for r in read if _writable(r)]
    unwritable = len(read) - len(recs)
    all_sessions = logs.sessions(recs)
    if not all_sessions:
        raise ToolError("%s holds no session_start record" % log_path)
    picked = list(enumerate(all_sessions, 1))
    if session is not None:
        n = session if session > 0 else len(all_sessions) + 1 + session
        if not 1 <= n <= len(all_sessions):
            raise ToolError("--session %d: the log has %d sessions" % (session, len(picked)))
        picked = [picked[n - 1]]
    check = logs.check(log_path)
    title = "tVNS session report: %s" % pathlib.Path(log_path).name
    head = [
        "Log: %d valid records, %d bad lines skipped, %d torn tail bytes, %d power_loss records."
        % (
            check["valid"] - unwritable,
            check["bad_records"] + unwritable,
            check["torn_tail_bytes"],
            check["power_loss"],
        ),
        'Items a person must supply read "%s" when neither the log nor the study metadata '
        "(tvns run --meta) carries them." % NOT_RECORDED,
    ]
    out_p = pathlib.Path(out) if out is not None else None
    if out_p is not None:
        out_p.parent.mkdir(parents=True, exist_ok=True)
    parts, pages = [], []
    for i, s in picked:
        more = list(extra(i)) if extra else []
        png, png_path = None, None
        try:
            it = items(s, all_sessions)
            if out_p is not None:
                png_path = plot_for(i) if plot_for else None
                if png_path is None:
                    png_path = out_p.parent / ("%s-session%d.png" % (out_p.stem, i))
                    plot(s, i, png_path)
                png = pathlib.Path(png_path).name
        except ToolError as exc:  # one bad session does not take the others with it
            msg = "not reported: %s" % exc
            parts.append(reportfmt.markdown(_title(s, i), [("Problem", [("report", msg)])], []))
            pages.append({"title": _title(s, i), "sections": [("Problem", [("report", msg)])],
                          "events": []})  # fmt: skip
            continue
        sections = _sections(it) + more
        parts.append(reportfmt.markdown(_title(s, i), sections, _events(s), png))
        pages.append(
            {"title": _title(s, i), "sections": sections, "events": _events(s), "plot": png_path}
        )
    md_head = "# %s\n\n%s\n" % (reportfmt.md(title), "\n".join(reportfmt.md(x) for x in head))
    text = md_head + "\n" + "\n".join(parts)
    if out_p is not None:
        out_p.with_suffix(".md").write_text(text)
        out_p.with_suffix(".html").write_text(reportfmt.page(title, head, pages, NOT_RECORDED))
    return text


def cmd_report(args):
    text = report(args.log, args.session, args.out)
    if args.out is None:
        print(text, end="")
    else:
        base = pathlib.Path(args.out)
        print("wrote %s, %s" % (base.with_suffix(".md"), base.with_suffix(".html")))
    return 0
