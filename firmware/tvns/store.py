# A tiny persistent key-value store for the few facts that must survive a reset: the
# "session active" marker and the daily exposure. JSON in one small file, replaced
# atomically (write a temporary file, then rename), so a power cut leaves the old or the
# new version, never a torn one. Written only at session start and end, never in the tick.
import json

try:
    import os
except ImportError:  # pragma: no cover - every MicroPython port with a filesystem has os
    import uos as os


class MemoryStore:
    """For the sim board: survives the simulated resets (same object), not the process."""

    def __init__(self):
        self._data = {}

    def get(self, key):
        v = self._data.get(key)
        return None if v is None else json.loads(v)

    def put(self, key, value):
        if value is None:
            self._data.pop(key, None)
        else:
            self._data[key] = json.dumps(value)


class FileStore:
    def __init__(self, path):
        self.path = path
        self._data = self._read()

    def _read(self):
        try:
            with open(self.path) as f:
                data = json.loads(f.read())
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}  # missing or unreadable: start empty (the conservative defaults)

    def get(self, key):
        return self._data.get(key)

    def put(self, key, value):
        if value is None:
            self._data.pop(key, None)
        else:
            self._data[key] = value
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write(json.dumps(self._data))
        os.rename(tmp, self.path)
