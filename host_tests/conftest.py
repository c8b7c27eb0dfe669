"""Shared pytest set-up: the firmware package is imported straight from firmware/."""

import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware"
FAKES = pathlib.Path(__file__).resolve().parent / "fakes"

if str(FIRMWARE) not in sys.path:
    sys.path.insert(0, str(FIRMWARE))
