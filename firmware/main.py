# main.py: build the board from its config and run the app; whatever happens, output off.
# On a board this waits, output off, for an explicit operator command on the console
# (JSON lines on the USB serial link, PROTOCOL.md). On a host (the MicroPython unix port)
# the sim board stands in, and tvns/board/simmain.py (host only) reads the host's argv:
#   micropython main.py --simulate PROTOCOL.json ...   one session, JSON result
#   micropython main.py --console [--speed N] [--state DIR] [--log FILE]   the console on stdio
import micropython

try:
    # First of all: room for the traceback of an exception raised in a hard IRQ (the tick),
    # which may not allocate (isr_rules.rst). The unix port has no such buffer.
    micropython.alloc_emergency_exception_buf(100)
except AttributeError:
    pass

import sys  # noqa: E402 - after the emergency buffer on purpose

# The rest is compiled (.mpy, tvns/board/mainloop.py): main.py is compiled at every boot.
from tvns.board.mainloop import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv))
