# The console's commands: one handler per command name (PROTOCOL.md "Commands"), the hard
# limits table and its digest. console.py owns the line framing, the one-reply rule and the
# busy policy, then calls COMMANDS[cmd](console, request); a handler returns the reply's
# fields or raises TvnsError to refuse. Nothing here blocks or touches hardware.
import binascii
import json

try:
    import os
except ImportError:  # pragma: no cover
    import uos as os

from micropython import const

from tvns import errors as E
from tvns import jsonscan
from tvns import limits as L
from tvns.log import crc32, rotated_name  # the firmware's one CRC-32 (binascii.crc32)

LOG_REPLY_MAX = const(16)  # records per `log` reply, so a reply line stays short
LOG_READ_MAX = const(1024)  # raw bytes per `log_read` page: a reply of about 1.5 kB
# A reply's members given by a handler as JSON text (`"key": value, ...`): the console
# writes them as they are, after "id", "ok" and any other member of the reply (the `load`
# reply: its figures written exactly from integers, Protocol.figures_json, and no dict to
# json.dumps).
RAW_JSON = "_json"


# The investigator's commands and the titration are imported on first use, not at boot:
# each module imported costs its bytecode in the heap and tens of ms of the boot on the
# rp2 port (docs/SPEED.md "Boot"). A first use pays it once (PROTOCOL.md "First use").
def _inv():
    from tvns import investigator

    return investigator


def _titr():
    from tvns import titration

    return titration


def limits_table():
    """{NAME: value} of every hard limit in tvns.limits."""
    out = {}
    # The module's own dict, not dir(L): MicroPython's dir() tries every interned name as
    # an attribute (83 ms at boot on the rp2 port, docs/SPEED.md); the dict holds the same.
    for name, v in L.__dict__.items():
        if name[:1].isupper() and isinstance(v, int):
            out[name] = v
    return out


def limits_digest():
    """CRC-32 of 'NAME=value\\n' for the sorted limits, as 8 hex digits: the host compares
    it with its own copy of limits.py to know the device enforces the same limits."""
    t = limits_table()
    text = "".join("%s=%d\n" % (k, t[k]) for k in sorted(t))
    return "%08x" % (crc32(text.encode()) & 0xFFFFFFFF)


# ---- command handlers: (console, request) -> reply fields; raise TvnsError to refuse ----
def _hello(con, req):
    return con.hello()


def _limits(con, req):
    ceiling_ua = con.app.scheduler.ceiling_ua
    return {"limits": limits_table(), "ceiling_ua": ceiling_ua, "limits_crc": con.digest()}


def _pin(req, name="pin"):
    """The PIN field: None when absent. Never echoed, logged or put in a message."""
    pin = req.get(name)
    if pin is not None and not isinstance(pin, str):
        raise E.TvnsError(E.BAD_FIELD, "%s must be a string" % name, name)
    return pin


def _load(con, req):
    src = req.get("protocol")
    if con.protocol_span is not None:  # read apart from the request (Console._line)
        src = con.protocol_span[2]
    elif isinstance(src, dict):
        # Judged on its own text, exactly as the host sent it (number spelling, a key given
        # twice): the same verdict as `tvns validate` on the file, on every runtime.
        span = jsonscan.member_span(con.line, "protocol")
        if span is None:
            raise E.TvnsError(E.BAD_FIELD, "protocol: the request line is not JSON", "protocol")
        src = con.line[span[0] : span[1]]
    elif not isinstance(src, str):
        raise E.TvnsError(E.BAD_FIELD, "protocol must be a JSON object", "protocol")
    proto = con.app.load(src, _pin(req))
    # the figures as JSON text written from their integers (Console puts RAW_JSON in as is)
    name = json.dumps(proto.name)
    return {RAW_JSON: '"protocol": %s, "derived": %s' % (name, proto.figures_json())}


def _set_pin(con, req):
    _inv().set_pin(con.app, _pin(req, "new_pin"), _pin(req))
    return {}


def _allocate(con, req):
    _inv().allocate(con.app, req.get("arm"), _pin(req))
    return {}


def _unblind(con, req):
    return {"arm": _inv().unblind(con.app, _pin(req))}


def _set_ceiling(con, req):
    ma = req.get("ceiling_ma")
    if isinstance(ma, bool) or not isinstance(ma, (int, float)) or not 0 <= ma <= 1e3:
        raise E.TvnsError(E.BAD_FIELD, "ceiling_ma must be a number of mA", "ceiling_ma")
    ua = int(round(ma * 1000))
    if abs(ma * 1000 - ua) > 1e-6:
        raise E.TvnsError(E.BAD_FIELD, "ceiling_ma: 0.001 mA resolution", "ceiling_ma")
    _inv().set_ceiling(con.app, ua, _pin(req))
    return {"ceiling_ua": con.app.scheduler.ceiling_ua}


def _clear_exposure(con, req):
    _inv().clear_exposure(con.app, _pin(req))
    return {}


def _session_cmd(name):
    def handler(con, req):
        getattr(con.app, name)()
        return {"state": con.app.status()["state"]}

    return handler


# The meta object as UTF-8 JSON: it rides in session_start, which must stay within a log line
# (8192 bytes) beside a 4096-byte protocol; as a request it fits the 4096-byte line escaped.
META_MAX_BYTES = const(1024)
_META_VALUE_MAX = const(200)


def _meta(req):
    """start's optional `meta` (docs/META.md): text values only, bounded, so session_start
    stays within a log line. The host checks the keys first; this is the device's bound."""
    meta = req.get("meta")
    if meta is None:
        return None
    ok = isinstance(meta, dict)
    if ok:
        for k in meta:
            v = meta[k]
            if len(k) > 32 or not isinstance(v, str) or len(v) > _META_VALUE_MAX:
                ok = False
                break
    if not ok or len(json.dumps(meta).encode()) > META_MAX_BYTES:
        msg = "meta must be an object of text values (<= %d chars each, %d bytes in all)"
        raise E.TvnsError(E.BAD_FIELD, msg % (_META_VALUE_MAX, META_MAX_BYTES), "meta")
    return meta


def _start(con, req):
    con.app.start(_meta(req))
    return {"state": con.app.status()["state"]}


def _status(con, req):
    st = con.app.status()
    st["console"] = con.counters()
    return st


def _log(con, req):
    since = req.get("since", 0)
    if isinstance(since, bool) or not isinstance(since, int) or since < 0:
        raise E.TvnsError(E.BAD_FIELD, "since must be an integer >= 0", "since")
    log = con.log
    first = log[0]["seq"] if log else con.next_seq
    out = [r for r in log if r["seq"] >= since][:LOG_REPLY_MAX]
    nxt = out[-1]["seq"] + 1 if out else max(since, first)
    return {"records": out, "next": nxt, "lost": max(0, first - since), "end": con.next_seq}


def _set_time(con, req):
    t = req.get("unix_s")
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 <= t < 2**40:
        raise E.TvnsError(E.BAD_FIELD, "unix_s must be a number of seconds >= 0", "unix_s")
    return con.app.set_time(int(t), _pin(req))


def _reset_store(con, req):
    return _inv().reset_store(con.app, _pin(req))


def _repl(con, req):
    _inv().open_repl(con.app, _pin(req))
    return {}


def _uint(req, name, default, top):
    v = req.get(name, default)
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= top:
        raise E.TvnsError(E.BAD_FIELD, "%s must be an integer 0..%d" % (name, top), name)
    return v


def _log_read(con, req):
    """A page of one session-log file, byte for byte: base64 `data`, its CRC-32 `crc`.
    `tvns logs pull` copies the files this way (never through the raw REPL)."""
    log = con.app.log
    if log is None:
        raise E.TvnsError(E.LOG_UNAVAILABLE, "this device keeps no session log")
    n = _uint(req, "file", 0, log.keep)
    offset = _uint(req, "offset", 0, 1 << 30)
    length = _uint(req, "length", LOG_READ_MAX, LOG_READ_MAX)
    path = rotated_name(log.path, n)
    reply = {"file": n, "keep": log.keep, "offset": offset}
    try:
        size = os.stat(path)[6]
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read(length) if offset < size else b""
    except OSError:
        reply.update(exists=False, size=0, next=offset, data="", crc="00000000")
        return reply
    reply["exists"] = True
    reply["size"] = size
    reply["next"] = offset + len(data)
    reply["data"] = binascii.b2a_base64(data).decode().strip()
    reply["crc"] = "%08x" % (crc32(data) & 0xFFFFFFFF)
    return reply


def _titrate(con, req):
    return {"titration": _titr().start(con.app, req.get("params"), _pin(req))}


def _trial(con, req):
    return _titr().trial(con.app)


def _answer(con, req):
    if req.get("abort") is True:
        return {"titration": _titr().abort(con.app)}
    return {"titration": _titr().answer(con.app, req.get("felt"))}


COMMANDS = {
    "hello": _hello,
    "limits": _limits,
    "load": _load,
    "arm": _session_cmd("arm"),
    "start": _start,
    "stop": _session_cmd("stop"),
    "clear": _session_cmd("clear"),
    "status": _status,
    "log": _log,
    "set_time": _set_time,
    "set_pin": _set_pin,
    "allocate": _allocate,
    "unblind": _unblind,
    "set_ceiling": _set_ceiling,
    "clear_exposure": _clear_exposure,
    "reset_store": _reset_store,
    "repl": _repl,
    "log_read": _log_read,
    "titrate": _titrate,
    "trial": _trial,
    "answer": _answer,
}
