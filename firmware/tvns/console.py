# The command console: JSON lines over the USB serial link (PROTOCOL.md).
# Runs in the main loop, never in the tick: feed() takes whatever bytes arrived (possibly
# none, half a line or many lines), answers every complete request line with exactly one
# reply line, and service() forwards the app's events. Nothing here blocks; the control
# tick runs on its own timer (board) or at deadlines (sim) and never waits for us.
import json

from micropython import const

from tvns import VERSION
from tvns import errors as E
from tvns import investigator as I
from tvns import limits as L

PROTOCOL_VERSION = 1  # of the console protocol; bumped only for incompatible changes
LINE_MAX_BYTES = const(4096)  # a protocol is at most 4096 bytes; a request carries one
LOG_RECORDS = const(64)  # event records kept in RAM (power-cut-safe logs: a later issue)
LOG_REPLY_MAX = const(16)  # records per `log` reply, so a reply line stays short
ID_MAX_CHARS = const(64)
_INTR_BYTE = b"\x03"  # Ctrl-C

# Policy while a session is stimulating (PROTOCOL.md "While stimulating"): a new stimulus
# or configuration is refused; stop, status and the read-only commands are always served.
REFUSED_WHILE_RUNNING = (
    "load",
    "arm",
    "start",
    "clear",
    "allocate",
    "set_ceiling",
    "clear_exposure",
)


def limits_table():
    """{NAME: value} of every hard limit in tvns.limits."""
    out = {}
    for name in dir(L):
        if name[:1].isupper():
            v = getattr(L, name)
            if isinstance(v, int):
                out[name] = v
    return out


def crc32(data, crc=0):
    # Bitwise CRC-32 (zlib's): binascii.crc32 is not in every port's build.
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def limits_digest():
    """CRC-32 of 'NAME=value\\n' for the sorted limits, as 8 hex digits: the host compares
    it with its own copy of limits.py to know the device enforces the same limits."""
    t = limits_table()
    text = "".join("%s=%d\n" % (k, t[k]) for k in sorted(t))
    return "%08x" % crc32(text.encode())


class Console:
    def __init__(self, app, write, intr_char=True):
        self.app = app
        self._write = write  # write(text): one complete line, "\n" included
        self.intr_char = intr_char  # 0x03 raises KeyboardInterrupt, as kbd_intr does
        self._buf = bytearray()
        self._discarding = False  # inside an overlong line, dropping up to its newline
        self.counts = {"requests": 0, "errors": 0, "blank": 0, "overlong": 0}
        self.log = []  # [record dict with "seq"], oldest first, at most LOG_RECORDS
        self.next_seq = 0
        self._digest = None

    # ---- input ----
    def feed(self, data):
        """Take received bytes; answer every complete line in them."""
        if not data:
            return
        if self.intr_char and _INTR_BYTE in data:
            raise KeyboardInterrupt  # main.py's finally turns the output off
        start = 0
        while True:
            nl = data.find(b"\n", start)
            chunk = data[start:] if nl < 0 else data[start:nl]
            if self._discarding:
                if nl >= 0:
                    self._discarding = False
            elif len(self._buf) + len(chunk) > LINE_MAX_BYTES:
                # Reply once, then drop the rest of this line wherever it ends.
                self._buf = bytearray()
                self._discarding = nl < 0
                self.counts["overlong"] += 1
                self._error(None, E.LINE_TOO_LONG, "line longer than %d bytes" % LINE_MAX_BYTES)
            else:
                self._buf += chunk
                if nl >= 0:
                    line = bytes(self._buf)
                    self._buf = bytearray()
                    self._line(line)
            if nl < 0:
                return
            start = nl + 1

    def _line(self, raw):
        raw = raw.strip()  # "\r\n" endings and stray spaces are fine
        if not raw:
            self.counts["blank"] += 1  # an empty line re-synchronises; no reply
            return
        try:
            text = raw.decode()
        except UnicodeError:
            return self._error(None, E.BAD_UTF8, "request is not valid UTF-8")
        try:
            req = json.loads(text)
        except ValueError:
            return self._error(None, E.BAD_JSON, "request is not JSON")
        if not isinstance(req, dict):
            return self._error(None, E.NOT_OBJECT, "request must be a JSON object")
        rid = req.get("id")
        if isinstance(rid, bool) or not isinstance(rid, (int, str)):
            return self._error(None, E.BAD_FIELD, "id must be an integer or a string", "id")
        if isinstance(rid, str) and len(rid) > ID_MAX_CHARS:
            return self._error(None, E.BAD_FIELD, "id longer than %d" % ID_MAX_CHARS, "id")
        cmd = req.get("cmd")
        handler = COMMANDS.get(cmd) if isinstance(cmd, str) else None
        if handler is None:
            return self._error(rid, E.UNKNOWN_CMD, "unknown command %r" % (cmd,), "cmd")
        self.counts["requests"] += 1
        self.app.host_seen()
        if cmd in REFUSED_WHILE_RUNNING and self.app.session.running():
            msg = "%s refused while stimulating; stop first" % cmd
            return self._error(rid, E.BUSY, msg)
        try:
            reply = handler(self, req)
        except E.TvnsError as exc:
            return self._error(rid, exc.code, exc.message, exc.field, getattr(exc, "errors", None))
        except Exception as exc:  # noqa: BLE001 - a bug must not take the console down
            return self._error(rid, E.INTERNAL, "%s: %s" % (type(exc).__name__, exc))
        reply["id"] = rid
        reply["ok"] = True
        self._send(reply)

    # ---- output ----
    def _send(self, obj):
        self._write(json.dumps(obj) + "\n")

    def _error(self, rid, code, message, field=None, errors=None):
        self.counts["errors"] += 1
        err = {"code": code, "message": message}
        if field is not None:
            err["field"] = field
        reply = {"id": rid, "ok": False, "error": err}
        if errors and len(errors) > 1:
            reply["errors"] = [e.as_dict() for e in errors]
        self._send(reply)

    def event(self, ev):
        """Number an event, keep it in the log ring and send it as an event line."""
        ev["seq"] = self.next_seq
        self.next_seq += 1
        self.log.append(ev)
        if len(self.log) > LOG_RECORDS:
            self.log.pop(0)
        self._send(ev)

    def service(self):
        """Main loop: forward the app's events (state changes, faults, session end)."""
        for ev in self.app.pop_events():
            if ev.get("event") == "session_end" and "pulses" not in ev:
                ev["pulses"] = self.app.status().get("pulses")
            self.event(ev)

    def digest(self):
        if self._digest is None:
            self._digest = limits_digest()
        return self._digest

    def hello(self):
        return {
            "version": VERSION,
            "board": self.app.board.name,
            "limits_crc": self.digest(),
            "console": PROTOCOL_VERSION,
            "line_max_bytes": LINE_MAX_BYTES,
        }


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
    if not isinstance(src, (dict, str)):
        raise E.TvnsError(E.BAD_FIELD, "protocol must be a JSON object", "protocol")
    proto = con.app.load(src, _pin(req))
    return {"protocol": proto.name, "derived": proto.derived()}


def _set_pin(con, req):
    I.set_pin(con.app, _pin(req, "new_pin"), _pin(req))
    return {}


def _allocate(con, req):
    I.allocate(con.app, req.get("arm"), _pin(req))
    return {}


def _unblind(con, req):
    return {"arm": I.unblind(con.app, _pin(req))}


def _set_ceiling(con, req):
    ma = req.get("ceiling_ma")
    if isinstance(ma, bool) or not isinstance(ma, (int, float)) or not 0 <= ma <= 1e3:
        raise E.TvnsError(E.BAD_FIELD, "ceiling_ma must be a number of mA", "ceiling_ma")
    ua = int(round(ma * 1000))
    if abs(ma * 1000 - ua) > 1e-6:
        raise E.TvnsError(E.BAD_FIELD, "ceiling_ma: 0.001 mA resolution", "ceiling_ma")
    I.set_ceiling(con.app, ua, _pin(req))
    return {"ceiling_ua": con.app.scheduler.ceiling_ua}


def _clear_exposure(con, req):
    I.clear_exposure(con.app, _pin(req))
    return {}


def _session_cmd(name):
    def handler(con, req):
        getattr(con.app, name)()
        return {"state": con.app.status()["state"]}

    return handler


def _status(con, req):
    st = con.app.status()
    st["console"] = dict(con.counts)
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
    con.app.set_time(int(t))
    return {}


COMMANDS = {
    "hello": _hello,
    "limits": _limits,
    "load": _load,
    "arm": _session_cmd("arm"),
    "start": _session_cmd("start"),
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
}
