"""A protocol file on the host, read and judged before anything reaches a device: the
firmware's own validator (the board gives the same verdict), plus what only the host adds to
its errors, because it has the room: the unit and the allowed range of the field, a hint
where a value looks like a unit slip (0.25 in `pulse_width_us` is milliseconds typed), "did
you mean" for a misspelt field name, and warnings for valid values that are rarely meant
(`session_s: 30`). The error codes are the firmware's, unchanged."""

import difflib
import json
import pathlib

from tvns_tools.firmware import ROOT, ToolError, import_firmware

READ_MAX = 64 * 1024  # more than the 4096-byte limit: the validator names the size

# field -> (unit, lo, hi) in the field's own unit; lo/hi None: from limits at run time.
UNITS = {
    "amplitude_ma": ("mA", 0.001, None),
    "pulse_width_us": ("us per phase", 20, 1000),
    "interphase_gap_us": ("us", 0, 100),
    "frequency_hz": ("Hz", 1, 100),
    "on_s": ("s", 0.1, 3600),
    "off_s": ("s", 0.1, 3600),
    "ramp_up_s": ("s", 1, 600),
    "ramp_down_s": ("s", 1, 600),
    "session_s": ("s", 2, 3600),
    "keepalive_s": ("s", 0.5, 60),
    "electrode_area_cm2": ("cm2", 0.01, 100),
}
ZERO_MEANS = {"off_s": "continuous", "keepalive_s": "off"}


def _limits():
    import_firmware()
    from tvns import limits as L

    return L


def _num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def range_text(field, ceiling_ua=None):
    unit, lo, hi = UNITS[field]
    if field == "amplitude_ma":
        hi = (ceiling_ua if ceiling_ua is not None else _limits().CURRENT_MAX_UA) / 1000
    zero = ("0 (%s) or " % ZERO_MEANS[field]) if field in ZERO_MEANS else ""
    return "%s, allowed %s%g..%g" % (unit, zero, lo, hi)


def slip(field, value, ceiling_ua=None):
    """A hint when value looks like the right number in the wrong unit, else None."""
    if not _num(value):
        return None
    unit, lo, hi = UNITS.get(field, (None, None, None))
    if unit is None:
        return None
    if field == "amplitude_ma":
        hi = (ceiling_ua if ceiling_ua is not None else _limits().CURRENT_MAX_UA) / 1000
    if field in ("pulse_width_us", "interphase_gap_us") and 0 < value < 1:
        if lo <= value * 1000 <= hi:
            return "%g looks like milliseconds: %g ms = %g us" % (value, value, value * 1000)
    if field == "amplitude_ma" and value > hi and lo <= value / 1000 <= hi:
        return "%g looks like microamps: %g uA = %g mA" % (value, value, value / 1000)
    if field == "session_s" and 0 < value < 120 and value * 60 <= hi:
        return "%g s is %g min; if you meant %g minutes, write session_s: %g" % (
            value,
            value / 60,
            value,
            value * 60,
        )
    if field in ("ramp_up_s", "ramp_down_s", "on_s", "off_s") and value > hi:
        if lo <= value / 1000 <= hi:
            return "%g looks like milliseconds: %g ms = %g s" % (value, value, value / 1000)
    if field == "electrode_area_cm2" and value > hi and lo <= value / 100 <= hi:
        return "%g looks like mm2: %g mm2 = %g cm2" % (value, value, value / 100)
    return None


def _known_fields():
    import_firmware()
    from tvns import protocol

    return [n for n, _k in protocol.FIELDS] + [n for n, _k in protocol.OPTIONAL_FIELDS]


def teach(errors, doc, ceiling_ua=None):
    """errors (dicts: field, code, message) with a `hint` added where the host can say more."""
    known = _known_fields()
    out = []
    for e in errors:
        e = dict(e)
        field = e.get("field")
        hints = []
        if e.get("code") == "unknown_field" and isinstance(field, str):
            near = difflib.get_close_matches(field, known, n=1, cutoff=0.6)
            if near:
                hints.append("did you mean `%s`?" % near[0])
        if field in UNITS:
            value = doc.get(field) if isinstance(doc, dict) else None
            found = slip(field, value, ceiling_ua)
            if found:
                hints.append(found)
            hints.append(range_text(field, ceiling_ua))
        if hints:
            e["hint"] = "; ".join(hints)
        out.append(e)
    return out


def warnings(doc, ceiling_ua=None):
    """Valid values that are rarely what was meant (a unit slip that happens to be in range)."""
    out = []
    for field in UNITS:
        if isinstance(doc, dict) and field in doc:
            found = slip(field, doc[field], ceiling_ua)
            if found:
                out.append({"field": field, "message": found})
    return out


class InvalidProtocolFile(ToolError):
    """Exit 2 with every problem on its own line, hints included."""

    def __init__(self, path, errors):
        lines = []
        for e in errors:
            line = "%s: %s (%s)" % (e["field"] or "protocol", e["message"], e["code"])
            if e.get("hint"):
                line += "\n      hint: %s" % e["hint"]
            lines.append(line)
        super().__init__("%s is not a valid protocol\n  %s" % (path, "\n  ".join(lines)), 2)
        self.errors = errors


def read_bytes(path, exit_code=2):
    try:
        with open(path, "rb") as f:
            return f.read(READ_MAX + 1)
    except OSError as exc:
        raise ToolError("cannot read %s: %s" % (path, exc.strerror or exc), exit_code) from exc


def judge(raw, ceiling_ua=None):
    """(Protocol or None, error dicts with hints, warnings, decoded doc or None)."""
    import_firmware()
    from tvns import limits as L
    from tvns import protocol

    proto, errs = protocol.parse(raw, L.CURRENT_MAX_UA if ceiling_ua is None else ceiling_ua)
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        doc = None
    errors = teach([e.as_dict() for e in errs], doc, ceiling_ua)
    return proto, errors, warnings(doc, ceiling_ua) if proto is not None else [], doc


def read_protocol(path, ceiling_ua=None):
    """The protocol file's text, judged here first; InvalidProtocolFile (exit 2) otherwise.
    Sent as text, so the device judges the very bytes that were checked."""
    raw = read_bytes(path)
    proto, errors, _warn, _doc = judge(raw, ceiling_ua)
    if proto is None:
        raise InvalidProtocolFile(path, errors)
    return raw.decode("utf-8")


# ---- boards: a name from hardware/boards/ or a pin map file ----
BOARDS = ROOT / "hardware" / "boards"


def board_map(name_or_file):
    """(label, config dict) of --board NAME|FILE; ToolError naming the problem."""
    p = pathlib.Path(name_or_file)
    if not p.suffix and not p.exists():
        p = BOARDS / (name_or_file + ".json")
        if not p.exists():
            names = sorted(x.stem for x in BOARDS.glob("*.json"))
            raise ToolError(
                "no board %r (known: %s; or give a board map file)"
                % (name_or_file, ", ".join(names)),
                2,
            )
    try:
        config = json.loads(read_bytes(p))
    except ValueError as exc:
        raise ToolError("board map %s is not JSON: %s" % (p, exc), 2) from exc
    if not isinstance(config, dict):
        raise ToolError("board map %s must be a JSON object" % p, 2)
    return str(config.get("name") or p.stem), config


def board_ceiling_ua(config, label):
    """The board's ceiling as the device reads it at boot (tvns/board/config.py), after the
    pin-map checks where the firmware has them."""
    import_firmware()
    from tvns import limits as L
    from tvns.board import config as C
    from tvns.errors import TvnsError

    check = getattr(C, "check_map", None)
    problems = check(config) if check is not None else []
    if problems:
        raise ToolError(
            "board map %s is not fit for a board: %s"
            % (label, "; ".join("%s: %s" % (e.field, e.message) for e in problems)),
            2,
        )
    try:
        return int(C.num(config, "ceiling_ua", "ceiling_ua", 0, L.CURRENT_MAX_UA))
    except TvnsError as exc:
        raise ToolError("board map %s: %s" % (label, exc.message), 2) from exc
