# Longer than ~300 lines on purpose: the field table is written out as constants (the board
# builds nothing), and the two viper walks are long because every step is inlined.
# The usual valid protocol judged in one pass of machine code (docs/SPEED.md "load"): a
# flat JSON object of the protocol's own fields, each once, every value of its field's kind,
# numbers in plain decimal (no sign, no exponent, at most 9 digits) converted exactly into
# the field's integer units and found inside its limits, the name printable ASCII of a
# valid length. scan() says yes (1) or "not this way" (0); it never words an error: on 0,
# tvns/protocol.py runs the full path (tvns/jsonscan.py, then the checks), which finds and
# names every problem as before. So a protocol this accepts is one the full path accepts
# with the same values (host_tests/test_protoscan.py compares the two over generated texts),
# and anything else (escapes, non-ASCII, exponents, a trigger block, an error) costs one
# extra pass of this code (~0.1 ms on the rp2 port), never a different verdict.
# Why viper: on the rp2 port each interpreted operation costs microseconds (a call ~10 us,
# a bytes slice ~30 us, a new str ~200 us) and the full path made ~1000 of them (16 ms);
# here the bytes are read through a pointer, integers are machine words, nothing is
# allocated. CPython (the host's `tvns validate`) runs the same code as plain Python
# (ptr8/ptr32 below stand in for the viper casts; every value stays below 2**30, so the
# machine words never overflow). Load time only: never in the control tick.
import sys

import micropython
from micropython import const

if sys.implementation.name != "micropython":  # the viper casts, for CPython (the host)

    def ptr8(b):
        return b

    def ptr32(b):
        return memoryview(b).cast("B").cast("i")  # the host's words: 32-bit little-endian


# Field kinds in the table (`table()`): what a field's value must be for this pass.
NUM = const(1)  # a number: units, places, range (lo..hi, or 0 when zero_ok)
STR = const(2)  # a string of lo..hi printable ASCII characters (the name)
BOOL = const(3)  # true or false
# 0: never on this pass (the trigger object): the full path judges it

PARAMS = const(6)  # words per field in the table: kind, places, lo, hi, zero_ok, required
OUT = const(
    3
)  # words per field in the result: present, value (number, bool) or start, end (string)


def table(fields):
    """fields: (name, kind, places, lo, hi, zero_ok, required) for each field, in order
    (protocol.fast_fields()) -> (NAMES, TABLE): what scan() reads, as the constants below
    hold them (32-bit little-endian words: the RP2040, the ESP32 and the hosts). Host use:
    building this on the board would cost ~15 ms of interpreted loops at the first `load`,
    so the constants are written out and host_tests/test_protoscan.py checks they agree."""
    import struct

    blob = b"".join(f[0].encode() for f in fields)
    nf = len(fields)
    words = [nf]
    pos = 0
    for f in fields:
        words.append(pos)
        pos += len(f[0])
    words.append(pos)
    for f in fields:
        words.extend(int(x) for x in f[1 : 1 + PARAMS])
    return blob, struct.pack("<%di" % len(words), *words)


def table_text(fields, numeric):
    """The text of the constants below for fields (numeric: the names kept in units), what
    test_protoscan prints when they have gone stale."""
    names, tab = table(fields)
    nf = len(fields)
    rows = []
    spans = [(0, 4 * (2 + nf), "the field count, then where each name starts in NAMES")]
    for k, f in enumerate(fields):
        at = 4 * (2 + nf + PARAMS * k)
        spans.append((at, at + 4 * PARAMS, f[0]))
    for a, b, what in spans:
        rows.append("    # " + what)
        for i in range(a, b, 12):  # three words a line
            rows.append("    %r" % tab[i : min(i + 12, b)])
    at = tuple((f[0], OUT * k) for k, f in enumerate(fields) if f[0] in numeric)
    k = {f[0]: OUT * i for i, f in enumerate(fields)}
    return "".join(
        (
            "NAMES = (\n%s\n)\n" % "\n".join("    %r" % n for n in _names_rows(fields)),
            "TABLE = (\n%s\n)\n" % "\n".join(rows),
            "NUMERIC_AT = %r\n" % (at,),
            "NAME_AT = const(%d)\n" % k["name"],
            "SHAM_AT = const(%d)\n" % k["sham"],
            "BLINDED_AT = const(%d)\n" % k["blinded"],
            "OUT_WORDS = const(%d)\n" % (OUT * nf),
        )
    )


def _names_rows(fields):
    rows = [b""]
    for f in fields:
        if len(rows[-1]) + len(f[0]) > 60:
            rows.append(b"")
        rows[-1] += f[0].encode()
    return rows


# The table of tvns/protocol.py's fields (table(protocol.fast_fields())), and where scan()
# puts each field's result in its out array (OUT words a field). Made on the host by
# table_text(); host_tests/test_protoscan.py fails, printing the new text, when a field or a
# limit changes. The words: kind, places, lo, hi, zero_ok, required.
# CONSTANTS-BEGIN
NAMES = (
    b"schemanameamplitude_mapulse_width_usinterphase_gap_us"
    b"frequency_hzon_soff_sramp_up_sramp_down_ssession_s"
    b"electrode_area_cm2shamkeepalive_sblindedtrigger"
)
TABLE = (
    # the field count, then where each name starts in NAMES
    b"\x10\x00\x00\x00\x00\x00\x00\x00\x06\x00\x00\x00"
    b"\n\x00\x00\x00\x16\x00\x00\x00$\x00\x00\x00"
    b"5\x00\x00\x00A\x00\x00\x00E\x00\x00\x00"
    b"J\x00\x00\x00S\x00\x00\x00^\x00\x00\x00"
    b"g\x00\x00\x00y\x00\x00\x00}\x00\x00\x00"
    b"\x88\x00\x00\x00\x8f\x00\x00\x00\x96\x00\x00\x00"
    # schema
    b"\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00"
    b"\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00"
    # name
    b"\x02\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00"
    b"@\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00"
    # amplitude_ma
    b"\x01\x00\x00\x00\x03\x00\x00\x00\x01\x00\x00\x00"
    b"\x10'\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00"
    # pulse_width_us
    b"\x01\x00\x00\x00\x00\x00\x00\x00\x14\x00\x00\x00"
    b"\xe8\x03\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00"
    # interphase_gap_us
    b"\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    b"d\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00"
    # frequency_hz
    b"\x01\x00\x00\x00\x03\x00\x00\x00\xe8\x03\x00\x00"
    b"\xa0\x86\x01\x00\x00\x00\x00\x00\x01\x00\x00\x00"
    # on_s
    b"\x01\x00\x00\x00\x03\x00\x00\x00d\x00\x00\x00"
    b"\x80\xee6\x00\x00\x00\x00\x00\x01\x00\x00\x00"
    # off_s
    b"\x01\x00\x00\x00\x03\x00\x00\x00d\x00\x00\x00"
    b"\x80\xee6\x00\x01\x00\x00\x00\x01\x00\x00\x00"
    # ramp_up_s
    b"\x01\x00\x00\x00\x03\x00\x00\x00\xe8\x03\x00\x00"
    b"\xc0'\t\x00\x00\x00\x00\x00\x01\x00\x00\x00"
    # ramp_down_s
    b"\x01\x00\x00\x00\x03\x00\x00\x00\xe8\x03\x00\x00"
    b"\xc0'\t\x00\x00\x00\x00\x00\x01\x00\x00\x00"
    # session_s
    b"\x01\x00\x00\x00\x03\x00\x00\x00\xd0\x07\x00\x00"
    b"\x80\xee6\x00\x00\x00\x00\x00\x01\x00\x00\x00"
    # electrode_area_cm2
    b"\x01\x00\x00\x00\x02\x00\x00\x00\x01\x00\x00\x00"
    b"\x10'\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00"
    # sham
    b"\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    b"\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00"
    # keepalive_s
    b"\x01\x00\x00\x00\x03\x00\x00\x00\xf4\x01\x00\x00"
    b"`\xea\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00"
    # blinded
    b"\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    # trigger
    b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
)
NUMERIC_AT = (
    ("amplitude_ma", 6),
    ("pulse_width_us", 9),
    ("interphase_gap_us", 12),
    ("frequency_hz", 15),
    ("on_s", 18),
    ("off_s", 21),
    ("ramp_up_s", 24),
    ("ramp_down_s", 27),
    ("session_s", 30),
    ("electrode_area_cm2", 33),
    ("keepalive_s", 39),
)
NAME_AT = const(3)
SHAM_AT = const(36)
BLINDED_AT = const(42)
OUT_WORDS = const(48)
# CONSTANTS-END


@micropython.viper
def scan(buf, names, tab, out) -> int:
    """buf: the protocol's bytes; names, tab: table(); out: array('i') of OUT words per
    field (written). 1: valid as far as this pass can tell (the values in out); 0: the full
    path decides."""
    p = ptr8(buf)
    n = int(len(buf))
    nm = ptr8(names)
    t = ptr32(tab)
    o = ptr32(out)
    nf = int(t[0])
    k = 0
    while k < OUT * nf:
        o[k] = 0
        k += 1
    i = 0
    while i < n and (int(p[i]) == 32 or int(p[i]) == 10 or int(p[i]) == 13 or int(p[i]) == 9):
        i += 1
    if i >= n or int(p[i]) != 123:  # {
        return 0
    i += 1
    while True:
        while i < n and (int(p[i]) == 32 or int(p[i]) == 10 or int(p[i]) == 13 or int(p[i]) == 9):
            i += 1
        if i >= n or int(p[i]) != 34:  # a key
            return 0
        ks = i + 1
        j = ks
        while j < n and int(p[j]) != 34:
            c = int(p[j])
            if c == 92 or c < 32 or c > 126:  # an escape, a control byte, non-ASCII
                return 0
            j += 1
        if j >= n:
            return 0
        kl = j - ks
        f = 0
        found = -1
        while f < nf:
            a = int(t[1 + f])
            if int(t[2 + f]) - a == kl:
                m = 0
                while m < kl and int(nm[a + m]) == int(p[ks + m]):
                    m += 1
                if m == kl:
                    found = f
                    break
            f += 1
        if found < 0:  # an unknown field
            return 0
        ob = OUT * found
        if int(o[ob]) != 0:  # given twice
            return 0
        i = j + 1
        while i < n and (int(p[i]) == 32 or int(p[i]) == 10 or int(p[i]) == 13 or int(p[i]) == 9):
            i += 1
        if i >= n or int(p[i]) != 58:  # :
            return 0
        i = i + 1
        while i < n and (int(p[i]) == 32 or int(p[i]) == 10 or int(p[i]) == 13 or int(p[i]) == 9):
            i += 1
        if i >= n:
            return 0
        pr = 2 + nf + PARAMS * found
        kind = int(t[pr])
        c = int(p[i])
        if kind == NUM:
            if c < 48 or c > 57:  # a sign, a string, a literal: the full path
                return 0
            v = 0
            digits = 0
            whole = 0
            frac = 0
            if c == 48:  # a leading zero stands alone
                i += 1
                if i < n and int(p[i]) >= 48 and int(p[i]) <= 57:
                    return 0
            else:
                while i < n and int(p[i]) >= 48 and int(p[i]) <= 57:
                    v = v * 10 + int(p[i]) - 48
                    digits += 1
                    whole += 1
                    i += 1
                    if digits > 9:
                        return 0
            if i < n and int(p[i]) == 46:  # .
                i += 1
                while i < n and int(p[i]) >= 48 and int(p[i]) <= 57:
                    v = v * 10 + int(p[i]) - 48
                    digits += 1
                    frac += 1
                    i += 1
                    if digits > 9:
                        return 0
                if frac == 0:  # "1." is not JSON
                    return 0
            if i < n and (int(p[i]) == 101 or int(p[i]) == 69):  # an exponent
                return 0
            places = int(t[pr + 1])
            if whole + places > 9:
                return 0
            if frac > places:  # finer digits must all be zero
                pw = 1
                while frac > places:
                    pw *= 10
                    frac -= 1
                if v % pw != 0:
                    return 0
                v = v // pw
            else:
                while frac < places:
                    v *= 10
                    frac += 1
            if (v < int(t[pr + 2]) or v > int(t[pr + 3])) and (v != 0 or int(t[pr + 4]) == 0):
                return 0
            o[ob + 1] = v
        elif kind == STR:
            if c != 34:
                return 0
            i += 1
            s = i
            while i < n and int(p[i]) != 34:
                c = int(p[i])
                if c == 92 or c < 32 or c > 126:
                    return 0
                i += 1
            if i >= n or i - s < int(t[pr + 2]) or i - s > int(t[pr + 3]):
                return 0
            o[ob + 1] = s
            o[ob + 2] = i
            i += 1
        elif kind == BOOL:
            if c == 116 and i + 4 <= n and int(p[i + 1]) == 114:  # true
                if int(p[i + 2]) != 117 or int(p[i + 3]) != 101:
                    return 0
                o[ob + 1] = 1
                i += 4
            elif c == 102 and i + 5 <= n and int(p[i + 1]) == 97:  # false
                if int(p[i + 2]) != 108 or int(p[i + 3]) != 115 or int(p[i + 4]) != 101:
                    return 0
                i += 5
            else:
                return 0
        else:
            return 0
        o[ob] = 1
        i = i
        while i < n and (int(p[i]) == 32 or int(p[i]) == 10 or int(p[i]) == 13 or int(p[i]) == 9):
            i += 1
        if i >= n:
            return 0
        c = int(p[i])
        if c == 125:  # }
            i = i + 1
            while i < n and (
                int(p[i]) == 32 or int(p[i]) == 10 or int(p[i]) == 13 or int(p[i]) == 9
            ):
                i += 1
            if i != n:
                return 0
            break
        if c != 44:  # ,
            return 0
        i += 1
    f = 0
    while f < nf:
        if int(t[2 + nf + PARAMS * f + 5]) != 0 and int(o[OUT * f]) == 0:  # missing
            return 0
        f += 1
    return 1


@micropython.viper
def member(buf, key, out) -> int:
    """The top-level member `key` (bytes) of a request line (bytes) when its value is an
    object: 1 with the value's start and end in out[0], out[1]; 0 when it is not found this
    way (absent, given twice, not an object, an escape in a key, not an object line): the
    caller's walk (jsonscan.member_span) decides. Strings are skipped escapes and all."""
    p = ptr8(buf)
    n = int(len(buf))
    kp = ptr8(key)
    kn = int(len(key))
    o = ptr32(out)
    i = 0
    while i < n and (int(p[i]) == 32 or int(p[i]) == 10 or int(p[i]) == 13 or int(p[i]) == 9):
        i += 1
    if i >= n or int(p[i]) != 123:
        return 0
    depth = 0
    want_key = 0  # at depth 1, after the line's '{' or a ','
    found = 0
    inside = 0  # within the value found
    while i < n:
        c = int(p[i])
        if c == 34:
            s = i + 1
            j = s
            esc = 0
            while j < n and int(p[j]) != 34:
                if int(p[j]) == 92:
                    esc = 1
                    j += 1
                j += 1
            if j >= n:
                return 0
            if want_key:
                want_key = 0
                if esc:
                    return 0
                m = 0
                if j - s == kn:
                    while m < kn and int(kp[m]) == int(p[s + m]):
                        m += 1
                if j - s == kn and m == kn:
                    if found:
                        return 0
                    m = j + 1
                    while m < n and (
                        int(p[m]) == 32 or int(p[m]) == 10 or int(p[m]) == 13 or int(p[m]) == 9
                    ):
                        m += 1
                    if m >= n or int(p[m]) != 58:
                        return 0
                    m += 1
                    while m < n and (
                        int(p[m]) == 32 or int(p[m]) == 10 or int(p[m]) == 13 or int(p[m]) == 9
                    ):
                        m += 1
                    if m >= n or int(p[m]) != 123:
                        return 0
                    found = 1
                    inside = 1
                    o[0] = m
                    j = m - 1  # the value's '{' is next
            i = j + 1
            continue
        if c == 123 or c == 91:
            depth += 1
            if depth == 1:
                want_key = 1
        elif c == 125 or c == 93:
            depth -= 1
            if inside and depth == 1:
                o[1] = i + 1
                inside = 0
            if depth == 0:
                break
        elif c == 44 and depth == 1:
            want_key = 1
        i += 1
    if depth != 0 or inside or not found:
        return 0
    return 1
