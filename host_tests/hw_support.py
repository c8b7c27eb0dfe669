"""Shared helpers for the hardware (ngspice) tier."""

import json
import shutil

from tiers import require
from tvns_tools.firmware import ROOT


def need_ngspice():
    require(shutil.which("ngspice"), "ngspice (Debian package; `make system-deps` as root)")


def pico():
    return json.loads((ROOT / "hardware" / "boards" / "pico.json").read_text())


def settled(w, start_us, width_us):
    """Mean current (mA) over the last half of a phase."""
    from tvns_tools.hw import measure

    return measure._plateau(w, start_us + 0.0, start_us + width_us)
