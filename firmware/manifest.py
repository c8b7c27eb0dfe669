# Freeze the firmware into a custom MicroPython build (the files become part of the
# firmware image: no filesystem copy, no RAM for the bytecode). From a MicroPython checkout:
#   make -C ports/rp2 BOARD=RPI_PICO FROZEN_MANIFEST=/path/to/firmware/manifest.py
# main.py, boot.py and board.json still go on the filesystem (`tvns deploy` copies them),
# so a board can be re-configured without a rebuild. The file list is computed here, from
# the same rule as `tvns deploy`: the tvns package without the host-only sim board.
import os

include("$(PORT_DIR)/boards/manifest.py")  # noqa: F821 - makemanifest provides it


def _tvns_files(top="tvns"):
    out = []
    for dirpath, _dirs, files in os.walk(top):
        for name in files:
            rel = os.path.join(dirpath, name)[len(top) + 1 :].replace(os.sep, "/")
            if name.endswith(".py") and not rel.startswith("board/sim"):
                out.append(rel)
    return sorted(out)


package("tvns", files=_tvns_files(), opt=3)  # noqa: F821
