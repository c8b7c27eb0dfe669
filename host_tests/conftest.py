"""Shared pytest set-up: the firmware package is imported straight from firmware/, with
the host-only `micropython` shim (tools/tvns_tools/shim) that gives CPython `const`."""

import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware"
SHIM = ROOT / "tools" / "tvns_tools" / "shim"
FAKES = pathlib.Path(__file__).resolve().parent / "fakes"

for _path in (SHIM, FIRMWARE):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
