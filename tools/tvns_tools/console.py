"""`tvns console`: a console that survives people. A prompt with history and line editing
(prompt-toolkit) on a terminal, plain lines when stdin is not one (scripts, tests). Replies
and events print as JSON lines as they arrive; what the console itself says starts with
`-- ` (notes) or `tvns: ` (a line it did not send). A bad line is answered and the console
goes on; nothing a person types ends it or the device, except `quit` and Ctrl-D.

Ctrl-C while a session runs sends `stop` and waits for the ramp down (as `tvns run` does);
a second Ctrl-C leaves the console (the device ramps down on its own).

Longer than ~300 lines on purpose: the Link (a reader thread matching replies to requests)
and the commands on it share one threading and Ctrl-C policy; the prompt is prompt-toolkit's."""

import json
import shlex
import sys
import threading
import time

from tvns_tools import device as D
from tvns_tools import protofile
from tvns_tools.firmware import ToolError

RUNNING = ("RAMP_UP", "ON", "OFF", "RAMP_DOWN")
PROMPT = "tvns> "

HELP = """\
Commands (a device command's reply and every event print as a JSON line):
  status                     the device's status
  stop                       stop the session: the firmware ramps down; waits for the end
  load FILE [--pin PIN]      read FILE, validate it here, then send it
  run FILE [--pin PIN] [--meta FILE]
                             load, arm, start and follow to the end, as `tvns run`
                             (Ctrl-C: stop, ramp down)
  arm | start | clear        the session commands (PROTOCOL.md)
  hello | limits | log       device information; log {"since": N} pages the event ring
  CMD {JSON fields}          any command with its fields, e.g. set_time {"unix_s": 1760000000}
                             allocate {"pin": "...", "arm": "sham"}, unblind {"pin": "..."}
  {JSON request}             a raw request line, sent as typed (an id is added if missing)
  help [CMD]                 this text, or one line on CMD
  quit | exit | Ctrl-D       leave (a running session goes on: `stop` first)
Ctrl-C during a session sends stop and waits for the ramp down."""

ONE_LINE = {
    "hello": "version, board, limits_crc, store and log health",
    "limits": "the hard limits and the active ceiling",
    "load": 'load FILE: validate here, then send; load {"protocol": {...}} sends as is',
    "arm": "arm the loaded protocol (self-test, exposure cap, allocation)",
    "start": 'start the armed session (start {"meta": {...}} adds study metadata)',
    "stop": "stop the session: ramp down, then STOPPED",
    "status": "state, elapsed_s, amplitude_ma, pulses, fault, exposure, store, log",
    "clear": "leave FAULT once its cause is gone",
    "log": 'the recent events (log {"since": N})',
    "run": "run FILE [--pin PIN] [--meta FILE]: load, arm, start, follow (like tvns run)",
    "set_time": 'set_time {"unix_s": N}: the host clock, information for the log',
    "set_pin": 'set_pin {"new_pin": "...", "pin": "old"}',
    "allocate": 'allocate {"pin": "...", "arm": "active"|"sham"}',
    "unblind": 'unblind {"pin": "..."}',
    "set_ceiling": 'set_ceiling {"ceiling_ma": N, "pin": "..."}',
    "quit": "leave the console",
}


class Link:
    """The console's side of the link: one reader thread prints every line from the device,
    except replies to the console's own quiet requests (status polls), which it hands over.
    Offers request/pump/events/wait_end, so device.run_session runs on it unchanged."""

    def __init__(self, dev, out=None):
        self.t = dev.t
        self.out = out or sys.stdout
        self.cv = threading.Condition()
        self.quiet = {}  # id -> reply (None until it arrives)
        self.pending = set()  # ids of typed requests not answered yet
        self.events = []
        self.closed = None  # why the link closed
        self.state = None  # from state events
        self._n = 0
        self._stop = False
        self._out_lock = threading.Lock()
        self.thread = threading.Thread(target=self._reader, daemon=True)
        self.thread.start()

    def say(self, text):
        with self._out_lock:  # two threads print: whole lines only, never interleaved
            self.out.write(text + "\n")
            self.out.flush()

    def _reader(self):
        while not self._stop:
            try:
                line = self.t.read_line(0.2)
            except ToolError as exc:
                with self.cv:
                    self.closed = str(exc)
                    self.cv.notify_all()
                if not self._stop:  # closed by us on the way out: nothing to report
                    print("tvns: %s" % exc, file=sys.stderr, flush=True)
                return
            if line is None:
                continue
            text = line.decode("utf-8", "replace").rstrip()
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except ValueError:
                obj = None
            if isinstance(obj, dict) and "event" in obj:
                with self.cv:
                    self.events.append(obj)
                    if obj.get("event") == "state":
                        self.state = obj.get("state")
                    self.cv.notify_all()
            elif isinstance(obj, dict) and "id" in obj:
                rid = obj["id"]
                with self.cv:
                    if _hashable(rid) and rid in self.quiet:
                        self.quiet[rid] = obj
                        self.cv.notify_all()
                        continue
                    if _hashable(rid):
                        self.pending.discard(rid)
                    self.cv.notify_all()
            self.say(text.strip())

    def next_id(self, prefix):
        self._n += 1
        return "%s%d" % (prefix, self._n)

    def send_typed(self, req):
        """A request the person typed: its reply is printed by the reader."""
        if "id" not in req:
            req["id"] = self.next_id("c")
        if _hashable(req["id"]):
            with self.cv:
                self.pending.add(req["id"])
        self._send(json.dumps(req).encode())

    def send_line(self, text):
        self._send(text.encode("utf-8"))

    def _send(self, data):
        if self.closed:
            raise ToolError("the link is closed (%s)" % self.closed)
        self.t.send_line(data + b"\n")

    # ---- what device.run_session and the stop wait use ----
    def request(self, cmd, timeout_s=D.REPLY_TIMEOUT_S, check=True, **fields):
        rid = self.next_id("q")
        with self.cv:
            self.quiet[rid] = None
        try:
            self._send(json.dumps(dict(fields, id=rid, cmd=cmd)).encode())
            deadline = time.monotonic() + timeout_s
            with self.cv:
                while self.quiet[rid] is None:
                    left = deadline - time.monotonic()
                    if self.closed:
                        raise ToolError("the device closed the link (%s)" % self.closed)
                    if left <= 0:
                        raise ToolError("no reply to %s within %.1f s" % (cmd, timeout_s))
                    self.cv.wait(left)
                reply = self.quiet[rid]
        finally:
            with self.cv:
                self.quiet.pop(rid, None)
        if check and not reply.get("ok"):
            raise D.DeviceError(reply.get("error") or {}, reply.get("errors"))
        return reply

    def pump(self, timeout_s):
        with self.cv:
            self.cv.wait(timeout_s)

    def wait_end(self, timeout_s):
        return D.Device.wait_end(self, timeout_s)

    def wait_pending(self, timeout_s):
        deadline = time.monotonic() + timeout_s
        with self.cv:
            while self.pending and not self.closed and time.monotonic() < deadline:
                self.cv.wait(deadline - time.monotonic())

    def close(self):
        self._stop = True


def _hashable(x):
    return isinstance(x, (int, str, float, bool)) or x is None


class Console:
    def __init__(self, link, pin=None):
        self.link = link
        self.pin = pin

    # ---- one line ----
    def handle(self, text):
        """Act on one typed line; returns False to leave the console."""
        text = text.strip()
        if not text or text.startswith("#"):
            return True
        if text.startswith("{"):
            return self._raw(text)
        word, _, rest = text.partition(" ")
        rest = rest.strip()
        if word in ("quit", "exit"):
            return False
        if word in ("help", "?"):
            self._help(rest)
        elif word == "stop" and not rest:
            self.stop()
        elif word == "load" and rest and not rest.startswith("{"):
            self._load_file(rest)
        elif word == "run":
            self._run(rest)
        else:
            self._command(word, rest)
        return True

    def _raw(self, text):
        try:
            req = json.loads(text)
        except ValueError as exc:
            return self._bad("not JSON (%s): nothing sent; `help` lists the commands" % exc)
        if not isinstance(req, dict):
            return self._bad('a request is a JSON object {"cmd": ...}: nothing sent')
        if "id" in req:
            self.link.send_line(text)  # as typed: the device judges the id itself
        else:
            self.link.send_typed(req)
        return True

    def _command(self, word, rest):
        fields = {}
        if rest:
            try:
                fields = json.loads(rest)
            except ValueError as exc:
                return self._bad("%s: the fields must be a JSON object (%s)" % (word, exc))
            if not isinstance(fields, dict):
                return self._bad("%s: the fields must be a JSON object {...}" % word)
        self.link.send_typed(dict(fields, cmd=word))
        return True

    def _bad(self, message):
        print("tvns: %s" % message, file=sys.stderr, flush=True)
        return True

    def _help(self, what):
        if what:
            self.link.say("-- %s: %s" % (what, ONE_LINE.get(what, "not a console command")))
        else:
            self.link.say(HELP)

    def _options(self, rest, allowed):
        """FILE and --flag VALUE pairs of a console line; ToolError naming the problem."""
        try:
            words = shlex.split(rest)
        except ValueError as exc:
            raise ToolError("cannot read the line: %s" % exc) from exc
        path, opts = None, {}
        while words:
            w = words.pop(0)
            if w.startswith("--"):
                if w[2:] not in allowed or not words:
                    raise ToolError("%s: expected one of %s with a value" % (w, allowed))
                opts[w[2:]] = words.pop(0)
            elif path is None:
                path = w
            else:
                raise ToolError("one FILE only (got %r too)" % w)
        if path is None:
            raise ToolError("give a protocol FILE")
        return path, opts

    def _load_file(self, rest):
        try:
            path, opts = self._options(rest, ("pin",))
            text = protofile.read_protocol(path)
        except ToolError as exc:
            return self._bad(str(exc))
        pin = opts.get("pin", self.pin)
        req = {"cmd": "load", "protocol": text}
        if pin is not None:
            req["pin"] = pin
        self.link.send_typed(req)
        return True

    def _run(self, rest):
        from tvns_tools import meta as M

        try:
            path, opts = self._options(rest, ("pin", "meta"))
            text = protofile.read_protocol(path)
            meta = M.read(opts["meta"]) if "meta" in opts else None
        except ToolError as exc:
            return self._bad(str(exc))
        try:
            code, st = D.run_session(
                self.link,
                text,
                pin=opts.get("pin", self.pin),
                meta=meta,
                poll_s=0.3,
            )
        except ToolError as exc:
            return self._bad("run: %s" % exc)
        self.link.say(
            "-- run: %s after %s of %s s, %s pulses (tvns run would exit %d)"
            % (st["state"], st.get("elapsed_s"), st.get("session_s"), st.get("pulses"), code)
        )
        return True

    def stop(self):
        """stop, then wait for the ramp down (as `tvns stop`); the final status printed."""
        try:
            self.link.request("stop")
            self.link.say("-- stop sent: waiting for the ramp down")
            st = self.link.wait_end(30.0)
        except ToolError as exc:
            return self._bad("stop: %s" % exc)
        self.link.say(json.dumps(st))
        self.link.say("-- session %s at %s s, output off" % (st["state"], st.get("elapsed_s")))
        return True

    def interrupt(self):
        """Ctrl-C at the prompt: stop a running session and wait for the ramp down."""
        try:
            state = self.link.request("status")["state"]
        except ToolError as exc:
            return self._bad("Ctrl-C: %s" % exc)
        if state in RUNNING:
            self.link.say("-- Ctrl-C: session %s, sending stop" % state)
            return self.stop()
        self.link.say("-- Ctrl-C: no session running (state %s); quit or Ctrl-D leaves" % state)
        return True


# ---- input: prompt-toolkit on a terminal, plain lines otherwise ----
class _PlainInput:
    def read(self):
        line = sys.stdin.readline()
        return None if line == "" else line


class _PromptInput:
    def __init__(self):
        import os

        from prompt_toolkit import PromptSession
        from prompt_toolkit.completion import WordCompleter
        from prompt_toolkit.history import FileHistory, InMemoryHistory

        path = os.path.expanduser("~/.tvns_console_history")
        try:
            with open(path, "a"):
                pass
            history = FileHistory(path)
        except OSError:
            history = InMemoryHistory()
        words = sorted(set(ONE_LINE) | {"help", "exit", "hello", "log_read", "clear_exposure"})
        self.session = PromptSession(history=history, completer=WordCompleter(words, sentence=True))

    def read(self):
        try:
            return self.session.prompt(PROMPT)
        except EOFError:
            return None


def serve(dev, pin=None, tty=None):
    """The console loop on an open Device; returns the exit code."""
    tty = sys.stdin.isatty() and sys.stdout.isatty() if tty is None else tty
    link = Link(dev)
    con = Console(link, pin)
    reader = _PromptInput() if tty else _PlainInput()
    if tty:
        from prompt_toolkit.patch_stdout import patch_stdout

        link.say("-- connected; `help` lists the commands, Ctrl-D leaves")
        with patch_stdout(raw=True):
            return _loop(link, con, reader)
    return _loop(link, con, reader)


def _loop(link, con, reader):
    try:
        while True:
            if link.closed:
                return 1
            try:
                text = reader.read()
                if text is None:
                    break
                if not con.handle(text):
                    break
            except KeyboardInterrupt:
                try:
                    con.interrupt()
                except KeyboardInterrupt:
                    print(
                        "tvns: interrupted again; the device ramps down on its own",
                        file=sys.stderr,
                    )
                    return 130
            except ToolError as exc:
                if link.closed:
                    return 1
                con._bad(str(exc))
        link.wait_pending(D.REPLY_TIMEOUT_S)
        return 1 if link.closed else 0
    finally:
        link.close()
