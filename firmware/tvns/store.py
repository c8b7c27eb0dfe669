# The persistent store: the few facts that must survive a reset (the session marker, the
# exposure window, the investigator's PIN hash, allocation and ceiling, the lock-out count).
# Main loop only, never the control tick.
#
# On flash (FileStore) it is one small file, `state.json`:
#     <JSON object>\n<CRC-32 of the JSON bytes, 8 lowercase hex digits>\n
# written atomically: the new content goes to state.json.new (flushed and synced), the
# present file is renamed to state.json.bak (the previous copy, kept), then .new is renamed
# to state.json. A power cut leaves a complete old or new copy; a complete .new found at
# boot is the newest and the sequence is finished then.
#
# Fail closed (docs/BLINDING.md "A damaged store"): a file with a bad checksum, bad JSON,
# an unknown key or an ill-typed value is *damaged*: nothing in it is trusted, `damaged`
# says why, every write is refused (the file stays as evidence) and the App boots locked
# (arm refused with `store_damaged`, exposure taken as the full daily cap) until the
# investigator re-provisions with `reset_store`. A missing file with no backup is a new
# device (empty store); a missing file beside a backup is damaged.
import json

try:
    import os
except ImportError:  # pragma: no cover - every MicroPython port with a filesystem has os
    import uos as os

from tvns import errors as E
from tvns.storefmt import (  # noqa: F401 - re-exported: the store's format lives there
    ENTRIES_MAX,
    KEYS,
    PIN_ALG,
    VERSION,
    check,
    decode,
    encode,
    pin_records,
)


class _Store:
    """What both stores share: a dict in RAM, damage, holding writes back while stimulating."""

    def __init__(self):
        self._data = {}
        self.damaged = None  # None, or why the store is not trusted
        self.references = []  # PIN records found in damaged copies (reset_store)
        self.hold = False  # True: puts stay in RAM (dirty) until flush()
        self.dirty = False
        self.write_errors = 0

    def get(self, key):
        if self.damaged:
            return None
        return self._data.get(key)

    def put(self, key, value):
        self.update({key: value})

    def update(self, changes):
        """Change several keys in one atomic write (None deletes a key)."""
        if self.damaged:
            raise E.TvnsError(E.STORE_DAMAGED, "the store is damaged: %s" % self.damaged)
        new = dict(self._data)
        for key in changes:
            if key not in KEYS:
                raise E.TvnsError(E.BAD_FIELD, "unknown store key %r" % key, key)
            if changes[key] is None:
                new.pop(key, None)
            else:
                new[key] = changes[key]
        new["v"] = VERSION
        why = check(new)
        if why:  # a firmware bug; the store never holds what it could not read back
            raise E.TvnsError(E.INTERNAL, "store: " + why)
        prev = self._data
        self._data = new
        if self.hold:
            self.dirty = True
            return
        try:
            self._write(new)
            self.dirty = False
        except OSError as exc:
            self._data = prev
            self.write_errors += 1
            self.damaged = "write failed (%s)" % exc
            raise E.TvnsError(E.STORE_DAMAGED, "the store could not be written") from None

    def flush(self):
        """Write what `hold` kept back; False when the write failed (the store is then
        damaged: locked until re-provisioned)."""
        if not self.dirty or self.damaged:
            return True
        try:
            self._write(self._data)
            self.dirty = False
            return True
        except OSError as exc:
            self.write_errors += 1
            self.damaged = "write failed (%s)" % exc
            return False

    def verify(self):
        """Check the content (anything may have been put there); damaged if ill-typed."""
        if self.damaged is None and self._data:
            why = check(self._data)
            if why:
                self.damaged = why
        return self.damaged

    def health(self):
        return {"ok": not self.damaged, "damaged": self.damaged, "write_errors": self.write_errors}

    def _write(self, data):
        pass


class MemoryStore(_Store):
    """For the sim board: survives the simulated resets (same object), not the process."""

    def _write(self, data):
        # a copy through JSON: what a file store could read back
        self._data = json.loads(json.dumps(data))

    def reset(self, data):
        self.damaged = None
        self.references = []
        self._data = {}
        self.dirty = False
        self.update(data)


def _exists(fs, path):
    try:
        fs.stat(path)
        return True
    except OSError:
        return False


_READ_MAX = 8192  # a store is a few hundred bytes; anything longer reads as damaged


def _read(path):
    """The file's bytes (at most _READ_MAX), None when there is none. Sized from stat first:
    MicroPython's read(n) allocates n + 1 bytes whatever the file holds, and an 8 KB block
    was not to be had on the rp2 port's fragmented heap (MemoryError at boot, the emulated
    Pico after a raw-REPL run)."""
    try:
        size = os.stat(path)[6]
        with open(path, "rb") as f:
            return f.read(size if size < _READ_MAX else _READ_MAX)
    except OSError:
        return None


class FileStore(_Store):
    def __init__(self, path, fs=os, sync=True):
        super().__init__()
        self.path = path
        self.fs = fs
        self._sync = sync
        self._load()

    def _load(self):
        path, new, bak = self.path, self.path + ".new", self.path + ".bak"
        raw = _read(new)
        if raw is not None:
            data, why = decode(raw)
            try:
                if data is not None:  # a complete write whose renames were cut short
                    if _exists(self.fs, path):
                        self.fs.rename(path, bak)
                    self.fs.rename(new, path)
                else:
                    self.fs.remove(new)  # a write cut short: the old copy is intact
            except OSError as exc:
                self.damaged = "cannot finish an interrupted write (%s)" % exc
                return
        raw = _read(path)
        if raw is None:
            if _exists(self.fs, bak):
                self.damaged = "state file missing beside its backup"
                self._references(None, _read(bak))
            return  # a new device: empty store
        data, why = decode(raw)
        if data is None:
            self.damaged = why
            self._references(raw, _read(bak))
            return
        self._data = data

    def _references(self, raw, bak_raw):
        """The PIN records reset_store may check against: the backup's when it decodes,
        else whatever a damaged or legacy copy still shows."""
        refs = []
        if bak_raw is not None:
            data, _why = decode(bak_raw)
            if data is not None:
                if data.get("pin") is not None:
                    refs.append(data["pin"])
            else:
                refs += pin_records(bak_raw)
        if raw is not None:
            refs += pin_records(raw)
        self.references = refs

    def _write(self, data):
        new = self.path + ".new"
        with open(new, "wb") as f:
            f.write(encode(data))
            f.flush()
            if self._sync:
                fsync = getattr(self.fs, "fsync", None)  # CPython: this file only
                if fsync is not None:
                    fsync(f.fileno())
                elif hasattr(self.fs, "sync"):  # MicroPython: os.sync() flushes all
                    self.fs.sync()
        if _exists(self.fs, self.path):
            self.fs.rename(self.path, self.path + ".bak")
        self.fs.rename(new, self.path)

    def reset(self, data):
        """reset_store: keep the damaged file as state.json.damaged (evidence), then
        write a fresh content."""
        if self.damaged and _exists(self.fs, self.path):
            self.fs.rename(self.path, self.path + ".damaged")
        self.damaged = None
        self.references = []
        self._data = {}
        self.dirty = False
        self.update(data)
