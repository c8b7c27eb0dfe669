"""Session logs on the host: check a log copied off the board, export it as JSON and CSV,
group it into sessions. The line format is the firmware's own (firmware/tvns/log.py, one
source of truth); docs/LOG-FORMAT.md is the contract. Nothing here writes to the log."""

import csv
import json
import pathlib
import sys

from tvns_tools.firmware import ToolError, import_firmware

import_firmware()
from tvns import log as fwlog  # noqa: E402

# CSV columns that come first, in this order; any other scalar field follows, sorted.
FIRST_COLUMNS = ("seq", "kind", "t_s", "state", "amplitude_ma", "fault", "reason")


def _need(path):
    p = pathlib.Path(path)
    if not p.is_file():
        raise ToolError("no such log file: %s" % path)
    return p


def records(path):
    """Every valid record of one log file, oldest first (bad lines skipped)."""
    try:
        return list(fwlog.read_file(str(_need(path))))
    except OSError as exc:
        raise ToolError("cannot read %s: %s" % (path, exc.strerror)) from exc


def sessions(recs):
    """Group records into sessions: [{"start": rec, "end": rec or None, "events": [recs
    between]}]. A session_start with no session_end before the next one (or the end of the
    log) was cut short: end is None, nothing is made up for it."""
    out = []
    cur = None
    titration = None  # the last titration result logged before a session (report)
    for rec in recs:
        if rec["kind"] == "titration" and rec.get("event") == "result":
            titration = rec
        if rec["kind"] == "session_start":
            cur = {"start": rec, "end": None, "events": [], "titration": titration}
            out.append(cur)
        elif cur is not None and cur["end"] is None:
            if rec["kind"] == "session_end":
                cur["end"] = rec
            else:
                cur["events"].append(rec)
    return out


def check(path):
    """{"records" (lines), "valid", "bad_records", "torn_tail_bytes", "sessions",
    "first_seq", "last_seq", "power_loss", "open_session"} for one log file."""
    s = fwlog.scan(str(_need(path)))
    recs = records(path)
    return {
        "records": s["records"],
        "valid": s["valid"],
        "bad_records": s["bad_records"],
        "torn_tail_bytes": s["torn_tail_bytes"],
        "sessions": len(sessions(recs)),
        "first_seq": recs[0]["seq"] if recs else None,
        "last_seq": s["last_seq"],
        "power_loss": sum(1 for r in recs if r["kind"] == "power_loss"),
        "open_session": s["open_session"],
    }


# A spreadsheet reads a cell that starts with one of these as a formula (CSV injection):
# =, +, -, @, and tab or carriage return before them (OWASP). Log text is data, never a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value):
    """One CSV cell. Numbers stay numbers: a JSON number (int or float, never bool) is written
    as Python prints it (`-0.5`, `1e-06`), which a spreadsheet reads as a number and never as a
    formula. Text that starts like a formula gets a leading apostrophe (`'=HYPERLINK(...)`),
    the mark spreadsheets themselves use for "this is text", even when it looks numeric
    (`"-1"` in a text field stays text). docs/LOG-FORMAT.md "CSV export"."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (dict, list)):
        value = json.dumps(value, sort_keys=True)
    value = str(value)
    if value.startswith(FORMULA_START):
        return "'" + value
    return value


def to_csv(path, out):
    """One row per record: the FIRST_COLUMNS, then every other field; nested values (the
    protocol in session_start) as JSON text in their cell."""
    recs = records(path)
    keys = set()
    for rec in recs:
        keys.update(rec)
    cols = [k for k in FIRST_COLUMNS if k in keys or k in ("seq", "kind")]
    cols += sorted(keys - set(cols))
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for rec in recs:
            w.writerow([_cell(rec.get(k)) for k in cols])
    return len(recs)


def to_json(path, out):
    """{"check": check(path), "records": [...]} as one JSON document."""
    doc = {"check": check(path), "records": records(path)}
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    return len(doc["records"])


# ---- a log from a simulated run (demos and tests; the board logs through App) ----
def log_simulation(log, result, unix_s=None, meta=None, calibration=None):
    """Append one session to a tvns.log.Log from a tvns.board.simrun.simulate() result,
    with the records App writes on a board."""
    start = {
        "protocol": result["protocol"],
        "firmware_version": result["firmware_version"],
        "board": result["board"],
        "calibration": calibration,
        "unix_s": unix_s,
        "output_mode": "constant_current",
    }
    if meta:
        start["meta"] = meta
    log.append("session_start", start)
    for t_s, state in result["states"]:
        log.append("state", {"t_s": t_s, "state": state})
    for f in result["faults"]:
        log.append("fault", {"t_s": f["t_s"], "fault": f["fault"], "latched": f["latched"]})
    # Per-direction charge: each pulse puts its phase charge in and takes it back out.
    charge_pc = sum(count * amp * width for _s, _p, count, amp, width, _g in result["segments"])
    end = {
        "t_s": result["sim_s"],
        "duration_s": result["sim_s"],
        "pulses": result["pulses"],
        "charge_uc": round(charge_pc / 1e6, 6),
        "state": result["final_state"],
        "reason": result["final_state"].lower(),
    }
    return log.append("session_end", end)


# ---- command line: `tvns logs check FILE [--json]`, `tvns logs export FILE --out DIR` ----
def cmd_logs_check(args):
    doc = check(args.file)
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        for key, value in doc.items():
            print("%-16s %s" % (key, "-" if value is None else value))
    # Exit 0 for a clean log, 3 when something was damaged (torn tail or bad lines).
    return 0 if not doc["torn_tail_bytes"] and not doc["bad_records"] else 3


def cmd_logs_export(args):
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = pathlib.Path(args.file).stem
    if not records(args.file):
        doc = check(args.file)
        raise ToolError(
            "%s holds no valid log record (%d lines, %d bad, %d torn tail bytes)"
            % (args.file, doc["records"], doc["bad_records"], doc["torn_tail_bytes"])
        )
    n = to_json(args.file, out / (stem + ".json"))
    to_csv(args.file, out / (stem + ".csv"))
    print("%d records -> %s, %s" % (n, out / (stem + ".json"), out / (stem + ".csv")))
    return 0


def cmd_logs(args):
    """The one handler for `tvns logs` in the cli's command table: dispatches on the
    subcommand (check, export, pull, events)."""
    return _SUBCOMMANDS[args.logs_cmd](args)


LOG_FILE = "log.jsonl"  # firmware/main.py LOG_FILE: the live log on the board


PAGE_TRIES = 3  # a page whose CRC does not match is asked for again, this many times


def _read_file(dev, n):
    """One log file off the device over the console protocol (`log_read` pages, each
    checked against its CRC-32), or None when it does not exist."""
    import base64
    import zlib

    from tvns_tools.device import DeviceError

    offset, size, parts = 0, None, []
    while True:
        for _ in range(PAGE_TRIES):
            try:
                r = dev.request("log_read", file=n, offset=offset)
            except DeviceError as exc:
                if exc.code == "log_unavailable":
                    raise ToolError("the device keeps no session log (%s)" % exc) from exc
                raise
            if not r["exists"]:
                return None
            data = base64.b64decode(r["data"])
            if "%08x" % (zlib.crc32(data) & 0xFFFFFFFF) == r["crc"]:
                break
        else:
            raise ToolError("log page %s@%d failed its CRC %d times" % (n, offset, PAGE_TRIES))
        if size is None:
            size = r["size"]  # the file as it was when the copy began
        parts.append(data)
        offset = r["next"]
        if not data or offset >= size:
            return b"".join(parts)[:size]


def pull_files(dev, dest):
    """Copy the session log and its rotated files from the device into dest, byte for byte,
    over the console protocol (never the raw REPL: a board's watchdog would reset it
    mid-copy); returns the local paths, oldest first."""
    dest.mkdir(parents=True, exist_ok=True)
    keep = dev.request("log_read", file=0, length=0)["keep"]
    got = []
    for n in range(keep, -1, -1):
        data = _read_file(dev, n)
        if data is None:
            continue
        target = dest / fwlog.rotated_name(LOG_FILE, n)
        target.write_bytes(data)
        got.append(target)
    if not got:
        raise ToolError("no session log (%s) on the device" % LOG_FILE)
    return got


def cmd_logs_pull(args):
    """tvns logs pull (--port P | --sim) [--out DIR]: fetch the session log, then write it as
    JSON and CSV (all files joined, oldest first) and print its check."""
    from tvns_tools.link import open_device

    out = pathlib.Path(args.out)
    dev = open_device(args)
    try:
        files = pull_files(dev, out / "device")
    finally:
        dev.close()
    joined = out / "session-log.jsonl"
    with open(joined, "wb") as f:
        for path in files:
            f.write(path.read_bytes())
    n = to_json(joined, out / "session-log.json")
    to_csv(joined, out / "session-log.csv")
    doc = check(joined)
    print(
        "%d records in %d sessions -> %s (%s, .json, .csv)" % (n, doc["sessions"], out, joined.name)
    )
    return 0


def cmd_logs_events(args):
    """tvns logs events (--port P | --sim) [--since SEQ]: the device's recent event records
    (its RAM ring, PROTOCOL.md `log`) as JSON lines."""
    from tvns_tools.link import open_device

    dev = open_device(args)
    try:
        records, last = dev.logs(args.since)
        for r in records:
            print(json.dumps(r))
        if last["lost"]:
            print("tvns: %d older records were dropped" % last["lost"], file=sys.stderr)
    finally:
        dev.close()
    return 0


_SUBCOMMANDS = {
    "check": cmd_logs_check,
    "export": cmd_logs_export,
    "pull": cmd_logs_pull,
    "events": cmd_logs_events,
}
