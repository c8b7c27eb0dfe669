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
import micropython
from micropython import const

try:
    ptr8  # noqa: B018 - the viper emitter's cast; a name only CPython (the host) lacks
except NameError:

    def ptr8(b):
        return b

    def ptr32(b):
        return b


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
    """fields: (name, kind, places, lo, hi, zero_ok, required) for each field, in order ->
    (names blob, table array): what scan() reads. Made once (tvns/protocol.py)."""
    from array import array

    blob = b"".join(f[0].encode() for f in fields)
    nf = len(fields)
    tab = array("i", bytes(4 * (2 + nf + PARAMS * nf)))
    tab[0] = nf
    pos = 0
    for k, f in enumerate(fields):
        tab[1 + k] = pos
        pos += len(f[0])
        base = 2 + nf + PARAMS * k
        for m in range(PARAMS):
            tab[base + m] = int(f[1 + m])
    tab[1 + nf] = pos
    return blob, tab


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
