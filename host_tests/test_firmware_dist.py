"""The committed tvns UF2 (firmware/dist/, docs/FIRMWARE-BUILD.md) must be the build of this
tree: its record's source digest is the current firmware/ sources', the UF2 is the file the
record names (sha256), and the digest really is inside the image (the frozen marker module).
Host only and fast: the build itself is `make firmware` (not in `make test`: CI has no
MicroPython sources)."""

import hashlib
import json
import pathlib
import struct
import subprocess

from tvns_tools import frozen
from tvns_tools.rp2emu import frozen_uf2

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware"
STALE = "firmware/dist UF2 is stale: run make firmware"
UF2_MAGIC = (0x0A324655, 0x9E5D5157, 0x0AB16F30)
RP2040_FAMILY = 0xE48BFF56
XIP_BASE = 0x10000000


def _record():
    return json.loads((FIRMWARE / "dist" / (frozen_uf2.NAME + ".json")).read_text())


def flash_of(uf2_bytes):
    """The flash contents a UF2 writes (its 256-byte payloads at their addresses), and the
    family ids it names; AssertionError on a malformed block."""
    assert len(uf2_bytes) % 512 == 0 and uf2_bytes, "not a UF2"
    pieces, families = {}, set()
    for off in range(0, len(uf2_bytes), 512):
        blk = uf2_bytes[off : off + 512]
        m0, m1, flags, addr, size, _n, _total, family = struct.unpack("<8I", blk[:32])
        assert (m0, m1, struct.unpack("<I", blk[508:])[0]) == UF2_MAGIC, "bad UF2 block"
        if flags & 0x2000:
            families.add(family)
        pieces[addr] = blk[32 : 32 + size]
    start = min(pieces)
    out = bytearray(max(a + len(d) for a, d in pieces.items()) - start)
    for addr, data in pieces.items():
        out[addr - start : addr - start + len(data)] = data
    return start, bytes(out), families


def test_the_committed_uf2_is_this_trees_build():
    rec = _record()
    assert rec["source_digest"] == frozen.source_digest(FIRMWARE), STALE
    assert frozen_uf2.problem() is None


def test_the_uf2_is_the_file_its_record_names():
    rec = _record()
    data = frozen_uf2.uf2_path().read_bytes()
    assert rec["uf2"]["file"] == frozen_uf2.uf2_path().name
    assert len(data) == rec["uf2"]["bytes"]
    assert hashlib.sha256(data).hexdigest() == rec["uf2"]["sha256"], (
        "firmware/dist UF2 does not match its record (sha256): run make firmware"
    )


def test_the_uf2_is_a_pico_image_with_the_digest_and_micropython_inside():
    rec = _record()
    start, flash, families = flash_of(frozen_uf2.uf2_path().read_bytes())
    assert start == XIP_BASE and families == {RP2040_FAMILY}
    # the marker module's DIGEST: what `tvns deploy` reads from the board
    assert rec["source_digest"].encode() in flash
    assert b"MicroPython v1.28.0" in flash
    assert rec["micropython"]["tag"] == "v1.28.0"
    assert rec["micropython"]["commit"] == "e0e9fbb17ed6fd06bb76e266ae554784c9c80804"
    assert rec["micropython"]["submodules"]["lib/pico-sdk"].startswith("a1438dff")
    assert rec["micropython"]["submodules"]["lib/tinyusb"].startswith("aa0fc2e0")
    assert rec["frozen_files"] == len(frozen.frozen_files(FIRMWARE))


def test_the_digest_follows_every_frozen_source_and_the_manifest(tmp_path):
    import shutil

    copy = tmp_path / "firmware"
    shutil.copytree(FIRMWARE, copy, ignore=shutil.ignore_patterns("dist", "__pycache__"))
    base = frozen.source_digest(copy)
    assert base == frozen.source_digest(FIRMWARE)
    for rel in ("tvns/limits.py", "tvns/board/rp2.py", "manifest.py"):
        p = copy / rel
        old = p.read_bytes()
        p.write_bytes(old + b"\n# changed\n")
        assert frozen.source_digest(copy) != base, rel
        p.write_bytes(old)
    # what stays a file on the board is not frozen: no rebuild for it
    for rel in ("main.py", "boot.py", "protocols/default.json"):
        (copy / rel).write_bytes((copy / rel).read_bytes() + b"\n")
    (copy / "tvns" / "board" / "simrun.py").write_text("# host only\n")
    assert frozen.source_digest(copy) == base


def test_make_firmware_runs_the_build_script_and_is_not_part_of_make_test():
    dry = subprocess.run(
        ["make", "-n", "--no-print-directory", "firmware"],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert "tools/build_firmware.py" in dry.stdout, dry.stdout + dry.stderr
    test = subprocess.run(
        ["make", "-n", "--no-print-directory", "test"],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert "build_firmware" not in test.stdout


def _native_pc_literals(start, flash):
    """Addresses of the two Thumb sequences MicroPython's native emitter reads a word through
    the PC with (py/asmthumb.c): `ldr rX, [pc, #0]; b.n +2; .word` (a 32-bit constant) and
    `ldr r1, [pc, #0]; add pc, r1; .word` (a long jump). GCC's code keeps its literals in
    pools after the function: in this image only the frozen native code has them."""
    out = []
    for k in range(0, len(flash) - 3, 2):
        b = flash[k : k + 4]
        literal = b[0] == 0 and (b[1] & 0xF8) == 0x48 and b[2:4] == b"\x01\xe0"
        long_jump = b == b"\x00\x49\x8f\x44"
        if literal or long_jump:
            out.append(start + k)
    return out


def test_frozen_native_code_reads_its_constants_from_aligned_words():
    """SAFETY.md H93: v1.28.0's mpy-tool put frozen ARMv6-M native code on 2-byte boundaries;
    at 2 mod 4 the `ldr [pc]` reads two bytes off its word (the tick's _WRAP, found on the
    emulated Pico). Emitted 4-aligned relative to the code's start, each sequence must sit
    4-aligned in flash, as `make firmware` now places it."""
    start, flash, _families = flash_of(frozen_uf2.uf2_path().read_bytes())
    found = _native_pc_literals(start, flash)
    assert found, "no native code in the image (the tick is @micropython.native)"
    assert [hex(a) for a in found if a % 4] == []
