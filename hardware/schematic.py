"""Draw the OS-1 schematic sheets into hardware/schematic/ (one SVG + PNG per block).

    .venv/bin/python hardware/schematic.py          # rewrite every sheet
    .venv/bin/python hardware/schematic.py --check  # exit 1 if a committed file is stale

The drawing code is tools/tvns_tools/hw/sheets/ (schemdraw, text as paths via ziamath; PNGs
by cairosvg, which needs Debian's libcairo2). host_tests/test_hw_schematic.py checks that the
committed files are current and that every part drawn is the netlist's and the BOM's."""

import sys

from tvns_tools.hw.sheets import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
