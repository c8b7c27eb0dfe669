"""Run ngspice in batch mode and read back the probe table (wrdata, one time column)."""

import pathlib
import shutil
import subprocess
import tempfile

import numpy as np

from tvns_tools.firmware import ToolError
from tvns_tools.hw import deck

TIMEOUT_S = 120


def ngspice_binary():
    found = shutil.which("ngspice")
    if not found:
        raise ToolError(
            "ngspice not found: install it (Debian/Ubuntu: apt-get install ngspice; "
            "`make system-deps` as root does it)"
        )
    return found


class Waves:
    """Columns of one run: t_us plus each probe name of deck.PROBES, as numpy arrays."""

    def __init__(self, table, deck_text):
        self.t_us = table[:, 0] * 1e6
        for k, (name, _expr) in enumerate(deck.PROBES):
            setattr(self, name, table[:, 1 + k])
        self.deck = deck_text

    def at(self, name, t_us):
        """Probe value at t_us (linear interpolation)."""
        return float(np.interp(t_us, self.t_us, getattr(self, name)))


def run(stim, load, keep_dir=None):
    """Simulate the stimulus into the load; returns Waves. keep_dir: also write the deck and
    the data table there (stage.cir, stage.dat) for a person to rerun or inspect."""
    if load not in deck.LOADS:
        raise ToolError("--load %r: expected one of %s" % (load, "|".join(deck.LOADS)))
    binary = ngspice_binary()
    with tempfile.TemporaryDirectory(prefix="tvns-hw-") as tmp:
        data = pathlib.Path(tmp) / "stage.dat"
        text = deck.build(stim, load, data)
        cir = pathlib.Path(tmp) / "stage.cir"
        cir.write_text(text)
        try:
            proc = subprocess.run(
                [binary, "-b", str(cir)],
                capture_output=True,
                text=True,
                timeout=TIMEOUT_S,
                cwd=tmp,
            )
        except subprocess.TimeoutExpired:
            raise ToolError("ngspice did not finish within %d s" % TIMEOUT_S) from None
        # ngspice -b exits 1 after a .control run even when it went well: judge by the
        # data file and by its own error lines.
        failed = [ln for ln in proc.stdout.splitlines() if ln.lower().startswith("error")]
        if failed or not data.exists():
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise ToolError("ngspice failed (exit %d):\n%s" % (proc.returncode, tail))
        table = np.loadtxt(data, skiprows=1, ndmin=2)
        if keep_dir is not None:
            keep = pathlib.Path(keep_dir)
            keep.mkdir(parents=True, exist_ok=True)
            (keep / "stage.cir").write_text(text.replace(str(data), "stage.dat"))
            shutil.copy(data, keep / "stage.dat")
    return Waves(table, text)
