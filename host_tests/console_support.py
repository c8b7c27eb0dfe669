"""The hostile input table the console must answer line by line (one error reply each, a
stable code, nothing changed): shared by test_console_core.py (in process, under CPython
and MicroPython) and test_console.py (the real firmware process). Imports under both
runtimes; pytest collects nothing here."""

from tvns import errors as E
from tvns.console import LINE_MAX_BYTES


def _noise():
    # Deterministic binary noise without newline and Ctrl-C (the interrupt character)
    return bytes(b for b in ((i * 73 + 41) % 256 for i in range(600)) if b not in (3, 10))


HOSTILE = (
    (b"\xff\xfe\x80garbage\n", E.BAD_UTF8),
    (_noise() + b"\n", E.BAD_UTF8),
    (b"{not json\n", E.BAD_JSON),
    (b'{"id": 1, "cmd": "status"\n', E.BAD_JSON),
    (b"[1, 2, 3]\n", E.NOT_OBJECT),
    (b'"status"\n', E.NOT_OBJECT),
    (b'{"cmd": "status"}\n', E.BAD_FIELD),
    (b'{"id": true, "cmd": "status"}\n', E.BAD_FIELD),
    (b'{"id": [1], "cmd": "status"}\n', E.BAD_FIELD),
    (b'{"id": 7, "cmd": "reboot"}\n', E.UNKNOWN_CMD),
    (b'{"id": 7, "cmd": 5}\n', E.UNKNOWN_CMD),
    (b'{"id": 7}\n', E.UNKNOWN_CMD),
    (b'{"id": 7, "cmd": "log", "since": "0"}\n', E.BAD_FIELD),
    (b'{"id": 7, "cmd": "log", "since": -1}\n', E.BAD_FIELD),
    (b'{"id": 7, "cmd": "set_time", "unix_s": "now"}\n', E.BAD_FIELD),
    (b"x" * (LINE_MAX_BYTES + 1) + b"\n", E.LINE_TOO_LONG),
)
