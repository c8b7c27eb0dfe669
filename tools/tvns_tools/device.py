"""A device speaking the console protocol (PROTOCOL.md) over any transport: numbered
requests, exactly one reply each, events collected on the side."""

import json
import time

from tvns_tools.firmware import ToolError

REPLY_TIMEOUT_S = 2.0  # PROTOCOL.md: every request is answered well within this
BOOT_TIMEOUT_S = 10.0  # a freshly started firmware (sim or a reset board) says hello
END_STATES = ("DONE", "STOPPED", "FAULT")
# `tvns run` exit codes (PROTOCOL.md "Host exit codes")
EXIT_DONE, EXIT_ERROR, EXIT_REFUSED, EXIT_STOPPED, EXIT_FAULT = 0, 1, 2, 3, 4
EXIT_FOR_STATE = {"DONE": EXIT_DONE, "STOPPED": EXIT_STOPPED, "FAULT": EXIT_FAULT}


class DeviceError(ToolError):
    """The device answered ok: false."""

    def __init__(self, error, errors=None, exit_code=EXIT_ERROR):
        self.code = error.get("code")
        self.field = error.get("field")
        self.errors = errors or [error]
        where = " (%s)" % self.field if self.field else ""
        super().__init__("%s%s: %s" % (self.code, where, error.get("message")), exit_code)


class Device:
    def __init__(self, transport):
        self.t = transport
        # Every host timeout below is for a full-speed board; a slower device says how much
        # slower through its transport (transport.timeout_scale: `tvns emulate`).
        self.scale = float(getattr(transport, "timeout_scale", 1.0) or 1.0)
        self.events = []  # every event line received, in order
        self.noise = []  # lines that were not JSON objects (tracebacks, REPL chatter)
        self._next_id = 1
        self.on_event = None  # optional callback(event dict)

    def close(self):
        return self.t.close()

    def _receive(self, timeout_s):
        """The next JSON object from the device, or None on timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            line = self.t.read_line(deadline - time.monotonic())
            if line is None:
                return None
            try:
                obj = json.loads(line)
            except ValueError:
                obj = None
            if isinstance(obj, dict):
                return obj
            if line.strip():
                self.noise = (self.noise + [line.decode(errors="replace").rstrip()])[-50:]

    def _dispatch(self, obj):
        if "event" in obj:
            self.events.append(obj)
            if self.on_event is not None:
                self.on_event(obj)
            return True
        return False

    def send_raw(self, data):
        self.t.send_line(data if data.endswith(b"\n") else data + b"\n")

    def request(self, cmd, timeout_s=REPLY_TIMEOUT_S, check=True, **fields):
        """Send one request; return its reply. ok: false raises DeviceError unless check is
        False. No reply within timeout_s raises ToolError."""
        rid = self._next_id
        self._next_id += 1
        self.send_raw(json.dumps(dict(fields, id=rid, cmd=cmd)).encode())
        return self.wait_reply(rid, timeout_s, check)

    def wait_reply(self, rid, timeout_s=REPLY_TIMEOUT_S, check=True, also=()):
        """The reply to request rid (or to any id in also); timeout_s is scaled."""
        timeout_s *= getattr(self, "scale", 1.0)
        deadline = time.monotonic() + timeout_s
        while True:
            obj = self._receive(deadline - time.monotonic())
            if obj is None:
                tail = ("; device said: " + self.noise[-1]) if self.noise else ""
                raise ToolError("no reply to request %r within %.1f s%s" % (rid, timeout_s, tail))
            if self._dispatch(obj):
                continue
            if obj.get("id") == rid or rid is None or obj.get("id") in also:
                if check and not obj.get("ok"):
                    raise DeviceError(obj.get("error") or {}, obj.get("errors"))
                return obj
            # a reply to an earlier request we gave up on: drop it

    def wait_boot(self, timeout_s=BOOT_TIMEOUT_S):
        """Wait until the device answers hello (a board may still be resetting). A late reply
        to an earlier hello counts: a slow device is answering, not lost."""
        deadline = time.monotonic() + timeout_s * getattr(self, "scale", 1.0)
        sent = []
        while True:
            rid = self._next_id
            self._next_id += 1
            self.send_raw(json.dumps({"id": rid, "cmd": "hello"}).encode())
            sent.append(rid)
            left_s = max(0.1, deadline - time.monotonic()) / getattr(self, "scale", 1.0)
            try:
                return self.wait_reply(rid, min(1.0, left_s), True, also=tuple(sent))
            except DeviceError:
                raise
            except ToolError:
                if time.monotonic() >= deadline:
                    raise

    def pump(self, timeout_s):
        """Collect events for up to timeout_s (returns early after the first one)."""
        obj = self._receive(timeout_s)
        if obj is not None:
            self._dispatch(obj)

    def logs(self, since=0):
        """Every log record from seq since on, following the `next` cursor."""
        out = []
        while True:
            r = self.request("log", since=since)
            out += r["records"]
            if not r["records"] or r["next"] >= r["end"]:
                return out, r
            since = r["next"]

    def wait_end(self, timeout_s):
        """Poll status until the session is in an end state; returns the last status."""
        deadline = time.monotonic() + timeout_s * getattr(self, "scale", 1.0)
        while True:
            st = self.request("status")
            if st["state"] in END_STATES or st["state"] in ("IDLE", "ARMED"):
                return st
            if time.monotonic() >= deadline:
                raise ToolError("session still %s after %.0f s" % (st["state"], timeout_s))
            self.pump(0.05)


def run_session(dev, protocol, show=None, poll_s=0.2, stop_timeout_s=30.0, pin=None, meta=None):
    """load, arm, start, then follow the session to its end. show(status) is called after
    every poll. Ctrl-C sends stop and waits for the ramp down. Returns (exit_code, status).
    pin: the investigator PIN, needed to load once a PIN is set on the device. meta: the
    study metadata (docs/META.md), sent with start and logged in session_start."""
    dev.request("set_time", unix_s=int(time.time()))
    try:
        if pin is None:
            dev.request("load", protocol=protocol)
        else:
            dev.request("load", protocol=protocol, pin=pin)
    except DeviceError as exc:
        exc.exit_code = EXIT_REFUSED
        raise
    dev.request("arm")
    if meta:
        dev.request("start", meta=meta)
    else:
        dev.request("start")
    interrupted = False
    st = dev.request("status")
    try:
        while st["state"] not in END_STATES:
            dev.pump(poll_s)
            st = dev.request("status")
            if show is not None:
                show(st)
    except KeyboardInterrupt:
        interrupted = True
    if interrupted:
        dev.request("stop")
        st = dev.wait_end(stop_timeout_s)
        if show is not None:
            show(st)
    _await_event(dev, "session_end", 1.0)  # a board's tick may beat the event to the reply
    return EXIT_FOR_STATE.get(st["state"], EXIT_ERROR), st


def _await_event(dev, name, timeout_s):
    deadline = time.monotonic() + timeout_s * getattr(dev, "scale", 1.0)
    while not any(e.get("event") == name for e in dev.events):
        if time.monotonic() >= deadline:
            return
        dev.pump(deadline - time.monotonic())
