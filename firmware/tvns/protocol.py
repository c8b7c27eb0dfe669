# Protocol files: parse, check the structure (fields, types, schema, name), then the hard
# limits (tvns/checks.py); a valid one becomes a Protocol with its derived safety figures
# (tvns/figures.py).
# Runs at load time only (never in the control tick), so floats are fine here.
# The format is a contract: docs/PROTOCOL-FORMAT.md.
import json
import math

from tvns import checks as C
from tvns import errors as E
from tvns import figures as G
from tvns import limits as L
from tvns.checks import err as _err
from tvns.checks import scaled as _scaled

SCHEMA = 1

# field -> kind. Every field is required; anything else is an error.
FIELDS = (
    ("schema", "int"),
    ("name", "str"),
    ("amplitude_ma", "num"),
    ("pulse_width_us", "int"),
    ("interphase_gap_us", "int"),
    ("frequency_hz", "num"),
    ("on_s", "num"),
    ("off_s", "num"),
    ("ramp_up_s", "num"),
    ("ramp_down_s", "num"),
    ("session_s", "num"),
    ("electrode_area_cm2", "num"),
    ("sham", "bool"),
)
# Optional fields: absent means the default in the comment.
OPTIONAL_FIELDS = (
    ("keepalive_s", "num"),  # 0 (default): no keep-alive; else stop if the host is silent
    ("blinded", "bool"),  # false (default); true: the arm (active/sham) is set on the device
)
_OPTIONAL = {name: kind for name, kind in OPTIONAL_FIELDS}
_KINDS = {name: kind for name, kind in FIELDS + OPTIONAL_FIELDS}
_TYPE_WORDS = {
    "int": "an integer",
    "num": "a number",
    "str": "a string",
    "bool": "true or false",
}


class Protocol:
    """A validated protocol in the firmware's integer units (uA, us, ms)."""

    def __init__(self, doc):
        self.doc = doc  # the validated dict, kept for logs and reports
        self.name = doc["name"]
        self.amplitude_ua = _scaled(doc["amplitude_ma"], 1000)
        self.width_us = int(doc["pulse_width_us"])
        self.gap_us = int(doc["interphase_gap_us"])
        # The period is rounded to the engine's 1 us grid; derived figures use the actual value.
        self.period_us = G.period_us(doc["frequency_hz"])
        self.on_ms = _scaled(doc["on_s"], 1000)
        self.off_ms = _scaled(doc["off_s"], 1000)
        self.ramp_up_ms = _scaled(doc["ramp_up_s"], 1000)
        self.ramp_down_ms = _scaled(doc["ramp_down_s"], 1000)
        self.session_ms = _scaled(doc["session_s"], 1000)
        self.area_cm2 = float(doc["electrode_area_cm2"])
        self.sham = doc["sham"]
        self.keepalive_ms = _scaled(doc.get("keepalive_s", 0), 1000)
        # Blinded: the investigator's allocation (board store) decides active or sham at
        # start; everything derived here is the active arm's (what the operator may see).
        self.blinded = doc.get("blinded", False)

    # The figures (tvns/figures.py) from the same integers the validator used.
    def charge_per_phase_uc(self):
        return G.charge_uc(self.amplitude_ua, self.width_us)

    def rms_current_ma(self):
        return G.rms_current_ma(self.amplitude_ua, self.width_us, self.period_us)

    def rms_density_ma_cm2(self):
        return G.rms_density_ma_cm2(self.amplitude_ua, self.width_us, self.period_us, self.area_cm2)

    def shannon_k(self):
        return G.shannon_k(self.amplitude_ua, self.width_us, self.area_cm2)

    def derived(self):
        # Imported here: schedule imports nothing from protocol, and the tick never needs this.
        from tvns import schedule

        pulses = 0 if self.sham else schedule.pulse_count(self)
        stim_ms = 0 if self.sham else schedule.output_ms(self)
        return {
            "charge_per_phase_uc": _round(self.charge_per_phase_uc(), 6),
            "rms_current_ma": _round(self.rms_current_ma(), 6),
            "rms_current_density_ma_cm2": _round(self.rms_density_ma_cm2(), 6),
            "shannon_k": _round(self.shannon_k(), 6),
            "pulses_total": pulses,
            "stim_s": stim_ms / 1000,
            "period_us": self.period_us,
            "frequency_hz_actual": _round(G.frequency_hz(self.period_us), 6),
        }


def _round(x, places):
    return float("%.*f" % (places, x))


def parse(text, ceiling_ua=L.CURRENT_MAX_UA):
    """Text (str or bytes) -> (Protocol or None, [TvnsError]). Never raises on bad input."""
    errs = []
    if text is None or len(text) == 0:
        _err(errs, None, E.EMPTY, "protocol is empty")
        return None, errs
    if len(text) > L.PROTOCOL_MAX_BYTES:
        msg = "protocol is %d bytes; the limit is %d bytes" % (len(text), L.PROTOCOL_MAX_BYTES)
        _err(errs, None, E.TOO_LARGE, msg)
        return None, errs
    if isinstance(text, (bytes, bytearray)):
        try:
            text = text.decode("utf-8")
        except UnicodeError:
            _err(errs, None, E.JSON, "protocol is not valid UTF-8 text")
            return None, errs
    if not text.strip():
        _err(errs, None, E.EMPTY, "protocol is empty")
        return None, errs
    try:
        doc = json.loads(text)
    except (ValueError, RuntimeError) as exc:  # RuntimeError: nesting too deep (both runtimes)
        _err(errs, None, E.JSON, "protocol is not valid JSON (%s)" % exc)
        return None, errs
    return validate(doc, ceiling_ua)


def validate(doc, ceiling_ua=L.CURRENT_MAX_UA):
    """A decoded JSON value -> (Protocol or None, [TvnsError]); reports every problem at once."""
    errs = []
    if not isinstance(doc, dict):
        _err(errs, None, E.JSON, "protocol must be a JSON object")
        return None, errs
    for key in sorted(k for k in doc if k not in _KINDS):
        shown = key if isinstance(key, str) else repr(key)
        _err(errs, shown, E.UNKNOWN_FIELD, "unknown field %r (check the spelling)" % (shown,))
    ok = {}
    for name, kind in FIELDS + OPTIONAL_FIELDS:
        if name not in doc:
            if name not in _OPTIONAL:
                _err(errs, name, E.MISSING, "%s is required" % name)
        elif _type_ok(errs, name, kind, doc[name]):
            ok[name] = doc[name]
    _check_header(errs, ok)
    C.check_fields(errs, ok, ceiling_ua)
    C.check_combined(errs, ok)
    C.check_ramp_rate(errs, ok)
    if ok.get("blinded") is True and ok.get("sham") is True:
        msg = "blinded protocols take the arm from the device: sham must be false"
        _err(errs, "sham", E.BLINDED_SHAM, msg)
    if errs:
        return None, errs
    return Protocol(doc), errs


def _type_ok(errs, name, kind, value):
    t = type(value)
    if kind == "bool":
        good = t is bool
    elif kind == "str":
        good = t is str
    elif kind == "int":
        # 250.0 is accepted as 250; 250.5 is a resolution error reported later.
        good = t is int or t is float
    else:
        good = t is int or t is float
    if not good:
        _err(
            errs, name, E.TYPE, "%s must be %s (got %s)" % (name, _TYPE_WORDS[kind], _jtype(value))
        )
        return False
    if t is float and (value != value or value in (math.inf, -math.inf)):
        _err(errs, name, E.NOT_FINITE, "%s must be a finite number (got %s)" % (name, value))
        return False
    if kind == "int" and value != int(value):
        _err(errs, name, E.RESOLUTION, "%s must be a whole number (got %s)" % (name, value))
        return False
    return True


def _jtype(value):
    if value is None:
        return "null"
    t = type(value)
    if t is bool:
        return "a boolean"
    if t is str:
        return "a string"
    if t is list:
        return "an array"
    if t is dict:
        return "an object"
    return "a number"


def _check_header(errs, ok):
    if "schema" in ok and ok["schema"] != SCHEMA:
        _err(errs, "schema", E.SCHEMA, "schema must be %d (got %s)" % (SCHEMA, ok.pop("schema")))
    if "name" in ok and not 1 <= len(ok["name"]) <= L.NAME_MAX_CHARS:
        _err(errs, "name", E.OUT_OF_RANGE, "name must be 1..%d characters" % L.NAME_MAX_CHARS)
        ok.pop("name")
