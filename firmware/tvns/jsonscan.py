# Strict JSON (RFC 8259) for protocol files, with the same verdict on every runtime.
# Why not json.loads: MicroPython's is lenient (trailing and missing commas, missing colons,
# leading zeros, "1.", lax UTF-8), CPython's accepts NaN; neither reports a key given twice;
# and both turn numbers into floats, which round one way on a host (double) and another on
# a board (single precision). This scanner keeps every number as its decimal text (Num) for
# tvns/units.py to convert exactly into integer units, and lists the keys of the top-level
# object that appear more than once. It works on bytes (O(1) indexing on every port) and
# jumps with find() where it can. Load time only: never in the control tick.
# Longer than ~300 lines on purpose: the full scanner and its fast paths (flat objects,
# member spans) must agree byte for byte (test_numerics.py fuzzes one against the other).


class JsonError(ValueError):
    pass


class Num:
    """A JSON number as its text. NaN, Infinity and -Infinity (which CPython's json reads)
    are kept too, so that the validator can call them not_finite rather than not JSON.
    raw: the bytes of a number the strict grammar matched (the fast path below), or None;
    its text is then made on first use: on the rp2 port each new str costs ~200 us (a
    search of the interned strings), and a valid protocol's numbers are converted from
    their bytes (units.units_of) without one (docs/SPEED.md "load")."""

    __slots__ = ("_text", "raw")

    def __init__(self, text, raw=None):
        self._text = text
        self.raw = raw

    @property
    def text(self):
        t = self._text
        if t is None:
            t = self._text = self.raw.decode()
        return t


# Keys the fast path meets often (the protocol's fields, registered by tvns/protocol.py) as
# str objects made once: a key's decode() is ~200 us on the rp2 port (see Num).
_NAMES = {}


def known_names(names):
    """Register keys (str) that the fast path hands back without decoding them again."""
    for name in names:
        _NAMES[name.encode()] = name


MAX_DEPTH = 16  # nesting a protocol never needs; also bounds the recursion on a board
_ESCAPES = {0x22: '"', 0x5C: "\\", 0x2F: "/", 0x62: "\b", 0x66: "\f", 0x6E: "\n", 0x72: "\r"}
_ESCAPES[0x74] = "\t"
_WORDS = ((b"true", True), (b"false", False), (b"null", None))
_SPECIAL = (b"NaN", b"Infinity", b"-Infinity")


try:
    import re

    # After a key: ':' and a token (a number or literal) then ',' or '}', or ':' alone (a
    # string follows); after a string value: ',' or '}'. Whitespace: JSON's four only.
    _AFTER_KEY = re.compile(b"[ \t\n\r]*:[ \t\n\r]*([^ \t\n\r,}]*)[ \t\n\r]*([,}]?)[ \t\n\r]*$")
    _AFTER_VALUE = re.compile(b"[ \t\n\r]*([,}])[ \t\n\r]*$")
    _NUMBER = re.compile(b"-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?$")
except (ImportError, ValueError):  # no re, or one that refuses these: the full scanner
    _AFTER_KEY = None
_WS = b" \t\n\r"  # JSON's whitespace, and only it (bytes.strip() would take \x0b, \x0c too)
_TOKENS = {b"true": True, b"false": False, b"null": None}


def loads(data):
    """bytes -> (value, dups): dups lists the top-level object's keys seen twice (in order).
    Raises JsonError naming the byte offset of the first problem."""
    if data and max(data) >= 0x80:
        _check_utf8(data)
    else:
        got = _flat(data)
        if got is not None:
            return got
    s = _Scan(data)
    i = s.ws(0)
    value, i = s.value(i, 0)
    if s.ws(i) != s.n:
        s.fail(i, "extra data after the JSON value")
    return value, s.dups


def _flat(b):
    """The usual protocol, fast: an ASCII object of members whose values are strings without
    escapes, numbers or literals, walked with C string methods (split on quotes, one regex
    per member) instead of byte by byte. Returns what the full scanner would return, or None
    for anything else (nesting, escapes, an error): the full scanner then decides."""
    if _AFTER_KEY is None or b"\\" in b:
        return None
    parts = b.split(b'"')
    n = len(parts)
    if n < 4 or parts[0].strip(_WS) != b"{":
        return None
    try:
        return _members(parts, n)
    except RuntimeError:  # the regex engine's recursion limit: the full scanner decides
        return None


_SEGMENT_MAX = 64  # longer runs between strings (whitespace, digits) go to the full scanner


def _members(parts, n):
    doc = {}
    dups = []
    i = 1
    while i + 1 < n:
        key = parts[i]
        seg = parts[i + 1]
        if len(seg) > _SEGMENT_MAX:
            return None
        m = _AFTER_KEY.match(seg)
        name = _NAMES.get(key)  # a registered key has no control character
        if m is None or (name is None and key and min(key) < 0x20):
            return None
        tok = m.group(1)
        if tok:
            if tok in _TOKENS:
                value = _TOKENS[tok]
            elif _NUMBER.match(tok):
                value = Num(None, tok)
            elif tok in _SPECIAL:
                value = Num(tok.decode())
            else:
                return None
            sep = m.group(2)
            i += 2
        else:  # a string, then ',' or '}'
            if m.group(2) or i + 3 >= n:
                return None
            raw = parts[i + 2]
            if raw and min(raw) < 0x20:
                return None
            value = raw.decode()
            seg = parts[i + 3]
            m = _AFTER_VALUE.match(seg) if len(seg) <= _SEGMENT_MAX else None
            if m is None:
                return None
            sep = m.group(1)
            i += 4
        if name is None:
            name = key.decode()
        if name in doc:
            dups.append(name)
        doc[name] = value
        if sep == b"}":
            return (doc, dups) if i == n else None
        if sep != b",":
            return None
    return None


def _check_utf8(b):
    """Strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF): MicroPython's
    decode() lets all three through, CPython's refuses them."""
    i = 0
    n = len(b)
    while i < n:
        c = b[i]
        if c < 0x80:
            i += 1
            continue
        lo, hi = 0x80, 0xBF
        if 0xC2 <= c <= 0xDF:
            more = 1
        elif 0xE0 <= c <= 0xEF:
            more = 2
            if c == 0xE0:
                lo = 0xA0
            elif c == 0xED:
                hi = 0x9F
        elif 0xF0 <= c <= 0xF4:
            more = 3
            if c == 0xF0:
                lo = 0x90
            elif c == 0xF4:
                hi = 0x8F
        else:
            raise JsonError("invalid UTF-8 at byte %d" % i)
        if i + more >= n:
            raise JsonError("truncated UTF-8 at byte %d" % i)
        if not lo <= b[i + 1] <= hi:
            raise JsonError("invalid UTF-8 at byte %d" % i)
        for k in range(i + 2, i + more + 1):
            if not 0x80 <= b[k] <= 0xBF:
                raise JsonError("invalid UTF-8 at byte %d" % i)
        i += more + 1


class _Scan:
    def __init__(self, b):
        self.b = b
        self.n = len(b)
        self.dups = []

    def fail(self, i, what):
        raise JsonError("%s at byte %d" % (what, i))

    def ws(self, i):
        b = self.b
        n = self.n
        while i < n:
            c = b[i]
            if c != 0x20 and c != 0x0A and c != 0x0D and c != 0x09:
                return i
            i += 1
        return i

    def value(self, i, depth):
        if i >= self.n:
            self.fail(i, "a value expected")
        c = self.b[i]
        if c == 0x22:
            return self.string(i)
        if c == 0x7B:
            return self.obj(i, depth + 1)
        if c == 0x5B:
            return self.arr(i, depth + 1)
        if c == 0x2D or 0x30 <= c <= 0x39:
            return self.number(i)
        b = self.b
        for word, val in _WORDS:
            if b[i : i + len(word)] == word:
                return val, i + len(word)
        for word in _SPECIAL:
            if b[i : i + len(word)] == word:
                return Num(word.decode()), i + len(word)
        self.fail(i, "a value expected")

    def digits(self, i):
        b = self.b
        n = self.n
        j = i
        while j < n and 0x30 <= b[j] <= 0x39:
            j += 1
        if j == i:
            self.fail(i, "a digit expected")
        return j

    def number(self, i):
        b = self.b
        n = self.n
        j = i
        if b[j] == 0x2D:
            if b[j : j + 9] == b"-Infinity":
                return Num("-Infinity"), j + 9
            j += 1
        if j < n and b[j] == 0x30:
            j += 1  # a leading zero stands alone
        else:
            j = self.digits(j)
        if j < n and b[j] == 0x2E:
            j = self.digits(j + 1)
        if j < n and (b[j] == 0x65 or b[j] == 0x45):
            j += 1
            if j < n and (b[j] == 0x2B or b[j] == 0x2D):
                j += 1
            j = self.digits(j)
        return Num(None, b[i:j]), j  # the strict grammar: finite, converted from its bytes

    def string(self, i):
        b = self.b
        start = j = i + 1
        parts = []
        while True:
            q = b.find(b'"', j)
            if q < 0:
                self.fail(i, "unterminated string")
            e = b.find(b"\\", j, q)
            end = q if e < 0 else e
            seg = b[start:end]
            if seg and min(seg) < 0x20:
                self.fail(start, "a control character in a string")
            parts.append(seg.decode())
            if e < 0:
                return "".join(parts), q + 1
            j = self.escape(e, parts)
            start = j

    def escape(self, e, parts):
        b = self.b
        c = b[e + 1] if e + 1 < self.n else 0
        ch = _ESCAPES.get(c)
        if ch is not None:
            parts.append(ch)
            return e + 2
        if c != 0x75:
            self.fail(e, "a bad escape")
        cp = self.hex4(e + 2)
        j = e + 6
        if 0xD800 <= cp < 0xDC00:  # a high surrogate: the low half must follow
            if b[j : j + 2] != b"\\u":
                self.fail(e, "a lone surrogate escape")
            lo = self.hex4(j + 2)
            if not 0xDC00 <= lo < 0xE000:
                self.fail(e, "a lone surrogate escape")
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
            j += 6
        elif 0xDC00 <= cp < 0xE000:
            self.fail(e, "a lone surrogate escape")
        parts.append(chr(cp))
        return j

    def hex4(self, i):
        h = self.b[i : i + 4]
        if len(h) != 4:
            self.fail(i, "four hex digits expected")
        v = 0
        for c in h:
            if 0x30 <= c <= 0x39:
                d = c - 0x30
            elif 0x61 <= c <= 0x66:
                d = c - 0x57
            elif 0x41 <= c <= 0x46:
                d = c - 0x37
            else:
                self.fail(i, "four hex digits expected")
            v = v * 16 + d
        return v

    def obj(self, i, depth):
        if depth > MAX_DEPTH:
            self.fail(i, "nested too deep")
        b = self.b
        d = {}
        i = self.ws(i + 1)
        if i < self.n and b[i] == 0x7D:
            return d, i + 1
        while True:
            if i >= self.n or b[i] != 0x22:
                self.fail(i, "a key (a string) expected")
            key, i = self.string(i)
            i = self.ws(i)
            if i >= self.n or b[i] != 0x3A:
                self.fail(i, "':' expected")
            value, i = self.value(self.ws(i + 1), depth)
            if depth == 1 and key in d:
                self.dups.append(key)
            d[key] = value
            i = self.ws(i)
            c = b[i] if i < self.n else 0
            if c == 0x7D:
                return d, i + 1
            if c != 0x2C:
                self.fail(i, "',' or '}' expected")
            i = self.ws(i + 1)

    def arr(self, i, depth):
        if depth > MAX_DEPTH:
            self.fail(i, "nested too deep")
        b = self.b
        out = []
        i = self.ws(i + 1)
        if i < self.n and b[i] == 0x5D:
            return out, i + 1
        while True:
            value, i = self.value(i, depth)
            out.append(value)
            i = self.ws(i)
            c = b[i] if i < self.n else 0
            if c == 0x5D:
                return out, i + 1
            if c != 0x2C:
                self.fail(i, "',' or ']' expected")
            i = self.ws(i + 1)


_SPAN = None  # protoscan.member's result words, made by the first use


def member_span(line, key):
    """(start, end) of the text of the top-level member `key` in a request line (bytes) that
    json.loads has already accepted; None when absent or when the line cannot be walked.
    The console hands that text to the protocol validator, so a protocol sent inside a request
    is judged on exactly the bytes a host sent (duplicate keys and number spelling included).
    The last occurrence wins, as in json.loads. The usual line is walked once in machine
    code (tvns/protoscan.member: ~1.2 ms less on the rp2 port); the rest as before."""
    global _SPAN
    from tvns import protoscan

    if _SPAN is None:
        # array is an extensible built-in: `from array import array` first searches the
        # file system, ~2.5 ms each time on the rp2 port; tvns.ring (boot) holds it.
        from tvns.ring import array

        _SPAN = array("i", (0, 0))
    if protoscan.member(line, key.encode(), _SPAN):
        return _SPAN[0], _SPAN[1]
    got = _span_flat(line, key)
    return got if got is not None else _span_walk(line, key)


def _span_flat(line, key):
    """member_span() for the usual request, with C searches only: the key once, outside any
    string, at depth 1, and a value that is one flat object (no braces inside it, an even
    number of quotes). None for anything else: the walk below then decides."""
    k = b'"' + key.encode() + b'":'
    i = line.find(k)
    if i < 0 or b"\\" in line or line.count(k) != 1 or line.count(b'"', 0, i) % 2:
        return None
    if line.count(b"{", 0, i) != 1 or line.count(b"}", 0, i) or line[:1] != b"{":
        return None
    v = i + len(k)
    while line[v : v + 1] in (b" ", b"\t", b"\n", b"\r"):
        v += 1
    if line[v : v + 1] != b"{":
        return None
    end = line.find(b"}", v)
    if end < 0 or line.count(b"{", v + 1, end) or line.count(b'"', v, end) % 2:
        return None
    return v, end + 1


def _span_walk(line, key):
    s = _Scan(line)
    i = s.ws(0)
    found = None
    try:
        if i >= s.n or line[i] != 0x7B:
            return None
        i = s.ws(i + 1)
        while i < s.n and line[i] != 0x7D:
            name, i = s.string(i)
            i = s.ws(i)
            if i >= s.n or line[i] != 0x3A:
                return None
            start = s.ws(i + 1)
            end = _skip(s, start)
            if name == key:
                found = (start, end)
            i = s.ws(end)
            if i < s.n and line[i] == 0x2C:
                i = s.ws(i + 1)
    except (JsonError, IndexError, UnicodeError):
        return None
    return found


def _skip(s, i):
    """The end of the value starting at i, without building it."""
    b = s.b
    c = b[i]
    if c == 0x22:
        return _string_end(b, i)
    if c == 0x7B or c == 0x5B:
        depth = 0
        while i < s.n:
            c = b[i]
            if c == 0x22:
                i = _string_end(b, i)
                continue
            if c == 0x7B or c == 0x5B:
                depth += 1
            elif c == 0x7D or c == 0x5D:
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
        raise JsonError("unterminated value")
    while i < s.n and b[i] not in b",}] \t\r\n":
        i += 1
    return i


def _string_end(b, i):
    """Just past the closing quote of the string starting at i (escapes skipped)."""
    j = i + 1
    while True:
        q = b.find(b'"', j)
        if q < 0:
            raise JsonError("unterminated string")
        k = q
        while k > j and b[k - 1] == 0x5C:
            k -= 1
        if (q - k) % 2 == 0:  # an even run of backslashes: the quote is not escaped
            return q + 1
        j = q + 1
