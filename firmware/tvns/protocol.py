# Protocol files: parse (tvns/jsonscan.py: strict JSON, numbers kept as decimal text,
# duplicate keys found), check the structure (fields, types, schema, name), then the hard
# limits in integer units (tvns/checks.py); a valid one becomes a Protocol with its derived
# safety figures (tvns/figures.py, tvns/schedule.py).
# No float takes part in a verdict: the same text gets the same verdict on CPython, the
# 64-bit MicroPython and a board (single floats, 31-bit small ints). Load time only.
# The format is a contract: docs/PROTOCOL-FORMAT.md.
# Longer than ~300 lines: the structural checks and the Protocol they build are one
# contract; the limits (checks.py) and the trigger block (trigger_fields.py) live beside it.
from tvns import checks as C
from tvns import errors as E
from tvns import figures as G
from tvns import jsonscan
from tvns import limits as L
from tvns import units as U
from tvns.checks import err as _err

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
    ("trigger", "obj"),  # absent: no trigger input; else a block (tvns/trigger_fields.py)
)
_ALL = FIELDS + OPTIONAL_FIELDS
_OPTIONAL = {name: kind for name, kind in OPTIONAL_FIELDS}
_KINDS = {name: kind for name, kind in _ALL}
# The Python type each kind of field arrives as (numbers: their text, jsonscan.Num)
_TYPES = {"int": jsonscan.Num, "num": jsonscan.Num, "str": str, "bool": bool, "obj": dict}
_ABSENT = object()
# (name, kind, type, optional) for each field: _validate's loop without lookups per field.
# Made by the first validation, with the keys jsonscan decodes once: not at boot (the boot
# goal, docs/SPEED.md).
_SPECS = None


def _specs():
    global _SPECS
    if _SPECS is None:
        jsonscan.known_names(name for name, _kind in _ALL)
        _SPECS = tuple((name, kind, _TYPES[kind], name in _OPTIONAL) for name, kind in _ALL)
    return _SPECS


_PLACES = {name: places for name, places, _lo, _hi, _unit, _z in C.NUMERIC}
_TYPE_WORDS = {
    "int": "an integer",
    "num": "a number",
    "str": "a string",
    "bool": "true or false",
    "obj": "an object",
}


class Protocol:
    """A validated protocol in the firmware's integer units (uA, us, mHz, ms, 0.01 cm2)."""

    # Set later, if at all: class defaults, not stores in every __init__ (each store into a
    # new instance costs ~40 us on the rp2 port, docs/SPEED.md "load").
    trigger = None  # the trigger input (docs/GATING.md): None, or a TriggerSpec (_validate)
    _derived = None  # derived(), worked out once
    _figures = None  # figures(), worked out once
    _doc = None  # doc, made once

    def __init__(self, ok, u):
        self.name = ok["name"]
        self.amplitude_ua = u["amplitude_ma"]
        self.width_us = u["pulse_width_us"]
        self.gap_us = u["interphase_gap_us"]
        self.freq_mhz = u["frequency_hz"]
        # The period is rounded to the engine's 1 us grid; derived figures use the actual value.
        self.period_us = G.period_us(self.freq_mhz)
        self.on_ms = u["on_s"]
        self.off_ms = u["off_s"]
        self.ramp_up_ms = u["ramp_up_s"]
        self.ramp_down_ms = u["ramp_down_s"]
        self.session_ms = u["session_s"]
        self.area_x100 = u["electrode_area_cm2"]
        self.sham = ok["sham"]
        self.keepalive_ms = u.get("keepalive_s", 0)
        # Blinded: the investigator's allocation (board store) decides active or sham at
        # start; everything derived here is the active arm's (what the operator may see).
        self.blinded = ok.get("blinded", False)
        self._ok = ok
        self._u = u

    @property
    def doc(self):
        """The validated protocol as plain JSON values, for logs and reports (made when first
        asked for: `load` does not need it): the numbers the firmware uses, integer fields
        as int, the others as float."""
        if self._doc is None:
            doc = {}
            for name, kind in _ALL:
                if name == "trigger":
                    if self.trigger is not None:
                        doc[name] = self.trigger.doc()
                elif name in self._u:
                    v = self._u[name]
                    doc[name] = v if kind == "int" else v / 10 ** _PLACES[name]
                elif name in self._ok:
                    doc[name] = self._ok[name]
            self._doc = doc
        return self._doc

    # The figures (tvns/figures.py) from the same integers the validator used.
    def charge_pc(self):
        return G.charge_pc(self.amplitude_ua, self.width_us)

    def rms_current_ua(self):
        return G.rms_current_ua(self.amplitude_ua, self.width_us, self.period_us)

    def rms_density_ua_cm2(self):
        return G.rms_density_ua_cm2(
            self.amplitude_ua, self.width_us, self.period_us, self.area_x100
        )

    def shannon_k_x1000(self):
        return G.shannon_k_x1000(self.charge_pc(), self.area_x100)

    def derived(self):
        """The figures, each an integer in the unit the firmware works in, shown in the
        protocol's units with exactly that precision (docs/PROTOCOL-FORMAT.md). Worked out
        once (App.load does it before anything changes); callers get a copy."""
        if self._derived is None:
            f = self.figures()
            self._derived = {k: f[k] / 10**places if places else f[k] for k, places in FIGURES}
        return dict(self._derived)

    def figures(self):
        """derived() as integers in the firmware's units (FIGURES: their decimal places),
        worked out once: what `load` needs (App.load, the reply's figures_json) without a
        float (a float division ~170 us on the rp2 port, its text ~300 us)."""
        if self._figures is None:
            self._figures = self._work_out()
        return self._figures

    def figures_json(self):
        """derived() as JSON text, each figure written exactly from its integer (the `load`
        reply): a host reads the same numbers as derived() holds on CPython (a division of
        integers, correctly rounded, is the double nearest the exact decimal); a board's
        single floats would have rounded them. One format, no float made."""
        f = self.figures()
        c = f["charge_per_phase_uc"]
        r = f["rms_current_ma"]
        d = f["rms_current_density_ma_cm2"]
        k = f["shannon_k"]
        sign = "-" if k < 0 else ""
        k = -k if k < 0 else k
        t = f["stim_s"]
        h = f["frequency_hz_actual"]
        return _FIGURES_JSON % (
            c // 1000000,
            c % 1000000,
            r // 1000,
            r % 1000,
            d // 1000,
            d % 1000,
            sign,
            k // 1000,
            k % 1000,
            f["pulses_total"],
            t // 1000,
            t % 1000,
            f["period_us"],
            h // 1000,
            h % 1000,
        )

    def _work_out(self):
        # Imported here: schedule imports nothing from protocol, and the tick never needs this.
        from tvns import schedule

        pulses = stim_ms = 0
        if not self.sham:
            plan = schedule._Plan(self)  # one plan for both figures
            pulses = schedule.pulse_count(self, plan)
            stim_ms = schedule.output_ms(self, plan)
        return {
            "charge_per_phase_uc": self.charge_pc(),
            "rms_current_ma": self.rms_current_ua(),
            "rms_current_density_ma_cm2": self.rms_density_ua_cm2(),
            "shannon_k": self.shannon_k_x1000(),
            "pulses_total": pulses,
            "stim_s": stim_ms,
            "period_us": self.period_us,
            "frequency_hz_actual": G.frequency_mhz(self.period_us),
        }


# The derived figures: (name, decimal places of the integer figures() holds: 0 an integer).
FIGURES = (
    ("charge_per_phase_uc", 6),  # pC
    ("rms_current_ma", 3),  # uA
    ("rms_current_density_ma_cm2", 3),  # uA/cm2
    ("shannon_k", 3),  # k x 1000
    ("pulses_total", 0),
    ("stim_s", 3),  # ms
    ("period_us", 0),
    ("frequency_hz_actual", 3),  # mHz
)
_FIGURES_JSON = (
    '{"charge_per_phase_uc": %d.%06d, "rms_current_ma": %d.%03d, '
    '"rms_current_density_ma_cm2": %d.%03d, "shannon_k": %s%d.%03d, "pulses_total": %d, '
    '"stim_s": %d.%03d, "period_us": %d, "frequency_hz_actual": %d.%03d}'
)


def parse(text, ceiling_ua=L.CURRENT_MAX_UA):
    """Text (str or bytes) -> (Protocol or None, [TvnsError]). Never raises on bad input."""
    errs = []
    if text is None or len(text) == 0:
        _err(errs, None, E.EMPTY, "protocol is empty")
        return None, errs
    if isinstance(text, str):
        try:
            text = text.encode()
        except UnicodeError:  # CPython: a lone surrogate
            _err(errs, None, E.JSON, "protocol is not valid UTF-8 text")
            return None, errs
    if len(text) > L.PROTOCOL_MAX_BYTES:
        msg = "protocol is %d bytes; the limit is %d bytes" % (len(text), L.PROTOCOL_MAX_BYTES)
        _err(errs, None, E.TOO_LARGE, msg)
        return None, errs
    if type(text) is not bytes:
        text = bytes(text)  # a bytearray or memoryview
    proto = _fast(text, ceiling_ua)  # never accepts blank text
    if proto is not None:
        return proto, []
    if not text.strip():  # after the one pass: strip() copies the text (~1 ms on the rp2 port)
        _err(errs, None, E.EMPTY, "protocol is empty")
        return None, errs
    _specs()  # jsonscan's known keys, before its scan
    try:
        doc, dups = jsonscan.loads(text)
    except (jsonscan.JsonError, UnicodeError) as exc:
        _err(errs, None, E.JSON, "protocol is not valid JSON (%s)" % exc)
        return None, errs
    return _validate(doc, dups, ceiling_ua)


def fast_fields():
    """The fields as tvns/protoscan.py's table lists them: (name, kind, places, lo, hi,
    zero_ok, required) in _ALL's order. Host use: protoscan's constants are made from this
    (host_tests/test_protoscan.py checks they still agree); the board never runs it."""
    from tvns import protoscan as S

    nums = {n: (places, lo, hi, z is not None) for n, places, lo, hi, _u, z in C.NUMERIC}
    fields = []
    for name, kind in _ALL:
        required = name not in _OPTIONAL
        if name == "schema":
            fields.append((name, S.NUM, 0, SCHEMA, SCHEMA, False, required))
        elif kind == "str":
            fields.append((name, S.STR, 0, 1, L.NAME_MAX_CHARS, False, required))
        elif kind == "bool":
            fields.append((name, S.BOOL, 0, 0, 0, False, required))
        elif name in nums:
            places, lo, hi, z = nums[name]
            fields.append((name, S.NUM, places, lo, hi, z, required))
        else:  # the trigger block: the full path
            fields.append((name, 0, 0, 0, 0, False, required))
    return fields


_OUT = None  # protoscan's result words, made by the first one pass (not at boot)
_SCANNED = None  # the text whose one pass is in _OUT (one_pass), until _fast takes it


def one_pass(text):
    """Does the one pass (tvns/protoscan.py) accept text (bytes)? Its result stays for
    _fast on the same object, so the console can ask first (Console._line) at no cost."""
    global _OUT, _SCANNED
    from tvns import protoscan as S

    out = _OUT
    if out is None:
        # array is an extensible built-in: `from array import array` first searches the
        # file system, ~2.5 ms each time on the rp2 port; tvns.ring (boot) holds it.
        from tvns.ring import array

        out = _OUT = array("i", bytes(4 * S.OUT_WORDS))
    if S.scan(text, S.NAMES, S.TABLE, out):
        _SCANNED = text
        return True
    _SCANNED = None
    return False


def _fast(text, ceiling_ua):
    """The Protocol of a valid protocol of the usual shape, judged in one pass of machine
    code (tvns/protoscan.py), or None: the full path then judges it and words every error.
    The same values as the full path (host_tests/test_protoscan.py)."""
    global _SCANNED
    from tvns import protoscan as S

    if text is not _SCANNED and not one_pass(text):
        return None
    _SCANNED = None
    out = _OUT
    u = {}
    for name, k in S.NUMERIC_AT:
        if out[k]:
            u[name] = out[k + 1]
    if u["amplitude_ma"] > ceiling_ua:
        return None
    errs = []
    C.check_combined(errs, u)
    C.check_ramp_rate(errs, u)
    if errs:
        return None
    k = S.NAME_AT
    sham = out[S.SHAM_AT + 1] == 1
    ok = {"schema": SCHEMA, "name": text[out[k + 1] : out[k + 2]].decode(), "sham": sham}
    if out[S.BLINDED_AT]:
        blinded = ok["blinded"] = out[S.BLINDED_AT + 1] == 1
        if blinded and sham:
            return None
    return Protocol(ok, u)


def validate(doc, ceiling_ua=L.CURRENT_MAX_UA):
    """A decoded JSON value (Python ints and floats for numbers) -> (Protocol or None,
    [TvnsError]). Each number is judged on its shortest decimal text (repr), so 0.127 is
    0.127 here as in a file; a board reads protocols through parse(), from their text."""
    if isinstance(doc, dict):
        doc = {k: _as_num(v) for k, v in doc.items()}
    return _validate(doc, (), ceiling_ua)


def _as_num(v):
    t = type(v)
    if t is int:
        return jsonscan.Num(str(v))
    if t is float:
        return jsonscan.Num(_float_text(v))
    if t is dict:  # the trigger block: its numbers judged on their text too
        return {k: _as_num(x) for k, x in v.items()}
    return v


def _float_text(v):
    """A float's shortest decimal text, at most 15 significant digits: what a person typed
    (0.56, not the 0.5600000000000001 the 64-bit MicroPython parses that literal into, nor
    the 0.30000000000000004 of 0.1 + 0.2). A board with single floats gets its repr."""
    text = repr(v)
    digits = 0
    for ch in text:
        if ch == "e" or ch == "E":
            break
        if "0" <= ch <= "9" and (digits or ch != "0"):
            digits += 1
    return text if digits <= 15 else "%.15g" % v


def _validate(doc, dups, ceiling_ua):
    """Every problem at once: duplicate and unknown fields, missing fields, types, the header,
    then the limits (tvns/checks.py)."""
    errs = []
    if not isinstance(doc, dict):
        _err(errs, None, E.JSON, "protocol must be a JSON object")
        return None, errs
    for key in dups:
        msg = "%s appears more than once: a reader may see one value, the device use another" % (
            key,
        )
        _err(errs, key, E.DUPLICATE_FIELD, msg)
    unknown = [k for k in doc if k not in _KINDS]
    if unknown:
        for key in sorted(unknown, key=repr):
            shown = key if isinstance(key, str) else repr(key)
            msg = "unknown field %r (check the spelling)" % (shown,)
            _err(errs, shown, E.UNKNOWN_FIELD, msg)
    ok = {}
    num = jsonscan.Num
    for name, kind, typ, optional in _specs():
        value = doc.get(name, _ABSENT)
        if value is _ABSENT:
            if not optional:
                _err(errs, name, E.MISSING, "%s is required" % name)
        elif type(value) is typ and (
            # a number from its bytes matched the strict grammar: finite
            typ is not num or value.raw is not None or value.text not in U.NOT_FINITE_TEXTS
        ):
            ok[name] = value
        else:
            _type_error(errs, name, kind, value)
    _check_header(errs, ok)
    u = C.check_fields(errs, ok, ceiling_ua)
    C.check_combined(errs, u)
    C.check_ramp_rate(errs, u)
    if ok.get("blinded") is True and ok.get("sham") is True:
        msg = "blinded protocols take the arm from the device: sham must be false"
        _err(errs, "sham", E.BLINDED_SHAM, msg)
    trig = None
    if "trigger" in ok:
        # Imported here: an untriggered protocol (and the boot) never loads it.
        from tvns import trigger_fields as T

        trig = T.check(errs, ok["trigger"], jsonscan)
        if trig is not None:
            T.check_combined(errs, trig, u)
        if ok.get("blinded") is True:
            # The input's trains would differ between the arms (a sham arm gives no pulses)
            # and show in the log: not blind.
            msg = (
                "a blinded protocol cannot use a trigger: its trains in the log would tell the arm"
            )
            _err(errs, "trigger", E.OUT_OF_RANGE, msg)
    if errs:
        return None, errs
    proto = Protocol(ok, u)
    if trig is not None:
        _trigger_spec(errs, proto, trig)
        if errs:
            return None, errs
    return proto, errs


def _trigger_spec(errs, proto, trig):
    """The trigger's stimulation cap against the protocol's own gate-on time: the input can
    never give more stimulation than the protocol was validated for without it."""
    from tvns import schedule

    stim_ms = 0 if proto.sham else schedule.output_ms(proto)
    cap = trig["max_stim_s"]
    if cap is None:
        trig["max_stim_s"] = stim_ms if stim_ms > 0 else L.TRIGGER_STIM_MIN_MS
    elif cap > stim_ms and not proto.sham:
        msg = "trigger.max_stim_s must be at most the protocol's stim_s = %s s (got %s s)" % (
            U.show(stim_ms, 3),
            U.show(cap, 3),
        )
        _err(errs, "trigger.max_stim_s", E.OUT_OF_RANGE, msg)
        return
    from tvns.trigger_fields import TriggerSpec

    proto.trigger = TriggerSpec(trig)


def _type_error(errs, name, kind, value):
    if type(value) is _TYPES[kind]:  # a number where one belongs: NaN or an infinity
        msg = "%s must be a finite number (got %s)" % (name, value.text)
        _err(errs, name, E.NOT_FINITE, msg)
    else:
        msg = "%s must be %s (got %s)" % (name, _TYPE_WORDS[kind], _jtype(value))
        _err(errs, name, E.TYPE, msg)


def _jtype(value):
    if value is None:
        return "null"
    if value is True or value is False:
        return "a boolean"
    t = type(value)
    if t is str:
        return "a string"
    if t is list:
        return "an array"
    if t is dict:
        return "an object"
    return "a number"


def _check_header(errs, ok):
    if "schema" in ok:
        num = ok["schema"]  # 1.0 and 1e0 are 1 too
        code, v = U.units_of(num.raw, 0) if num.raw is not None else U.to_units(num.text, 0)
        if code != U.OK or v != SCHEMA:
            shown = U.excerpt(ok.pop("schema").text)
            _err(errs, "schema", E.SCHEMA, "schema must be %d (got %s)" % (SCHEMA, shown))
        else:
            ok["schema"] = v
    if "name" in ok and not name_ok(ok["name"]):
        msg = "name must be 1..%d printable ASCII characters (letters, digits, space, punctuation)"
        _err(errs, "name", E.OUT_OF_RANGE, msg % L.NAME_MAX_CHARS)
        ok.pop("name")


def name_ok(name):
    """A protocol name: 1..NAME_MAX_CHARS printable ASCII characters (0x20..0x7E). One rule on
    every runtime, and a name that every log, terminal and report shows as written: no
    control characters, no escapes that decode differently (docs/PROTOCOL-FORMAT.md)."""
    if not 1 <= len(name) <= L.NAME_MAX_CHARS:
        return False
    try:
        raw = name.encode()
    except UnicodeError:  # CPython: a lone surrogate
        return False
    # one byte per character (ASCII), none outside 0x20..0x7E (min/max run in C)
    return len(raw) == len(name) and min(raw) >= 0x20 and max(raw) <= 0x7E
