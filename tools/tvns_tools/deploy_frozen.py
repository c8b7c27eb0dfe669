"""`tvns deploy` onto a board that runs the tvns UF2 (firmware/dist/, docs/FIRMWARE-BUILD.md):
the tvns package is frozen into its flash, so only what stays a file is copied (main.py,
boot.py, board.json, protocols/), and any tvns/ left on the file system is removed.

Why the removal matters: MicroPython's sys.path is ['', '.frozen', '/lib'], so a /tvns
directory on littlefs (old .mpy files, or even an empty directory: a namespace package)
shadows the frozen package entirely.

The board says what it runs: the frozen marker module `tvns_frozen` (DIGEST: the sha256 of
the frozen sources, tools/tvns_tools/frozen.py) must import from '.frozen'. Only when that
digest is this host's tree's is the frozen path taken; a board with other frozen code (an
older UF2) gets the full .mpy copy as on a stock UF2, which shadows its frozen package, with
a warning saying how much heap that costs. hello's limits_crc check follows either way."""

import shutil

from tvns_tools.firmware import FIRMWARE

# Imported with sys.path holding '.frozen' alone: a tvns_frozen.py on the file system (which
# would shadow it in a plain import) is not frozen code and is not looked at. (A frozen
# module's __file__ on the rp2 port is just 'tvns_frozen.py': it cannot tell the two apart.)
PROBE = (
    "import sys\n"
    "_p = sys.path[:]\n"
    "sys.path[:] = ['.frozen']\n"
    "sys.modules.pop('tvns_frozen', None)\n"
    "try:\n"
    " import tvns_frozen\n"
    " print('TVNS_FROZEN', tvns_frozen.DIGEST)\n"
    "except ImportError:\n"
    " print('TVNS_FROZEN none')\n"
    "sys.path[:] = _p\n"
)

# Run on the board before the copy in the frozen mode: all of /tvns goes (files, then the
# directories, deepest first), then the check that it is gone.
CLEAN_ALL = """import os
def _rm(d):
    try:
        names = os.listdir(d)
    except OSError:
        return
    for n in names:
        p = d + '/' + n
        if os.stat(p)[0] & 0x4000:
            _rm(p)
        else:
            os.remove(p)
    os.rmdir(d)
_rm('tvns')
print('TVNS_CLEAN', 'tvns' in os.listdir())
"""


def board_digest(output):
    """The frozen tvns digest the probe's output shows, or None (no marker: a stock UF2)."""
    for line in output.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] == "TVNS_FROZEN" and words[1] != "none":
            return words[1]
    return None


def probe(mpremote, port, resume=False):
    """The board's frozen tvns digest (None on a stock UF2)."""
    return board_digest(mpremote(port, ["exec", PROBE], resume, timeout_s=30))


def frozen_here(mpremote, port, resume=False):
    """True when the board runs a tvns UF2 frozen from this very tree (deploy_frozen.py):
    then only the files that stay files are copied. A board with another tree frozen in
    gets the full copy, which shadows its frozen package (and says so)."""
    theirs = probe(mpremote, port, resume)
    if theirs is None:
        return False
    if theirs == host_digest():
        print("%s: tvns firmware with this tree frozen in (sources %s)" % (port, theirs[:16]))
        return True
    print(
        "%s: warning: its firmware has other tvns sources frozen in (%s, this tree %s): "
        "copying the whole package over it (it shadows the frozen one: ~85 KB less heap, "
        "~0.8 s longer boot). "
        "Flash firmware/dist/ after `make firmware` for the frozen path"
        % (port, theirs[:16], host_digest()[:16])
    )
    return False


def host_digest(firmware=FIRMWARE):
    from tvns_tools.frozen import source_digest

    return source_digest(firmware)


def trim(stage_dir, names):
    """Drop the frozen package from a staged tree; returns the names left to copy."""
    shutil.rmtree(stage_dir / "tvns", ignore_errors=True)
    return [n for n in names if not n.startswith("tvns/")]


def copy(mpremote, port, stage_dir, resume=False):
    from tvns_tools.firmware import ToolError

    out = mpremote(
        port, ["exec", CLEAN_ALL, "+", "fs", "cp", "-r", str(stage_dir) + "/.", ":"], resume
    )
    if "TVNS_CLEAN False" not in out:
        raise ToolError(
            "could not remove /tvns from the board on %s: it would shadow the frozen firmware "
            "(remove it with mpremote, then deploy again)" % port
        )
