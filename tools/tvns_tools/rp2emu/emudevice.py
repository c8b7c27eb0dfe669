"""The host's Device on an emulated board in lockstep (EmuPico.lockstep): the real request
encoding, pty and parsing of tvns_tools.device, with every wait on the emulated clock
(docs/EMULATOR.md, "The test tier's clock")."""

import json
import time

from tvns_tools.device import BOOT_TIMEOUT_S, REPLY_TIMEOUT_S, Device, DeviceError
from tvns_tools.firmware import ToolError
from tvns_tools.rp2emu.emulator import EmuError


class EmuDevice(Device):
    """The host's Device, its waits on the emulated clock (lockstep boards): a request's reply
    is awaited by running the chip until the line is in the board's console record (engine
    thread), then read off the pty as every host reads it (real transport, real parsing).
    Timeouts are the protocol's own (PROTOCOL.md: every request answered within
    REPLY_TIMEOUT_S), in emulated seconds, times EMU_TIMEOUT_MARGIN; host seconds are only an
    outer guard."""

    def __init__(self, transport, board):
        super().__init__(transport)
        self.scale = 1.0  # timeouts are emulated seconds here, not scaled wall seconds
        self.board = board

    def _await_ids(self, ids, since, timeout_s, what, boot=False):
        """Run the chip until a line with one of ids (or, with boot, a boot event) is in
        board.lines[since:]; False after timeout_s * EMU_TIMEOUT_MARGIN emulated."""
        lines = self.board.lines
        idset = set(ids)
        emu = self.board.emu

        def seen():
            return any(
                o.get("id") in idset or (boot and o.get("event") == "boot")
                for _t, o in lines[since:]
            )

        try:
            emu.wait_for(seen, timeout_s * EMU_TIMEOUT_MARGIN * 1000, what=what)
        except EmuError:
            return False
        return True

    def _take(self, ids, check):
        """The reply (already printed) off the pty; events on the way are dispatched."""
        deadline = time.monotonic() + READ_WALL_S
        while True:
            line = self.t.read_line(max(0.0, deadline - time.monotonic()))
            if line is None:
                raise ToolError("reply %r printed but not read off %s" % (ids, self.t))
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if not isinstance(obj, dict) or self._dispatch(obj):
                continue
            if obj.get("id") in ids:
                if check and not obj.get("ok"):
                    raise DeviceError(obj.get("error") or {}, obj.get("errors"))
                return obj

    def request(self, cmd, timeout_s=REPLY_TIMEOUT_S, check=True, **fields):
        return self.pipeline([(cmd, fields)], timeout_s, check)[0]

    def pipeline(self, reqs, timeout_s=REPLY_TIMEOUT_S, check=True):
        """Send every (cmd, fields) at once; their replies in order. Requests sent together
        fall in one main-loop pass: not for heavy ones with the watchdog running (load + arm
        + start in one pass outlast its 300 ms: docs/EMULATOR.md)."""
        since = len(self.board.lines)
        rids = list(range(self._next_id, self._next_id + len(reqs)))
        self._next_id += len(reqs)
        data = b"".join(
            json.dumps(dict(f, id=rid, cmd=c)).encode() + b"\n" for rid, (c, f) in zip(rids, reqs)
        )
        self.t.send_line(data)
        out = []
        for rid, (cmd, _f) in zip(rids, reqs):
            if not self._await_ids((rid,), since, timeout_s, "the reply to %s" % cmd):
                raise ToolError(
                    "no reply to request %r (%s) within %g emulated s"
                    % (rid, cmd, timeout_s * EMU_TIMEOUT_MARGIN)
                )
            out.append(self._take((rid,), check))
        return out

    def wait_reply(self, rid, timeout_s=REPLY_TIMEOUT_S, check=True, also=()):
        ids = (rid,) + tuple(also)
        if not self._await_ids(ids, 0, timeout_s, "a reply"):
            raise ToolError("no reply to request %r within %g emulated s" % (rid, timeout_s))
        return self._take(ids, check)

    def wait_boot(self, timeout_s=BOOT_TIMEOUT_S):
        """hello until answered, in emulated time. A hello sent while the board's USB is down
        (a reset) is lost: another follows every HELLO_RETRY_S, and at once when the
        firmware's boot event shows main.py's console is up."""
        emu = self.board.emu
        end_ns = emu.now_ns + timeout_s * EMU_TIMEOUT_MARGIN * 1e9
        sent = []
        while True:
            since = len(self.board.lines)
            rid = self._next_id
            self._next_id += 1
            self.send_raw(json.dumps({"id": rid, "cmd": "hello"}).encode())
            sent.append(rid)
            ids = tuple(sent)
            if self._await_ids(ids, since, HELLO_RETRY_S, "hello", boot=True):
                if any(o.get("id") in ids for _t, o in self.board.lines[since:]):
                    return self._take(ids, True)
                continue  # the boot event: the console is up, the next hello is heard
            if emu.now_ns > end_ns:
                raise ToolError("no hello within %g emulated s" % (timeout_s * EMU_TIMEOUT_MARGIN))


# Emulated-time waits of EmuDevice: the protocol's own timeouts (a real board's), with margin
EMU_TIMEOUT_MARGIN = 2
HELLO_RETRY_S = 0.1  # emulated, times EMU_TIMEOUT_MARGIN: a hello lost while USB was down
READ_WALL_S = 60.0  # a printed line reaching the host's reader (outer guard, wall)
