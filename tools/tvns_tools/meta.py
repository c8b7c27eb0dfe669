"""Study metadata: what only a person knows about a session (participant, site, electrode,
sham type, operator, ...: the Farmer 2021 items no device can log), read from a JSON file by
`tvns run --meta FILE`, checked here, sent with `start` and kept by the firmware in the
session's `session_start` record, where `tvns report` finds it. docs/META.md is the contract;
`host_tests/test_meta.py` keeps it and KEYS in step."""

import difflib
import json
import re
import time

from tvns_tools.firmware import ToolError

FILE_MAX_BYTES = 4096  # a meta file larger than this is refused unread
JSON_MAX_BYTES = 1024  # the object as UTF-8 JSON: the firmware refuses more (bad_field)
VALUE_MAX_CHARS = 200
KEY_MAX_CHARS = 32  # for your own `x_...` keys
CUSTOM_PREFIX = "x_"
UTC_OFFSET = re.compile(r"^[+-](0\d|1[0-4]):[0-5]\d$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # tab and newline are allowed (notes)

# key -> what it is (docs/META.md lists the same, in this order).
KEYS = {
    "participant_id": "participant or subject code (never a name: the log is not anonymised)",
    "session_id": "session code or number within the study",
    "study_id": "study, protocol or ethics approval code",
    "operator": "who ran the session (initials or staff code)",
    "site": "stimulation site, e.g. left cymba conchae",
    "skin_preparation": "e.g. alcohol wipe, abrasive gel",
    "electrode_material": "e.g. Ag/AgCl, titanium ball, carbon rubber",
    "electrode_size": "e.g. 6 mm ball, 10 x 20 mm",
    "anode_cathode": "anode/cathode placement",
    "blinding": "e.g. double-blind, single-blind, open label",
    "sham_type": "e.g. earlobe, 0 mA, ramp-and-stop",
    "manipulation_check": "how blinding was checked, e.g. end-of-study guess questionnaire",
    "device_maker": "who built the device in use",
    "device_model": "model or serial of the device",
    "regulatory_status": "e.g. investigational, not cleared",
    "utc_offset": "the local time zone as +HH:MM (tvns run fills in the host's when absent)",
    "time_of_day": "free text, used only when the device logged no clock",
    "notes": "anything else worth keeping with the session",
}


class InvalidMeta(ToolError):
    def __init__(self, path, problems):
        super().__init__(
            "%s is not a valid meta file (docs/META.md)\n  %s" % (path, "\n  ".join(problems)), 2
        )
        self.problems = problems


def check(doc):
    """Every problem of a meta object, as lines naming the key ([] when fit)."""
    if not isinstance(doc, dict):
        return ["the meta file must hold one JSON object of text values"]
    problems = []
    for key in doc:
        value = doc[key]
        if key.startswith(CUSTOM_PREFIX):
            if len(key) <= len(CUSTOM_PREFIX) or len(key) > KEY_MAX_CHARS:
                problems.append("%s: a custom key is x_ plus 1..30 characters" % key)
        elif key not in KEYS:
            near = difflib.get_close_matches(key, list(KEYS), n=1, cutoff=0.6)
            hint = (" did you mean `%s`?" % near[0]) if near else ""
            problems.append(
                "%s: unknown key (own items start with x_).%s Known: %s"
                % (key, hint, ", ".join(KEYS))
            )
            continue
        if not isinstance(value, str):
            kind = type(value).__name__
            problems.append("%s: must be text (a JSON string), got %s" % (key, kind))
            continue
        if not value.strip():
            problems.append("%s: empty; leave the key out instead" % key)
        elif len(value) > VALUE_MAX_CHARS:
            problems.append("%s: %d characters; at most %d" % (key, len(value), VALUE_MAX_CHARS))
        elif _CONTROL.search(value):
            problems.append("%s: control characters are not allowed" % key)
        if key == "utc_offset" and not UTC_OFFSET.match(value):
            problems.append("utc_offset: write it as +HH:MM or -HH:MM (got %r)" % value)
    if not problems and _size(doc) > JSON_MAX_BYTES:
        problems.append(
            "the whole object is %d bytes as JSON; at most %d (the device keeps it in the "
            "session_start record)" % (_size(doc), JSON_MAX_BYTES)
        )
    return problems


def _size(doc):
    """Bytes of the object as the firmware measures it: UTF-8 JSON, ", " and ": " separators."""
    return len(json.dumps(doc, ensure_ascii=False).encode("utf-8"))


def host_utc_offset(now=None):
    """The host's local UTC offset now, as +HH:MM."""
    t = time.localtime(now)
    off = t.tm_gmtoff or 0
    sign = "+" if off >= 0 else "-"
    off = abs(off) // 60
    return "%s%02d:%02d" % (sign, off // 60, off % 60)


def read(path):
    """The meta object of a file, checked; utc_offset filled in from the host when absent."""
    try:
        with open(path, "rb") as f:
            raw = f.read(FILE_MAX_BYTES + 1)
    except OSError as exc:
        raise ToolError("cannot read %s: %s" % (path, exc.strerror or exc), 2) from exc
    if len(raw) > FILE_MAX_BYTES:
        raise InvalidMeta(path, ["the file is over %d bytes" % FILE_MAX_BYTES])
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeError, ValueError, RecursionError) as exc:
        raise InvalidMeta(path, ["not JSON: %s" % exc]) from exc
    problems = check(doc)
    if problems:
        raise InvalidMeta(path, problems)
    if "utc_offset" not in doc:
        doc = dict(doc, utc_offset=host_utc_offset())
        if _size(doc) > JSON_MAX_BYTES:
            doc.pop("utc_offset")
    return doc
