#!/usr/bin/env python3
"""Build the tvns firmware UF2 for the Pico: the official MicroPython v1.28.0 rp2 port, board
RPI_PICO, with firmware/manifest.py frozen in (docs/FIRMWARE-BUILD.md). `make firmware` runs it.

    tools/build_firmware.py [--source DIR] [--build-dir DIR] [--jobs N]

--source (or $TVNS_MICROPYTHON_SRC): a MicroPython checkout at v1.28.0 with the rp2 port's
submodules (lib/pico-sdk, lib/tinyusb, lib/micropython-lib, lib/mbedtls) at the commits the
tag pins; checked before anything is built. Without it, a clone from GitHub (needs internet)
into ~/.cache/tvns/micropython-v1.28.0.
--picotool-git (or $TVNS_PICOTOOL_GIT): where pico-sdk gets picotool (it makes the UF2) when
none is installed: default its GitHub repository at tag 2.2.0, the version SDK 2.2.0 wants.
--build-dir (or $TVNS_FIRMWARE_BUILD): CMake's build directory, kept between runs (outside the
repo) so a rebuild after a firmware change only re-freezes and relinks. Default
~/.cache/tvns/build-RPI_PICO.

Writes firmware/dist/tvns-RPI_PICO-v1.28.0.uf2 and its record (.json: MicroPython tag and
commit, submodule commits, toolchain, the digest of the frozen sources, the UF2's sha256).
host_tests/test_firmware_dist.py fails when the record no longer matches the tree."""

import argparse
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from tvns_tools import frozen  # noqa: E402
from tvns_tools.firmware import firmware_version  # noqa: E402

TAG = "v1.28.0"
COMMIT = "e0e9fbb17ed6fd06bb76e266ae554784c9c80804"
BOARD = "RPI_PICO"
SUBMODULES = ("lib/pico-sdk", "lib/tinyusb", "lib/micropython-lib", "lib/mbedtls")
UPSTREAM = "https://github.com/micropython/micropython.git"
FIRMWARE = ROOT / "firmware"
DIST = FIRMWARE / "dist"
NAME = "tvns-%s-%s" % (BOARD, TAG)
CACHE = pathlib.Path(os.environ.get("XDG_CACHE_HOME", pathlib.Path.home() / ".cache")) / "tvns"


class BuildError(Exception):
    pass


def _git(repo, *args):
    r = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise BuildError("git %s in %s: %s" % (" ".join(args), repo, r.stderr.strip()))
    return r.stdout.strip()


def _run(cmd, env=None, cwd=None):
    print("+ " + " ".join(str(c) for c in cmd), flush=True)
    r = subprocess.run(["nice", *[str(c) for c in cmd]], env=env, cwd=cwd)
    if r.returncode != 0:
        raise BuildError("%s failed (exit %d)" % (cmd[0], r.returncode))


def clone(dest):
    """A fresh checkout from GitHub: the tag, then only the rp2 port's submodules."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    _run(["git", "clone", "--depth", "1", "--branch", TAG, UPSTREAM, dest])
    _run(["git", "-C", dest, "submodule", "update", "--init", "--depth", "1", *SUBMODULES])
    return dest


def check_source(src):
    """{"commit", "submodules": {path: commit}} of a checkout at exactly v1.28.0 with the
    submodules the tag pins; BuildError naming what differs."""
    src = pathlib.Path(src)
    if not (src / "ports" / "rp2" / "CMakeLists.txt").exists():
        raise BuildError("%s is not a MicroPython checkout (no ports/rp2)" % src)
    head = _git(src, "rev-parse", "HEAD")
    if head != COMMIT:
        raise BuildError("%s is at %s, not %s (%s)" % (src, head[:12], TAG, COMMIT[:12]))
    subs = {}
    for path in SUBMODULES:
        pinned = _git(src, "ls-tree", "HEAD", path).split()
        want = pinned[2] if len(pinned) >= 3 else None
        if not (src / path / ".git").exists():
            raise BuildError(
                "%s/%s is missing (git submodule update --init %s)" % (src, path, path)
            )
        got = _git(src / path, "rev-parse", "HEAD")
        if got != want:
            raise BuildError("%s is at %s; %s pins %s" % (path, got[:12], TAG, str(want)[:12]))
        subs[path] = got
    return {"commit": head, "submodules": subs}


# The one change to MicroPython v1.28.0 (docs/FIRMWARE-BUILD.md): its mpy-tool places frozen
# ARMv6-M native code (@micropython.native/viper) on 2-byte boundaries, but the Thumb emitter's
# 32-bit literals (asm_thumb_mov_reg_i32: `ldr rX, [pc, #0]`, and long jumps) assume a 4-byte
# aligned start (asmthumb.c asserts it for code it loads itself). At a 2 mod 4 address the
# literal is read two bytes off: the frozen tick read 0x3FFFFFFF (_WRAP) wrongly, never counted
# a beat, and the watchdog reset the emulated Pico 300 ms into every session. ARMv6 already
# gets 4-byte alignment; ARMv6-M gets the same here. check_native_alignment() proves it in
# the linked image.
MPY_TOOL = "tools/mpy-tool.py"
MPY_TOOL_OLD = """        if config.native_arch in (
            MP_NATIVE_ARCH_ARMV6,
            MP_NATIVE_ARCH_XTENSA,"""
MPY_TOOL_NEW = """        if config.native_arch in (
            MP_NATIVE_ARCH_ARMV6,
            MP_NATIVE_ARCH_ARMV6M,  # tvns: Thumb literals need a 4-aligned start
            MP_NATIVE_ARCH_XTENSA,"""


def patch_mpy_tool(src):
    """Apply the alignment fix (idempotent); returns the record's entry."""
    path = pathlib.Path(src) / MPY_TOOL
    text = path.read_text()
    if MPY_TOOL_NEW not in text:
        if MPY_TOOL_OLD not in text:
            raise BuildError(
                "%s: the native-code alignment block is not where v1.28.0 has it" % path
            )
        path.write_text(text.replace(MPY_TOOL_OLD, MPY_TOOL_NEW, 1))
    return {
        "file": MPY_TOOL,
        "what": "4-byte alignment for frozen ARMv6-M native code (Thumb literal pools)",
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }


def check_native_alignment(build_dir):
    """Every frozen native function in the linked image starts 4-byte aligned; BuildError
    naming the first that does not (its pc-relative literals would be misread)."""
    nm = subprocess.run(
        ["arm-none-eabi-nm", str(pathlib.Path(build_dir) / "firmware.elf")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    native = []
    for line in nm.stdout.splitlines():
        words = line.split()
        # native code goes to .text (type t); bytecode stays read-only data (r)
        if len(words) == 3 and words[1] == "t" and words[2].startswith("fun_data_"):
            native.append((words[2], int(words[0], 16)))
    bad = [name for name, addr in native if addr % 4]
    if bad:
        raise BuildError("frozen native code not 4-byte aligned: %s" % ", ".join(bad[:5]))
    return len(native)


def toolchain():
    r = subprocess.run(["arm-none-eabi-gcc", "--version"], capture_output=True, text=True)
    if r.returncode != 0:
        raise BuildError(
            "arm-none-eabi-gcc not found (apt-get install gcc-arm-none-eabi "
            "libnewlib-arm-none-eabi)"
        )
    return r.stdout.splitlines()[0].strip()


def build(src, build_dir, jobs, picotool_git=None):
    """Configure once (CMake cache kept), build; returns the UF2 path and the marker's digest."""
    src, build_dir = pathlib.Path(src).resolve(), pathlib.Path(build_dir).resolve()
    env = dict(os.environ)
    # Reproducible: the banner's date is the tag's commit time, not today.
    env["SOURCE_DATE_EPOCH"] = _git(src, "log", "-1", "--format=%ct", "HEAD")
    env["TVNS_FROZEN_MARKER_DIR"] = str(build_dir / "tvns-marker")
    manifest = FIRMWARE / "manifest.py"
    cache = build_dir / "CMakeCache.txt"
    cached = cache.read_text() if cache.exists() else ""
    # Configure once; again when the build dir was configured for another checkout's
    # manifest (one build dir serves any tree: it must freeze this one).
    if "MICROPY_FROZEN_MANIFEST:UNINITIALIZED=%s\n" % manifest not in cached:
        board_dir = src / "ports" / "rp2" / "boards" / BOARD
        _run(
            [
                "cmake", "-S", src / "ports" / "rp2", "-B", build_dir, "-DPICO_BUILD_DOCS=0",
                "-DMICROPY_BOARD=" + BOARD, "-DMICROPY_BOARD_DIR=%s" % board_dir,
                "-DMICROPY_FROZEN_MANIFEST=%s" % manifest,
            ]
            # pico-sdk builds picotool (UF2 output) from its git tag; a local mirror here
            + (["-DPICOTOOL_GIT_REPOSITORY_URL=%s" % picotool_git] if picotool_git else []),
            env=env,
        )  # fmt: skip
    _run(["cmake", "--build", build_dir, "-j", str(jobs)], env=env)
    marker = (build_dir / "tvns-marker" / (frozen.MARKER + ".py")).read_text()
    digest = marker.split('DIGEST = "', 1)[1].split('"', 1)[0]
    return build_dir / "firmware.uf2", digest


def write_dist(uf2, record):
    DIST.mkdir(parents=True, exist_ok=True)
    out = DIST / (NAME + ".uf2")
    shutil.copyfile(uf2, out)
    data = out.read_bytes()
    record["uf2"] = {
        "file": out.name,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    (DIST / (NAME + ".json")).write_text(json.dumps(record, indent=1) + "\n")
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--source", default=os.environ.get("TVNS_MICROPYTHON_SRC"))
    p.add_argument(
        "--build-dir", default=os.environ.get("TVNS_FIRMWARE_BUILD", CACHE / ("build-" + BOARD))
    )
    p.add_argument(
        "--picotool-git",
        default=os.environ.get("TVNS_PICOTOOL_GIT"),
        help="git URL or path of picotool (pico-sdk fetches tag 2.2.0 from GitHub by default)",
    )
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args(argv)
    t0 = time.monotonic()
    try:
        src = pathlib.Path(args.source) if args.source else CACHE / ("micropython-" + TAG)
        if not args.source and not src.exists():
            clone(src)
        source = check_source(src)
        patch = patch_mpy_tool(src)
        tools = toolchain()
        digest_before = frozen.source_digest(FIRMWARE)
        uf2, digest = build(src, args.build_dir, args.jobs, args.picotool_git)
        n_native = check_native_alignment(args.build_dir)
        if digest != digest_before or digest != frozen.source_digest(FIRMWARE):
            raise BuildError(
                "the image froze sources %s, this tree's are %s (changed during the build?): "
                "run make firmware again" % (digest[:16], frozen.source_digest(FIRMWARE)[:16])
            )
        record = {
            "board": BOARD,
            "micropython": {"tag": TAG, **source, "patches": [patch]},
            "native_functions_4_aligned": n_native,
            "toolchain": tools,
            "tvns_version": firmware_version(FIRMWARE),
            "source_digest": digest,
            "frozen_files": len(frozen.frozen_files(FIRMWARE)),
            "manifest": "firmware/manifest.py",
        }
        out = write_dist(uf2, record)
    except BuildError as exc:
        print("build_firmware: %s" % exc, file=sys.stderr)
        return 1
    print(
        "%s: %d bytes, sha256 %s, sources %s (%.0f s)"
        % (out.relative_to(ROOT), record["uf2"]["bytes"], record["uf2"]["sha256"][:16],
           digest[:16], time.monotonic() - t0)
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
