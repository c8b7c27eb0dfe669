# The store's file format and content rules (tvns/store.py keeps the file): what a
# well-formed content is (check), the checksummed encoding (encode/decode) and the PIN
# records a damaged or version-1 file still shows (pin_records). Never raises on input.
#     <JSON object>\n<CRC-32 of the JSON bytes, 8 lowercase hex digits>\n
import json

from tvns import limits as L
from tvns.log import crc32

VERSION = 2  # of the store's content; 1 was plain JSON without a checksum
KEYS = ("v", "active", "exposure", "allocation", "ceiling_ua", "pin", "pin_fails")
ENTRIES_MAX = 16  # exposure window entries kept (the oldest are merged beyond this)
PIN_ALG = "pbkdf2-sha256"
_NAME_MAX = 200
_BIG = 1 << 40  # the largest count or time the store accepts anywhere (ms or s)


def _int(v, lo, hi):
    return type(v) is int and lo <= v <= hi


def _hex(v, n):
    if type(v) is not str or len(v) != n:
        return False
    for c in v:
        if c not in "0123456789abcdef":
            return False
    return True


def _check_active(v):
    if type(v) is not dict or sorted(v) != ["name", "session_ms"]:
        return "must be {name, session_ms}"
    if type(v["name"]) is not str or len(v["name"]) > _NAME_MAX:
        return "name must be a string"
    if not _int(v["session_ms"], 0, L.SESSION_MAX_S * 1000):
        return "session_ms out of range"
    return None


def _check_exposure(v):
    if type(v) is not dict or sorted(v) != ["dev_s", "entries", "unix_s"]:
        return "must be {dev_s, unix_s, entries}"
    if not _int(v["dev_s"], 0, _BIG):
        return "dev_s out of range"
    if v["unix_s"] is not None and not _int(v["unix_s"], 0, _BIG):
        return "unix_s out of range"
    entries = v["entries"]
    if type(entries) is not list or len(entries) > ENTRIES_MAX:
        return "entries must be a list of at most %d" % ENTRIES_MAX
    for e in entries:
        if type(e) is not list or len(e) != 2 or not _int(e[0], 0, _BIG):
            return "entries must be [end_dev_s, used_ms] pairs"
        if not _int(e[1], 0, L.DAILY_EXPOSURE_MAX_S * 1000 * ENTRIES_MAX):
            return "used_ms out of range"
    return None


def _check_pin(v):
    if type(v) is not dict or sorted(v) != ["alg", "hash", "iter", "salt"]:
        return "must be {alg, iter, salt, hash}"
    if v["alg"] != PIN_ALG or not _int(v["iter"], 1, 10000000):
        return "unknown algorithm or iteration count"
    if not _hex(v["salt"], 32) or not _hex(v["hash"], 64):
        return "salt and hash must be lowercase hex"
    return None


def check(data):
    """None when data is a well-formed store content, else 'key: what is wrong'."""
    if type(data) is not dict:
        return "not a JSON object"
    for key in data:
        if key not in KEYS:
            return "%s: unknown key" % key
    if data.get("v") != VERSION or type(data.get("v")) is not int:
        return "v: not version %d" % VERSION
    why = None
    v = data.get("active")
    if v is not None:
        why = _check_active(v)
        if why:
            return "active: " + why
    v = data.get("exposure")
    if v is not None:
        why = _check_exposure(v)
        if why:
            return "exposure: " + why
    v = data.get("allocation")
    if v is not None and v not in ("active", "sham"):
        return "allocation: not active or sham"
    v = data.get("ceiling_ua")
    if v is not None and not _int(v, 1, L.CURRENT_MAX_UA):
        return "ceiling_ua: out of range"
    v = data.get("pin")
    if v is not None:
        why = _check_pin(v)
        if why:
            return "pin: " + why
    v = data.get("pin_fails")
    if v is not None and not _int(v, 0, _BIG):
        return "pin_fails: out of range"
    return None


def encode(data):
    body = json.dumps(data).encode()
    return body + ("\n%08x\n" % (crc32(body) & 0xFFFFFFFF)).encode()


def decode(raw):
    """File bytes -> (data dict, None) or (None, why). Never raises."""
    try:
        n = len(raw)
        if n < 12 or raw[n - 1 :] != b"\n" or raw[n - 10 : n - 9] != b"\n":
            return None, "no checksum line"
        body = raw[: n - 10]
        if raw[n - 9 : n - 1] != ("%08x" % (crc32(body) & 0xFFFFFFFF)).encode():
            return None, "checksum mismatch"
        data = json.loads(body)
    except (ValueError, TypeError, UnicodeError, MemoryError, RuntimeError):
        return None, "not JSON"
    why = check(data)
    return (None, why) if why else (data, None)


def pin_records(raw):
    """PIN records readable in bytes that did not decode (a damaged or legacy file): the
    `pin` value of a JSON object, in either format. Only `reset_store` uses them, once."""
    try:
        n = len(raw)
        if raw[n - 10 : n - 9] == b"\n" and raw[n - 1 :] == b"\n":
            raw = raw[: n - 10]  # a checksummed file whose content was ill-typed
        data = json.loads(raw)
        pin = data.get("pin") if type(data) is dict else None
    except (ValueError, TypeError, UnicodeError, MemoryError, RuntimeError, AttributeError):
        return []
    return [pin] if type(pin) is dict else []
