# The session log as the App uses it: records queued in RAM and written to flash only when
# that cannot stall stimulation (SAFETY.md H41): on the RP2040 a flash erase or program runs
# with interrupts off, so the control tick and its monitors wait for it. App flushes the
# queue when no output can be on: outside a session, and in an OFF phase with time to
# spare; the watchdog is fed right before. The log's health (a write that failed, the room
# left on the filesystem) is reported by hello/status, and `arm` refuses a session the log
# cannot take (`log_unavailable`). Main loop only.
from micropython import const

from tvns import errors as E

QUEUE_MAX = const(32)  # records held while stimulating (a session makes a handful)
RESERVE_BYTES = const(16384)  # free room arm asks for: a 60 min session logs about 9 kB


class Journal:
    def __init__(self, log):
        self.log = log  # a tvns.log.Log, or None (no log configured: host simulation only)
        self.queue = []
        self.errors = 0  # writes that failed
        self.lost = 0  # records dropped (queue full, or refused by the log)
        self.failed = None  # why the last write failed; None after a write succeeded
        self.error_seen = 0  # App turns each new failure into one log_error event

    def append(self, kind, fields):
        if self.log is None:
            return
        if len(self.queue) >= QUEUE_MAX:
            self.lost += 1
            return
        self.queue.append((kind, fields))

    def flush(self, between=None):
        """Write the queued records, oldest first; False when one could not be written (it
        stays queued for the next flush, the ones after it too). between(): called after each
        record (the app's watchdog keepalive: a session's records written at its end outlasted
        the rp2 port's 300 ms watchdog in one pass, docs/EMULATOR.md)."""
        log = self.log
        while self.queue:
            kind, fields = self.queue[0]
            try:
                log.append(kind, fields)
            except OSError as exc:
                self.errors += 1
                self.failed = "write failed (%s)" % exc
                return False
            except E.TvnsError:
                self.lost += 1  # a record the log refuses (too large): never retried
            self.queue.pop(0)
            self.failed = None
            if between is not None:
                between()
        return True

    def free_bytes(self):
        """Room left on the log's filesystem, or None where statvfs is missing."""
        fs = self.log.fs
        statvfs = getattr(fs, "statvfs", None)
        if statvfs is None:
            return None
        path = self.log.path
        cut = path.rfind("/")
        for d in ((path[:cut] or "/") if cut >= 0 else ".", "/"):
            try:
                st = statvfs(d)
                return st[1] * st[4]  # f_frsize * f_bavail
            except OSError:
                pass
        return None

    def ready(self):
        """'' when the log can take a session's records, else why not."""
        if self.failed:
            return self.failed
        if self.log is None:
            return ""
        free = self.free_bytes()
        if free is not None and free < RESERVE_BYTES:
            return "%d bytes free on the log's filesystem, a session needs %d" % (
                free,
                RESERVE_BYTES,
            )
        return ""

    def health(self):
        """For hello and status: cheap (no statvfs, which walks littlefs), and the same for
        both arms of a blinded study."""
        return {
            "ok": not self.failed,
            "enabled": self.log is not None,
            "error": self.failed,
            "errors": self.errors,
            "lost": self.lost,
            "queued": len(self.queue),
        }
