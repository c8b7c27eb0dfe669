# Decimal text -> integer units, exactly, with integer arithmetic only: the one rule that
# gives the same verdict on CPython, the 64-bit MicroPython and a board (single floats,
# 31-bit small ints). 0.127 mA is 127 uA everywhere; 1.0005 mA is finer than 1 uA
# everywhere; 1e306 is out of range everywhere, found by counting digits before anything is
# scaled, so nothing overflows and no big int is built. Load time only.
from micropython import const

OK = const(0)
RESOLUTION = const(1)  # not a whole number of units
HUGE = const(2)  # 10**9 units or more (every limit is far below): out of range
NOT_FINITE = const(3)  # NaN or an infinity

_MAX_DIGITS = const(9)  # 10**9 - 1 < 2**30: the result is a small int on every port
_NOT_FINITE = ("NaN", "Infinity", "-Infinity", "nan", "inf", "-inf")
NOT_FINITE_TEXTS = _NOT_FINITE  # JSON's extension tokens, and repr() of a float


def to_units(text, places):
    """The number written as text (JSON grammar, or repr() of a float) in units of
    10**-places: (OK, int) or (RESOLUTION | HUGE | NOT_FINITE, None). Negative values come
    back negative (every range check refuses them)."""
    if "e" not in text and "E" not in text and text not in _NOT_FINITE:
        # The usual spelling (no exponent), by partition: the same answer as below.
        neg = text[:1] == "-"
        whole, _dot, frac = (text[1:] if neg else text).partition(".")
        whole = whole.lstrip("0")
        if len(whole) + places <= _MAX_DIGITS:  # else HUGE, or not: _exact() says
            frac = frac.rstrip("0")
            if len(frac) > places:
                return RESOLUTION, None
            v = int(whole) * 10**places if whole else 0
            if frac:
                v += int(frac) * 10 ** (places - len(frac))
            return OK, -v if neg else v
    return _exact(text, places)


def units_of(raw, places):
    """to_units() of a number's bytes as the strict JSON grammar matched them (jsonscan.Num
    .raw), the same answer without making a str (~200 us each on the rp2 port): the usual
    spelling (no sign, no exponent, at most 9 digits) in integer steps on the bytes, anything
    else by to_units()."""
    if len(raw) > 10 or b"e" in raw or b"E" in raw or raw[0] == 0x2D:
        return to_units(raw.decode(), places)
    dot = raw.find(b".")
    if dot < 0:
        whole = len(raw)
        frac = 0
        digits = raw
    else:
        whole = dot
        frac = len(raw) - dot - 1
        digits = raw[:dot] + raw[dot + 1 :]
    if raw[0] == 0x30:  # "0" or "0.x": JSON allows no other leading zero
        whole = 0
    if whole + places > _MAX_DIGITS:
        return to_units(raw.decode(), places)  # HUGE, or not: the exact path says
    v = int(digits)  # at most 9 digits: a small int on every port
    if frac > places:
        drop = 10 ** (frac - places)
        if v % drop:
            return RESOLUTION, None
        return OK, v // drop
    return OK, v * 10 ** (places - frac)


def _exact(text, places):
    """to_units() for any spelling: exponents, and digits counted before any scaling."""
    if text in _NOT_FINITE:
        return NOT_FINITE, None
    neg = text[:1] == "-"
    if neg:
        text = text[1:]
    exp = 0
    e = text.find("e")
    if e < 0:
        e = text.find("E")
    if e >= 0:
        exp = _exponent(text[e + 1 :])
        text = text[:e]
    dot = text.find(".")
    frac = ""
    if dot >= 0:
        frac = text[dot + 1 :]
        text = text[:dot]
    digits = (text + frac).lstrip("0")
    if not digits:
        return OK, 0
    exp -= len(frac)
    kept = digits.rstrip("0")
    exp += len(digits) - len(kept)  # value = int(kept) * 10**exp, kept without trailing zeros
    shift = exp + places
    if len(kept) + shift > _MAX_DIGITS:
        return HUGE, None
    if shift < 0:
        return RESOLUTION, None
    v = int(kept) * 10**shift
    return OK, -v if neg else v


def _exponent(text):
    """An exponent's value, saturated at +-10**7: beyond that only its sign matters (a value
    that large is HUGE, one that small finer than any unit), and int() stays small."""
    sign = 1
    if text[:1] in ("+", "-"):
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    text = text.lstrip("0")
    if len(text) > 7:
        return sign * 10000000
    return sign * int(text) if text else 0


def show(units, places):
    """Integer units as decimal text, trailing zeros dropped: show(3600000, 3) -> '3600',
    show(127, 3) -> '0.127'. Integer arithmetic, so every runtime prints the same."""
    if places == 0:
        return str(units)
    sign = "-" if units < 0 else ""
    units = -units if units < 0 else units
    scale = 10**places
    whole = units // scale
    frac = units - whole * scale
    if frac == 0:
        return sign + str(whole)
    text = str(frac)
    text = "0" * (places - len(text)) + text
    return "%s%d.%s" % (sign, whole, text.rstrip("0"))


def excerpt(text, limit=24):
    """A number's text for an error message, cut to a readable length."""
    return text if len(text) <= limit else text[: limit - 3] + "..."
