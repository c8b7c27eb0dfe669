"""Where the MicroPython rp2 firmware image comes from, and the emulated Pico's flash file
system (littlefs, as the rp2 port formats it) as a host file.

The UF2 is looked up, first match wins:
  1. $TVNS_RP2_FIRMWARE (a .uf2 file, or a directory holding one);
  2. shared/rp2/ beside the project root (../shared/rp2/), then beside each of its parents
     (a git worktree lives one or two levels deeper than the checkout it belongs to);
  3. rp2040py's own retrieval of the official v1.28.0 RPI_PICO build (its cache, else a
     download where the machine has internet).
"""

import os
import pathlib

from tvns_tools.firmware import ROOT

MP_VERSION = "1.28.0"  # the MicroPython release the project targets on rp2
ENV_FIRMWARE = "TVNS_RP2_FIRMWARE"
_UF2_NAMES = ("firmware-RPI_PICO-v%s.uf2" % MP_VERSION, "RPI_PICO-*-v%s.uf2" % MP_VERSION)


def _uf2_in(folder):
    folder = pathlib.Path(folder)
    for pattern in _UF2_NAMES:
        found = sorted(folder.glob(pattern))
        if found:
            return found[0]
    found = sorted(folder.glob("*.uf2"))
    return found[0] if found else None


def _shared_dirs(root=ROOT):
    """../shared/rp2 from the project root first, then from each ancestor."""
    return [parent / "shared" / "rp2" for parent in list(root.parents)[:3]]


def find_firmware(root=ROOT, retrieve=True):
    """Path of the MicroPython rp2 UF2, or None when none can be found (see module doc)."""
    env = os.environ.get(ENV_FIRMWARE)
    if env:
        p = pathlib.Path(env)
        if p.is_dir():
            p = _uf2_in(p)
        return p if p is not None and p.is_file() else None
    for folder in _shared_dirs(pathlib.Path(root)):
        if folder.is_dir():
            found = _uf2_in(folder)
            if found is not None:
                return found
    if not retrieve:
        return None
    try:
        from rp2040py.utils.firmware_retrieve import MICROPYTHON
        from rp2040py.utils.firmware_retrieve import retrieve as rp2040py_retrieve

        found = rp2040py_retrieve(MICROPYTHON, MP_VERSION, "pico")
    except Exception:  # noqa: BLE001 - no network, no cache: "not found", not a traceback
        return None
    return pathlib.Path(found) if found and pathlib.Path(found).is_file() else None


def layout():
    """(fs_start, block_size, block_count) of the rp2 port's littlefs on the Pico's flash."""
    from rp2040py.utils.firmware_retrieve import MICROPYTHON, flash_layout

    lay = flash_layout(MICROPYTHON, "pico")
    return lay["fs_start"], lay["fs_blocksize"], lay["fs_blockcount"]


def _lfs(buffer=None):
    from littlefs import LittleFS, UserContext

    _start, block_size, block_count = layout()
    ctx = UserContext(buffsize=block_size * block_count)
    if buffer is not None:
        ctx.buffer[:] = buffer
    # A fresh image is written in on-disk version 2.0 (what rp2040py's mklittlefs writes and
    # every MicroPython since 1.2x mounts). An existing one is mounted as it is: asking for a
    # disk version there makes littlefs-python see an empty root.
    if buffer is not None:
        fs = LittleFS(context=ctx, block_size=block_size, block_count=block_count, mount=True)
        return fs, ctx
    fs = LittleFS(
        context=ctx,
        block_size=block_size,
        block_count=block_count,
        prog_size=256,
        disk_version=0x00020000,
        mount=False,
    )
    fs.format()
    fs.mount()
    return fs, ctx


def build(files, out):
    """Write a fresh littlefs image holding files {device path: bytes} to out."""
    fs, ctx = _lfs()
    _write_all(fs, files)
    fs.unmount()
    pathlib.Path(out).write_bytes(bytes(ctx.buffer))
    return pathlib.Path(out)


def _write_all(fs, files):
    for name in sorted(files):
        parts = name.strip("/").split("/")
        for i in range(1, len(parts)):
            d = "/".join(parts[:i])
            try:
                fs.mkdir(d)
            except FileExistsError:
                pass
        with fs.open("/".join(parts), "wb") as f:
            f.write(files[name])


def overlay(image, files, out):
    """Copy of a littlefs image with files {device path: bytes} added or replaced."""
    fs, ctx = _lfs(pathlib.Path(image).read_bytes())
    _write_all(fs, files)
    fs.unmount()
    pathlib.Path(out).write_bytes(bytes(ctx.buffer))
    return pathlib.Path(out)


def read(image):
    """{device path: bytes} of every file in a littlefs image (the board's flash as dumped)."""
    fs, _ctx = _lfs(pathlib.Path(image).read_bytes())
    out = {}
    for top, _dirs, names in fs.walk("/"):
        for name in names:
            path = (top.rstrip("/") + "/" + name).lstrip("/")
            with fs.open(path, "rb") as f:
                out[path] = f.read()
    fs.unmount()
    return out


def from_stage(stage_dir, out):
    """A littlefs image of a `tvns deploy` staging tree (deploy.stage output)."""
    root = pathlib.Path(stage_dir)
    files = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    return build(files, out)
