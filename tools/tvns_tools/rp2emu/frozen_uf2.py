"""The tvns UF2 (firmware/dist/, docs/FIRMWARE-BUILD.md) on the emulated Pico: where it is,
whether it still freezes this tree, and a littlefs image with what `tvns deploy` copies onto
it (no tvns/ package: it is frozen in the UF2)."""

import json
import pathlib

from tvns_tools.firmware import FIRMWARE

DIST = FIRMWARE / "dist"
NAME = "tvns-RPI_PICO-v1.28.0"


def uf2_path():
    return DIST / (NAME + ".uf2")


def record():
    """The build record beside the UF2 ({} when there is none)."""
    path = DIST / (NAME + ".json")
    return json.loads(path.read_text()) if path.exists() else {}


def problem():
    """Why the committed UF2 cannot stand for this tree (None when it can)."""
    from tvns_tools.frozen import source_digest

    if not uf2_path().exists():
        return "no %s: run make firmware" % uf2_path().relative_to(FIRMWARE.parent)
    if record().get("source_digest") != source_digest(FIRMWARE):
        return "firmware/dist UF2 is stale: run make firmware"
    return None


def stage(out_dir):
    """`tvns deploy`'s tree for a board running the tvns UF2 (the frozen mode): main.py,
    boot.py, board.json, protocols/. Returns the device names."""
    from tvns_tools import deploy, deploy_frozen

    out_dir = pathlib.Path(out_dir)
    return deploy_frozen.trim(out_dir, deploy.stage("rp2", out_dir))
