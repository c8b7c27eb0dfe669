# Protocol files: parse, validate against the hard limits, derive the safety figures.
# Runs at load time only (never in the control tick), so floats are fine here.
# The format is a contract: docs/PROTOCOL-FORMAT.md.
import json
import math

from tvns import errors as E
from tvns import limits as L

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
        self.period_us = int(round(1000000 / doc["frequency_hz"]))
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

    def charge_per_phase_uc(self):
        return self.amplitude_ua * self.width_us / 1e6

    def rms_current_ma(self):
        # Symmetric biphasic: I_rms = I_peak * sqrt(2 * phase_s * f), output continuous.
        freq_hz = 1e6 / self.period_us
        return self.amplitude_ua / 1000 * math.sqrt(2 * self.width_us / 1e6 * freq_hz)

    def rms_density_ma_cm2(self):
        return self.rms_current_ma() / self.area_cm2

    def shannon_k(self):
        q_uc = self.charge_per_phase_uc()
        return math.log10(q_uc) + math.log10(q_uc / self.area_cm2)

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
            "frequency_hz_actual": _round(1e6 / self.period_us, 6),
        }


def _round(x, places):
    return float("%.*f" % (places, x))


def _scaled(x, scale):
    return int(round(x * scale))


def _err(out, field, code, message):
    out.append(E.TvnsError(code, message, field))


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
    _check_fields(errs, ok, ceiling_ua)
    _check_combined(errs, ok)
    _check_ramp_rate(errs, ok)
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


def _range(errs, ok, name, lo, hi, unit, scale=1):
    """Check lo <= value*scale <= hi (limits in the scaled unit). Returns the scaled int or None."""
    if name not in ok:
        return None
    value = ok.pop(name)
    scaled = value * scale
    whole = int(round(scaled))
    if abs(scaled - whole) > 1e-6:
        _err(
            errs,
            name,
            E.RESOLUTION,
            "%s=%s is finer than the 1 %s resolution" % (name, value, unit),
        )
        return None
    if whole < lo or whole > hi:
        msg = "%s must be %s..%s (got %s)" % (name, _show(lo, scale), _show(hi, scale), value)
        _err(errs, name, E.OUT_OF_RANGE, msg)
        return None
    ok[name] = value
    return whole


def _show(x, scale):
    return ("%g" % (x / scale)) if scale != 1 else str(x)


def _zero_or_range_s(errs, ok, name, lo_ms, hi_ms, zero_means):
    """A seconds field that is either 0 (zero_means) or within lo_ms..hi_ms."""
    ms = _range(errs, ok, name, 0, hi_ms, "ms", 1000)
    if ms is not None and 0 < ms < lo_ms:
        msg = "%s must be 0 (%s) or %g..%g s (got %s)" % (
            name,
            zero_means,
            lo_ms / 1000,
            hi_ms / 1000,
            ok.pop(name),
        )
        _err(errs, name, E.OUT_OF_RANGE, msg)


def _check_fields(errs, ok, ceiling_ua):
    if "schema" in ok and ok["schema"] != SCHEMA:
        _err(errs, "schema", E.SCHEMA, "schema must be %d (got %s)" % (SCHEMA, ok.pop("schema")))
    if "name" in ok and not 1 <= len(ok["name"]) <= L.NAME_MAX_CHARS:
        _err(errs, "name", E.OUT_OF_RANGE, "name must be 1..%d characters" % L.NAME_MAX_CHARS)
        ok.pop("name")
    amp = _range(errs, ok, "amplitude_ma", 1, L.CURRENT_MAX_UA, "uA", 1000)
    if amp is not None and amp > ceiling_ua:
        msg = "amplitude_ma=%g is above this board's ceiling of %g mA" % (
            amp / 1000,
            ceiling_ua / 1000,
        )
        _err(errs, "amplitude_ma", E.ABOVE_CEILING, msg)
        ok.pop("amplitude_ma")
    _range(errs, ok, "pulse_width_us", L.WIDTH_MIN_US, L.WIDTH_MAX_US, "us")
    _range(errs, ok, "interphase_gap_us", L.GAP_MIN_US, L.GAP_MAX_US, "us")
    # Frequency: any value in range; the period is rounded to 1 us (see Protocol).
    if "frequency_hz" in ok:
        f = ok["frequency_hz"]
        if not L.FREQ_MIN_HZ <= f <= L.FREQ_MAX_HZ:
            msg = "frequency_hz must be %d..%d Hz (got %s)" % (L.FREQ_MIN_HZ, L.FREQ_MAX_HZ, f)
            _err(errs, "frequency_hz", E.OUT_OF_RANGE, msg)
            ok.pop("frequency_hz")
    _range(errs, ok, "on_s", L.TRAIN_MIN_MS, L.TRAIN_MAX_MS, "ms", 1000)
    _zero_or_range_s(errs, ok, "off_s", L.TRAIN_MIN_MS, L.TRAIN_MAX_MS, "continuous")
    _range(errs, ok, "ramp_up_s", L.RAMP_UP_MIN_MS, L.RAMP_MAX_MS, "ms", 1000)
    _range(errs, ok, "ramp_down_s", L.RAMP_DOWN_MIN_MS, L.RAMP_MAX_MS, "ms", 1000)
    _range(errs, ok, "session_s", L.SESSION_MIN_S * 1000, L.SESSION_MAX_S * 1000, "ms", 1000)
    _zero_or_range_s(errs, ok, "keepalive_s", L.KEEPALIVE_MIN_MS, L.KEEPALIVE_MAX_MS, "off")
    _range(errs, ok, "electrode_area_cm2", L.AREA_MIN_CM2_X100, L.AREA_MAX_CM2_X100, "cm2/100", 100)


def _check_combined(errs, ok):
    """Limits that involve several fields; each is checked only when its fields are valid."""
    if _have(ok, "amplitude_ma", "pulse_width_us"):
        pc = _scaled(ok["amplitude_ma"], 1000) * int(ok["pulse_width_us"])
        if pc > L.CHARGE_MAX_PC:
            msg = "charge per phase %g uC (amplitude_ma x pulse_width_us) exceeds %g uC" % (
                pc / 1e6,
                L.CHARGE_MAX_PC / 1e6,
            )
            _err(errs, "amplitude_ma", E.CHARGE, msg)
    if _have(ok, "amplitude_ma", "pulse_width_us", "electrode_area_cm2"):
        q_uc = ok["amplitude_ma"] * ok["pulse_width_us"] / 1000
        k = math.log10(q_uc) + math.log10(q_uc / ok["electrode_area_cm2"])
        if k * 1000 >= L.SHANNON_K_MAX_X1000:
            msg = "Shannon k=%.3f for %g uC on electrode_area_cm2=%g must stay below %g" % (
                k,
                q_uc,
                ok["electrode_area_cm2"],
                L.SHANNON_K_MAX_X1000 / 1000,
            )
            _err(errs, "electrode_area_cm2", E.SHANNON, msg)
    if _have(ok, "amplitude_ma", "pulse_width_us", "frequency_hz", "electrode_area_cm2"):
        period_us = int(round(1000000 / ok["frequency_hz"]))
        rms_ma = ok["amplitude_ma"] * math.sqrt(2 * ok["pulse_width_us"] / period_us)
        density = rms_ma / ok["electrode_area_cm2"]
        if density * 1000 > L.RMS_DENSITY_MAX_UA_CM2:
            msg = (
                "r.m.s. current density %.3f mA/cm2 on this electrode_area_cm2 exceeds %g mA/cm2"
                % (
                    density,
                    L.RMS_DENSITY_MAX_UA_CM2 / 1000,
                )
            )
            _err(errs, "electrode_area_cm2", E.DENSITY, msg)
    if _have(ok, "pulse_width_us", "interphase_gap_us", "frequency_hz"):
        period_us = int(round(1000000 / ok["frequency_hz"]))
        pulse_us = 2 * int(ok["pulse_width_us"]) + int(ok["interphase_gap_us"])
        if pulse_us + L.OFF_MIN_US > period_us:
            msg = "pulse of %d us (2 x width + gap) needs %d us off time in a %d us period" % (
                pulse_us,
                L.OFF_MIN_US,
                period_us,
            )
            _err(errs, "frequency_hz", E.PULSE_FIT, msg)
    if _have(ok, "ramp_up_s", "ramp_down_s", "session_s"):
        ramps_ms = _scaled(ok["ramp_up_s"], 1000) + _scaled(ok["ramp_down_s"], 1000)
        if ramps_ms > _scaled(ok["session_s"], 1000):
            msg = "ramp_up_s + ramp_down_s = %g s is longer than session_s = %g s" % (
                ramps_ms / 1000,
                ok["session_s"],
            )
            _err(errs, "session_s", E.RAMP_FIT, msg)


def _check_ramp_rate(errs, ok):
    """Each 0.1 mA ramp step must last at least one pulse period (+1 ms for the control
    tick's grid), so consecutive pulses never differ by more than 0.1 mA."""
    if not _have(ok, "amplitude_ma", "frequency_hz"):
        return
    steps = -(-_scaled(ok["amplitude_ma"], 1000) // L.RAMP_STEP_MAX_UA)
    period_us = int(round(1000000 / ok["frequency_hz"]))
    need_ms = steps * (period_us + 1000) // 1000 + 1
    for name in ("ramp_up_s", "ramp_down_s"):
        if name in ok and _scaled(ok[name], 1000) < need_ms:
            msg = "%s must be at least %g s here: %d steps of 0.1 mA, one per %d us period" % (
                name,
                need_ms / 1000,
                steps,
                period_us,
            )
            _err(errs, name, E.RAMP_RATE, msg)


def _have(ok, *names):
    for n in names:
        if n not in ok:
            return False
    return True
