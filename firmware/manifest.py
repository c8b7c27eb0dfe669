# The tvns firmware frozen into a MicroPython build for the Pico (docs/FIRMWARE-BUILD.md).
# Frozen modules run from flash (XIP): an import needs no file system look-up and the
# bytecode stays out of the heap. `make firmware` builds with this (tools/build_firmware.py);
# by hand, from a MicroPython v1.28.0 checkout:
#   make -C ports/rp2 BOARD=RPI_PICO FROZEN_MANIFEST=/path/to/firmware/manifest.py
# The board's own manifest comes first, so everything a stock Pico UF2 freezes stays
# (asyncio, onewire, ds18x20, dht, neopixel, rp2's modules).
# main.py, boot.py, board.json and protocols/ stay files on littlefs (`tvns deploy` copies
# them): a user replaces the pin map without a rebuild, and can always reach the REPL.
# The file list is deploy's own rule for the rp2 board (no host-only sim board, no esp32
# modules), compiled as `tvns deploy` compiles it: opt=3 (-O3: no line numbers, no
# asserts) with the port's -march=armv6m (so @micropython.native/viper become machine code,
# as on the armv6m deploy). A marker module, tvns_frozen, carries the digest of these
# sources: `tvns deploy` reads it from the board to know the frozen code is this tree's.
# (makemanifest runs this file with the working directory set to firmware/.)
import os
import sys

include("$(PORT_DIR)/boards/manifest.py")  # noqa: F821 - makemanifest provides it

sys.path.insert(0, os.path.abspath(os.path.join("..", "tools")))
from tvns_tools import frozen  # noqa: E402
from tvns_tools.firmware import firmware_version  # noqa: E402

_files = [rel[len("tvns/") :] for rel in frozen.frozen_files(".") if rel.startswith("tvns/")]
package("tvns", files=_files, opt=3)  # noqa: F821

# The marker goes to $TVNS_FROZEN_MARKER_DIR (the build script's build dir), else a
# directory under the system temp dir named by the digest.
_digest = frozen.source_digest(".")
_dir = os.environ.get("TVNS_FROZEN_MARKER_DIR") or os.path.join(
    __import__("tempfile").gettempdir(), "tvns-frozen-" + _digest[:16]
)
frozen.write_marker(_dir, _digest, firmware_version("."))
module(frozen.MARKER + ".py", base_path=_dir, opt=3)  # noqa: F821
