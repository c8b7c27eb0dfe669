# The session log: append-only JSON lines that survive power loss. The contract is
# docs/LOG-FORMAT.md. One record per line, each a JSON object that starts with its sequence
# number and kind and ends with a CRC32 of the line without the crc field:
#   {"seq":12,"kind":"state","t_s":5.0,"state":"ON","crc":"1c291ca3"}
# Written only from the main loop (never the control tick): appends allocate and may block
# on flash. The path and the filesystem module are injected; importing this touches nothing.
# Longer than ~300 lines on purpose: the line format's writer (encode, Log) and its readers
# (check, scan, read_file) stay in one file so they cannot drift apart; the host reads logs
# with this very module (tools/tvns_tools/logs.py).
import json

try:
    import os
except ImportError:  # pragma: no cover - every MicroPython port with a filesystem has os
    import uos as os

from micropython import const

try:
    from binascii import crc32 as _crc32
except ImportError:  # pragma: no cover - a port built without binascii.crc32
    _crc32 = None

from tvns import errors as E

KINDS = (
    "session_start",
    "state",
    "amplitude",
    "fault",
    "session_end",
    "power_loss",
    "store",
    "trigger",
    "titration",
)
RESERVED = ("seq", "kind", "crc")  # keys the log writes itself
LINE_MAX_BYTES = const(8192)  # a protocol is <= 4096 bytes; longer lines are garbage
_CHUNK_BYTES = const(512)  # copy buffer for the rewrite-by-rename truncation
_TAIL = b',"crc":"'  # the crc field: 8 bytes, then 8 hex digits, then "}\n
_TAIL_BYTES = const(19)  # len(',"crc":"') + 8 + len('"}\n')
_PREFIX = b'{"seq":'
_KIND_AT = b',"kind":"'

_table = None


def crc32_soft(data, crc=0):
    """Table-driven CRC-32 (IEEE, as zlib.crc32) for ports without binascii.crc32."""
    global _table
    if _table is None:
        _table = []
        for n in range(256):
            c = n
            for _ in range(8):
                c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
            _table.append(c)
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = _table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


# The firmware's one CRC-32: the log's lines and the console's limits digest (commands.py).
crc32 = _crc32 if _crc32 is not None else crc32_soft


def encode(seq, kind, fields):
    """(seq, kind, fields dict) -> one line of bytes, newline included."""
    rest = json.dumps(fields, separators=(",", ":"))[1:] if fields else "}"
    if rest != "}":
        rest = "," + rest
    body = ('{"seq":%d,"kind":"%s"%s' % (seq, kind, rest)).encode("utf-8")
    crc = crc32(body) & 0xFFFFFFFF
    return body[:-1] + (',"crc":"%08x"}\n' % crc).encode()


def check(line):
    """A line of bytes -> (seq, kind, body bytes) when complete and its CRC matches, else
    None. The CRC makes the prefix trustworthy, so seq and kind are read without json."""
    n = len(line)
    if n < _TAIL_BYTES + 10 or line[n - 3 :] != b'"}\n' or not line.startswith(_PREFIX):
        return None
    if line[n - _TAIL_BYTES : n - 11] != _TAIL:
        return None
    body = line[: n - _TAIL_BYTES] + b"}"
    # Compared as text, exactly as written: "93F0..." for "93f0..." is damage too.
    if line[n - 11 : n - 3] != ("%08x" % (crc32(body) & 0xFFFFFFFF)).encode():
        return None
    i = body.find(_KIND_AT)
    j = body.find(b'"', i + len(_KIND_AT)) if i > 0 else -1
    if j < 0:
        return None
    try:
        seq = int(body[len(_PREFIX) : i])
    except ValueError:
        return None
    return seq, body[i + len(_KIND_AT) : j].decode(), body


def decode(line):
    """A line -> the record dict (seq, kind and the fields; no crc), or None if not valid."""
    got = check(line)
    if got is None:
        return None
    try:
        rec = json.loads(got[2])
    except ValueError:  # cannot pass a matching CRC unless the writer was broken
        return None
    return rec if isinstance(rec, dict) else None


_PIECE = 256  # bytes per readline call: most records fit in one


def _readline(f, limit):
    """f.readline(limit), read in pieces: MicroPython's readline(n) allocates n bytes up
    front, so readline(8193) took an 8 KB block per record at boot (MemoryError on the rp2
    port's fragmented heap, and a collection every few records)."""
    line = f.readline(_PIECE if limit > _PIECE else limit)
    if len(line) < _PIECE or line[-1:] == b"\n":
        return line  # the whole line, or the end of the file
    parts = [line]
    n = len(line)
    while n < limit:
        more = f.readline(_PIECE if limit - n > _PIECE else limit - n)
        if not more:
            break
        parts.append(more)
        n += len(more)
        if more[-1:] == b"\n":
            break
    return b"".join(parts)


def lines(f):
    """Yield (line or None, bytes) for each line of an open binary file; None stands for a
    run of bytes that cannot be a record (longer than LINE_MAX_BYTES, or a torn tail)."""
    junk = 0
    while True:
        line = _readline(f, LINE_MAX_BYTES + 1)
        if not line:
            break
        if line[-1:] == b"\n":
            if junk:
                yield None, junk + len(line)
                junk = 0
            else:
                yield line, len(line)
        elif len(line) > LINE_MAX_BYTES:
            junk += len(line)  # keep reading to the newline; it is all one bad line
        else:
            yield None, junk + len(line)  # no newline at end of file: a torn tail
            junk = 0
    if junk:
        yield None, junk


def scan(path):
    """Walk one log file. Returns {"records" (lines seen), "valid", "bad_records" (bad lines
    followed by a valid one: kept on disk, skipped by readers), "torn_tail_bytes" (bytes
    after the last valid line), "good_bytes", "last_seq", "open_session" (seq of a
    session_start with no session_end after it, or None)}. A missing file is empty."""
    out = {"records": 0, "valid": 0, "bad_records": 0, "torn_tail_bytes": 0}
    out["good_bytes"] = 0
    out["last_seq"] = None
    out["open_session"] = None
    pos = pending = 0
    try:
        f = open(path, "rb")
    except OSError:
        return out
    try:
        for line, nbytes in lines(f):
            pos += nbytes
            out["records"] += 1
            got = check(line) if line is not None else None
            if got is None:
                pending += 1
                continue
            out["bad_records"] += pending
            pending = 0
            out["valid"] += 1
            out["good_bytes"] = pos
            out["last_seq"] = got[0]
            if got[1] == "session_start":
                out["open_session"] = got[0]
            elif got[1] == "session_end":
                out["open_session"] = None
    finally:
        f.close()
    out["torn_tail_bytes"] = pos - out["good_bytes"]
    return out


def _size(fs, path):
    try:
        return fs.stat(path)[6]
    except OSError:
        return -1


def rotated_name(path, n):
    """log.jsonl -> log.1.jsonl (n >= 1); n = 0 is the live file."""
    if n == 0:
        return path
    dot = path.rfind(".")
    if dot > path.rfind("/"):
        return "%s.%d%s" % (path[:dot], n, path[dot:])
    return "%s.%d" % (path, n)


class Log:
    """log = Log("/log.jsonl", max_bytes=32768, keep=3); log.append("state", {...}) -> seq.
    Opening recovers the live file (see recover()); log.recovered holds what it found."""

    def __init__(self, path, max_bytes=32768, keep=3, fs=os, sync=True):
        if keep < 1 or max_bytes < 1:
            raise E.TvnsError(E.OUT_OF_RANGE, "keep and max_bytes must be >= 1", "keep")
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        self.fs = fs
        self._sync = sync
        self._f = None
        self._torn = False  # a write failed part-way: cut back to size_bytes before the next
        self.errors = 0  # storage errors swallowed by try_append
        self.seq = 0  # the last seq written (0: none yet)
        self.size_bytes = 0
        self.recovered = self.recover()

    def recover(self):
        """Cut a torn tail of the live file (bytes after its last valid record), append a
        power_loss record saying how many bytes went, and continue seq after the last
        valid record (of the newest rotated file when the live one has none). Bad lines in
        the middle stay on disk untouched; readers skip them. Returns {"torn_tail_bytes",
        "bad_records", "open_session"}."""
        self.close()
        tmp = self.path + ".tmp"
        if _size(self.fs, tmp) >= 0:
            self.fs.remove(tmp)  # a rewrite cut short by power loss; the original is intact
        s = scan(self.path)
        last = s["last_seq"]
        if last is None:
            last = scan(rotated_name(self.path, 1))["last_seq"]
        self.seq = last or 0
        if s["torn_tail_bytes"]:
            self._truncate(s["good_bytes"])
        self.size_bytes = max(0, _size(self.fs, self.path))
        self._f = open(self.path, "ab")
        found = {
            "torn_tail_bytes": s["torn_tail_bytes"],
            "bad_records": s["bad_records"],
            "open_session": s["open_session"],
        }
        if s["torn_tail_bytes"]:
            self.append("power_loss", dict(found, after_seq=last))
        return found

    def _truncate(self, n):
        trunc = getattr(self.fs, "truncate", None)
        if trunc is not None:
            trunc(self.path, n)
            return
        # No truncate (MicroPython): copy the good prefix, then rename it over the file.
        tmp = self.path + ".tmp"
        buf = bytearray(_CHUNK_BYTES)
        with open(self.path, "rb") as src, open(tmp, "wb") as dst:
            left = n
            while left > 0:
                got = src.readinto(buf)
                if not got:
                    break
                dst.write(buf[: min(got, left)])
                left -= got
            dst.flush()
        self.fs.rename(tmp, self.path)

    def append(self, kind, fields=None):
        """Write one record, flushed to storage before returning; returns its seq.
        A session_start first rotates the live file if it has reached max_bytes, so a
        session never spans two files."""
        if kind not in KINDS:
            raise E.TvnsError(E.BAD_FIELD, "unknown log record kind %r" % (kind,), "kind")
        fields = fields or {}
        for key in RESERVED:
            if key in fields:
                raise E.TvnsError(E.BAD_FIELD, "%s is written by the log itself" % key, key)
        line = encode(self.seq + 1, kind, fields)
        if len(line) > LINE_MAX_BYTES:
            raise E.TvnsError(E.TOO_LARGE, "log record over %d bytes" % LINE_MAX_BYTES, kind)
        if self._torn:  # a failed write may have left part of a line: cut it first
            self.close()
            self._truncate(self.size_bytes)
            self._f = open(self.path, "ab")
            self._torn = False
        if kind == "session_start" and self.size_bytes >= self.max_bytes:
            self.rotate()
        try:
            self._f.write(line)
            self._f.flush()
            if self._sync:
                fsync = getattr(self.fs, "fsync", None)  # CPython: this file only
                if fsync is not None:
                    fsync(self._f.fileno())
                elif hasattr(self.fs, "sync"):  # MicroPython ports: os.sync() flushes all
                    self.fs.sync()
        except OSError:
            self._torn = True
            raise
        self.seq += 1
        self.size_bytes += len(line)
        return self.seq

    def try_append(self, kind, fields=None):
        """append() for the main loop: a storage error (full, worn, removed) is counted in
        self.errors and returns 0, so logging can never stop the safety loop."""
        try:
            return self.append(kind, fields)
        except OSError:
            self.errors += 1
            return 0

    def rotate(self):
        """log.jsonl -> log.1.jsonl -> ... -> log.<keep>.jsonl; the oldest is deleted. Each
        step is one rename, so a power cut leaves every record in some file."""
        self.close()
        oldest = rotated_name(self.path, self.keep)
        if _size(self.fs, oldest) >= 0:
            self.fs.remove(oldest)
        for n in range(self.keep - 1, -1, -1):
            src = rotated_name(self.path, n)
            if _size(self.fs, src) >= 0:
                self.fs.rename(src, rotated_name(self.path, n + 1))
        self._f = open(self.path, "ab")
        self.size_bytes = 0

    def files(self):
        """The log's files that exist, oldest first (the live file last)."""
        names = [rotated_name(self.path, n) for n in range(self.keep, -1, -1)]
        return [p for p in names if _size(self.fs, p) >= 0]

    def records(self, since_seq=0):
        """Iterate the valid records (dicts) with seq > since_seq, oldest first, across the
        rotated files and the live one; bad lines are skipped."""
        if self._f is not None:
            self._f.flush()
        for path in self.files():
            yield from read_file(path, since_seq)

    def close(self):
        if self._f is not None:
            self._f.close()
            self._f = None


def read_file(path, since_seq=0):
    """Iterate the valid records of one file (no Log, no recovery: safe on a copy)."""
    with open(path, "rb") as f:
        for line, _n in lines(f):
            rec = decode(line) if line is not None else None
            if rec is not None and rec["seq"] > since_seq:
                yield rec
