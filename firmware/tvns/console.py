# The command console: JSON lines over the USB serial link (PROTOCOL.md).
# Runs in the main loop, never in the tick: feed() takes whatever bytes arrived (possibly
# none, half a line or many lines), answers every complete request line with exactly one
# reply line, and service() forwards the app's events. Nothing here blocks; the control
# tick runs on its own timer (board) or at deadlines (sim) and never waits for us.
import json

from micropython import const

from tvns import VERSION
from tvns import errors as E
from tvns.commands import COMMANDS, RAW_JSON, limits_digest

PROTOCOL_VERSION = 1  # of the console protocol; bumped only for incompatible changes
LINE_MAX_BYTES = const(4096)  # a protocol is at most 4096 bytes; a request carries one
LOG_RECORDS = const(64)  # event records kept in RAM (power-cut-safe logs: a later issue)
ID_MAX_CHARS = const(64)
GC_EVERY = const(16)  # requests between idle collections (Console.gc_due)
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
    "reset_store",
    "repl",
    "titrate",
    "trial",
    "answer",
)


class Console:
    def __init__(self, app, write, intr_char=True, out=None, kbd_intr=None):
        """write(text): one complete line, "\n" included. out: the PollWriter behind write,
        for its counters. kbd_intr: micropython.kbd_intr on a board (Ctrl-C is then handled
        by the USB stack while allowed), None where 0x03 arrives as data (pipes)."""
        self.app = app
        self._write = write
        self._out = out
        self._kbd_intr = kbd_intr
        self._intr_on = None  # what kbd_intr was last set to
        self.intr_char = intr_char  # 0x03 raises KeyboardInterrupt, as kbd_intr does
        self._buf = bytearray()
        self._discarding = False  # inside an overlong line, dropping up to its newline
        self.counts = {"requests": 0, "errors": 0, "blank": 0, "overlong": 0, "ctrl_c": 0}
        self.log = []  # [record dict with "seq"], oldest first, at most LOG_RECORDS
        self.next_seq = 0
        self._digest = None
        self.line = b""  # the request line being served (`load` judges a protocol on its text)
        self.protocol_span = None  # (start, end, text) of its protocol, when read apart
        # A board's main loop collects the garbage when idle while this is set (mainloop.
        # _RealPacer): after boot, after a `load` (the request that leaves the most) and
        # every GC_EVERY requests, so that a request rarely pays for a collection.
        self.gc_due = True
        self._since_gc = 0

    # ---- input ----
    def feed(self, data):
        """Take received bytes; answer every complete line in them."""
        if not data:
            return
        if _INTR_BYTE in data:
            if self.intr_char and self.app.ctrl_c_allowed():
                raise KeyboardInterrupt  # main.py's finally turns the output off
            # Locked (a PIN is set): Ctrl-C never reaches the REPL; it asks for the orderly
            # stop that `tvns run` sends on Ctrl-C, and is otherwise ignored.
            self.counts["ctrl_c"] += 1
            if self.app.session.running():
                self.app.stop()
            data = bytes(b for b in data if b != 3)
            if not data:
                return
        start = 0
        nl = data.find(b"\n")
        one = nl == len(data) - 1 and type(data) is bytes and nl <= LINE_MAX_BYTES
        if one and not self._buf and not self._discarding:
            # One whole line, the usual read (console_io.PadReader): served from data itself,
            # without the two copies through _buf (a 300-byte `load`: ~0.3 ms on the rp2 port)
            self._line(data[:nl])
            self.app.keepalive()
            return
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
                    self.app.keepalive()  # the next request may be in this pass too
            if nl < 0:
                return
            start = nl + 1

    def _line(self, raw):
        # "\r\n" endings and stray spaces are fine. strip() only when an end is a space or a
        # control byte: on the rp2 port it copies the line (~1 ms for a 300-byte `load`).
        if not raw or raw[0] <= 32 or raw[-1] <= 32:
            raw = raw.strip()
        if not raw:
            self.counts["blank"] += 1  # an empty line re-synchronises; no reply
            return
        try:
            text = raw.decode()
        except UnicodeError:
            return self._error(None, E.BAD_UTF8, "request is not valid UTF-8")
        span = self.protocol_span = _protocol_span(raw)
        try:
            # A `load`'s protocol object that the one pass accepts is strict JSON, and it is
            # judged on its own text: json.loads reads the request around it (the rest of
            # a 300-byte `load` in ~0.2 ms instead of ~1.6 ms on the rp2 port).
            req = json.loads(text if span is None else raw[: span[0]] + b"{}" + raw[span[1] :])
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
        self._since_gc += 1
        if cmd == "load" or self._since_gc >= GC_EVERY:
            self.gc_due = True
            self._since_gc = 0
        self.line = raw
        self.app.host_seen()
        if self.app.session.running() and cmd in REFUSED_WHILE_RUNNING:
            msg = "%s refused while stimulating; stop first" % cmd
            return self._error(rid, E.BUSY, msg)
        try:
            reply = handler(self, req)
        except E.TvnsError as exc:
            return self._error(rid, exc.code, exc.message, exc.field, getattr(exc, "errors", None))
        except Exception as exc:  # noqa: BLE001 - a bug must not take the console down
            return self._error(rid, E.INTERNAL, "%s: %s" % (type(exc).__name__, exc))
        raw = reply.pop(RAW_JSON, None)
        if raw is None:
            reply["id"] = rid
            reply["ok"] = True
            self._send(reply)
        else:  # the members given as JSON text (commands.RAW_JSON): put in as they are,
            # without a dict and its json.dumps (~0.4 ms of a `load` on the rp2 port)
            if reply:  # members beside the text (`load` gives none): kept, at dumps' cost
                raw = json.dumps(reply)[1:-1] + ", " + raw
            self._write('{"id": %s, "ok": true, %s}\n' % (json.dumps(rid), raw))

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
        """Number an event, keep it in the log ring and send it as an event line. The app
        keeps times as integer t_ms; the line (and the ring it is served from) says t_s."""
        if "t_ms" in ev:
            ev["t_s"] = ev.pop("t_ms") / 1000
        ev["seq"] = self.next_seq
        self.next_seq += 1
        self.log.append(ev)
        if len(self.log) > LOG_RECORDS:
            self.log.pop(0)
        self._send(ev)

    def counters(self):
        out = dict(self.counts)
        if self._out is not None:
            out["tx_dropped"] = self._out.dropped
            out["tx_queued_bytes"] = self._out.queued
        return out

    def service(self):
        """Main loop: the Ctrl-C policy, waiting output, then the app's events (state
        changes, faults, session end)."""
        allowed = self.app.ctrl_c_allowed()
        if allowed != self._intr_on:
            self._intr_on = allowed
            if self._kbd_intr is not None:
                self._kbd_intr(3 if allowed else -1)
        if self._out is not None:
            self._out.pump()
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
            "store": self.app.store.health(),
            "log": self.app.journal.health(),
            "ctrl_c": self.app.ctrl_c_allowed(),
            # null on a device that holds a blinded allocation: what the heap holds differs
            # with the arm (the stored arm's text; the sim board's trace grows with what it
            # delivers), so its free bytes could tell the arms apart (docs/BLINDING.md)
            "heap_free": None if self.app.store.get("allocation") is not None else heap_free(),
        }


_SPAN = None  # protoscan.member's result words, made by the first use


def _protocol_span(raw):
    """(start, end, text) of the request line's top-level `protocol` object when the one
    pass accepts it (protocol.one_pass: strict JSON, a valid protocol's shape), else None
    (the request is read whole, as any other)."""
    global _SPAN
    if b'"protocol"' not in raw:
        return None
    from tvns import protocol, protoscan

    if _SPAN is None:
        from tvns.ring import array  # not `from array import`: see protocol.one_pass

        _SPAN = array("i", (0, 0))
    if not protoscan.member(raw, b"protocol", _SPAN):
        return None
    a = _SPAN[0]
    b = _SPAN[1]
    text = raw[a:b]
    return (a, b, text) if protocol.one_pass(text) else None


def heap_free():
    """Bytes free on the MicroPython heap now (gc.mem_free()); None on CPython, which has no
    such heap. Not collected first: a reply must not cost a collection."""
    import gc

    fn = getattr(gc, "mem_free", None)
    return fn() if fn is not None else None
