"""`tvns deploy`: compile the firmware with mpy-cross for the board's architecture, copy it
with mpremote, write the board config as board.json, then reset and check that `hello`
answers with the version just deployed.

What goes on the board (the same list feeds firmware/package.json and manifest.py, which
carry both boards): main.py and boot.py stay source (MicroPython runs them by name); every
other firmware module is compiled to .mpy; host-only modules (the sim board) never leave the
host, and each board gets only its own board modules (no rp2*.py on an ESP32, no esp32*.py
on a Pico). The pin map is checked on the host before anything is copied.

Longer than ~300 lines on purpose: the whole sequence (map, stage, unlock, MicroPython
check, copy, hello) reads in order in one place; each step is a short function."""

import json
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

from tvns_tools import deploy_frozen
from tvns_tools.firmware import FIRMWARE, ROOT, ToolError
from tvns_tools.firmware import firmware_version as _firmware_version

ARCH = {"rp2": "armv6m", "esp32": "xtensawin"}
CONFIG = {"rp2": "pico.json", "esp32": "esp32-devkitc.json"}  # under hardware/boards/
SOURCE_KEPT = ("main.py", "boot.py")  # run by name after reset: must stay .py
# Host-only: the sim board, its trace export and the host harness. Never deployed.
HOST_ONLY = re.compile(r"^tvns/board/sim[^/]*\.py$")
# The other boards' modules: left out of a board's tree.
OTHER_BOARDS = {
    "rp2": re.compile(r"^tvns/board/esp32[^/]*\.py$"),
    "esp32": re.compile(r"^tvns/board/rp2[^/]*\.py$"),
}
DATA = ("protocols/*.json",)


def _bin(name):
    return str(pathlib.Path(sys.executable).parent / name)


def firmware_files(firmware=FIRMWARE, board=None):
    """Deployable source files, relative to firmware/, sorted: for one board, or (None) for
    every board (package.json, manifest.py)."""
    out = []
    other = OTHER_BOARDS.get(board)
    for p in sorted(firmware.rglob("*.py")):
        rel = p.relative_to(firmware).as_posix()
        if "__pycache__" in rel or HOST_ONLY.match(rel) or rel == "manifest.py":
            continue
        if other is not None and other.match(rel):
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
    config = board_map_path(board, config)
    if not config.exists():
        raise ToolError("no board config %s (give --config FILE)" % config)
    try:
        board_map = json.loads(config.read_text())  # a broken config must not reach the board
    except ValueError as exc:
        raise ToolError("%s: not JSON (%s)" % (config, exc)) from None
    check_map(board, board_map, config)
    out_dir = pathlib.Path(out_dir)
    names = []
    for rel in firmware_files(firmware, board):
        name = device_name(rel)
        dst = out_dir / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(".mpy"):
            # -O3, as firmware/manifest.py freezes: no line numbers in the bytecode (5.5 KB
            # less heap for the boot set on the rp2 port, docs/SPEED.md); the firmware uses
            # no assert (the other thing -O drops): a check that must hold raises.
            cmd = [_bin("mpy-cross"), "-march=" + arch, "-O3", "-s", rel, "-o", str(dst)]
            r = subprocess.run([*cmd, str(firmware / rel)], capture_output=True, text=True)
            if r.returncode != 0:
                raise ToolError("mpy-cross %s: %s" % (rel, r.stderr.strip()))
        else:
            shutil.copyfile(firmware / rel, dst)
        names.append(name)
    shutil.copyfile(config, out_dir / "board.json")
    names.append("board.json")
    return names


def check_map(board, board_map, path):
    """The board's own checks of its pin map, run on the host (ToolError names the field):
    a map the board would refuse at boot never reaches it."""
    if board != "esp32":
        return
    from tvns_tools.simulate import check_esp32_map

    check_esp32_map(board_map, path)


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
    from tvns_tools.transport import timeout_scale

    cmd = [_bin("mpremote"), "connect", port] + (["resume"] if resume else []) + args
    timeout_s *= timeout_scale(port)
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        raise ToolError(
            "no board answered on %s within %d s (mpremote)" % (port, timeout_s)
        ) from exc
    if r.returncode != 0:
        raise ToolError(_mpremote_problem(port, args, r.stderr or r.stdout))
    return r.stdout


def _mpremote_problem(port, args, text):
    """One line from mpremote's failure (it may print a whole internal script)."""
    lines = [x.strip() for x in (text or "").splitlines() if x.strip()]
    last = lines[-1] if lines else "no output"
    if "failed to access" in last or "could not enter raw repl" in last.lower():
        return "no board found on %s (mpremote: %s)" % (port, last[:160])
    return "mpremote %s on %s failed: %s" % (" ".join(args[:1]), port, last[:200])


# The MicroPython the firmware needs, by board: hardware/BRINGUP.md step 1 (v1.28.0 on the
# Pico: hard IRQ timers since 1.26, the rp2 port's kbd_intr and littlefs as tested); the ESP32
# board takes the same floor until its bring-up says otherwise.
MIN_MICROPYTHON = {"rp2": (1, 28, 0), "esp32": (1, 28, 0)}
PLATFORMS = {"rp2": ("rp2",), "esp32": ("esp32",)}  # sys.platform on the board
_PROBE = (
    "import sys;i=sys.implementation;"
    "print('TVNS_MP', i.name, i.version[0], i.version[1], i.version[2], sys.platform)"
)


def check_micropython(port, board, resume=False):
    """The board's MicroPython, read with mpremote before anything is copied: ToolError in
    one line when it is not MicroPython, too old, or another platform than --board."""
    out = mpremote(port, ["exec", _PROBE], resume, timeout_s=30)
    words = next((x.split() for x in out.splitlines() if x.startswith("TVNS_MP ")), None)
    if not words or len(words) < 6:
        raise ToolError("the board on %s did not say which MicroPython it runs" % port)
    name, version, platform = words[1], tuple(int(x) for x in words[2:5]), words[5]
    need = MIN_MICROPYTHON[board]
    shown = "v%d.%d.%d" % version
    if name != "micropython" or version < need:
        raise ToolError(
            "the board on %s runs %s %s; the firmware needs MicroPython v%d.%d.%d or later on "
            "%s (hardware/BRINGUP.md step 1)" % ((port, name, shown) + need + (board,))
        )
    if platform not in PLATFORMS[board]:
        raise ToolError(
            "the board on %s is %s, not %s: give the right --board" % (port, platform, board)
        )
    return shown, platform


def unlock(port, pin=None, timeout_s=1.5):
    """Before mpremote: a board running this firmware with an investigator PIN set keeps its
    REPL locked (Ctrl-C never reaches it); `repl` with the PIN opens it until the next boot.
    A board that does not answer `hello` (no firmware yet) needs nothing. Refuses while a
    session runs: deploying would cut it (FAULT)."""
    from tvns_tools.device import Device, DeviceError
    from tvns_tools.transport import SerialTransport

    dev = Device(SerialTransport(port))
    try:
        hello = _probe_hello(dev, timeout_s)
        if hello is None:
            return "no tvns firmware answered: the REPL is open"
        state = dev.request("status").get("state")
        if state in ("RAMP_UP", "ON", "OFF", "RAMP_DOWN"):
            raise ToolError(
                "a session is running on %s (%s): stop it first (tvns stop)" % (port, state)
            )
        if hello.get("ctrl_c"):
            return "tvns %s answered; its REPL is open" % hello.get("version")
        if pin is None:
            raise ToolError(
                "the board on %s has an investigator PIN set, so its REPL is locked: give --pin "
                "PIN and deploy sends `repl` with it first (docs/BLINDING.md)" % port
            )
        try:
            dev.request("repl", pin=pin)
        except DeviceError as exc:
            raise ToolError("the board refused `repl`: %s" % exc) from exc
        return "REPL opened with the investigator PIN until the next boot"
    finally:
        dev.close()


def _probe_hello(dev, timeout_s):
    """hello's reply, or None when nothing that speaks the console protocol answers (a bare
    REPL echoes the line back: that has no "ok")."""
    import json as _json

    dev.send_raw(b'{"id": "deploy-hello", "cmd": "hello"}')
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = dev.t.read_line(deadline - time.monotonic())
        if line is None:
            break
        try:
            obj = _json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and obj.get("id") == "deploy-hello" and "ok" in obj:
            return obj if obj.get("ok") else None
    return None


def copy(port, stage_dir, resume=False):
    mpremote(port, ["exec", _CLEAN, "+", "fs", "cp", "-r", str(stage_dir) + "/.", ":"], resume)


def check_hello(port, version, timeout_s=15.0):
    """Reset the board (main.py starts the console) and compare hello's version."""
    from tvns_tools.device import Device
    from tvns_tools.transport import SerialTransport, timeout_scale

    mpremote(port, ["reset"])
    deadline = time.monotonic() + timeout_s * timeout_scale(port)
    while True:  # the USB serial port disappears for a moment during the reset
        time.sleep(0.5)
        try:
            dev = Device(SerialTransport(port))
            break
        except ToolError:
            if time.monotonic() > deadline:
                raise
    try:
        hello = dev.wait_boot(max(1.0, deadline - time.monotonic()) / dev.scale)
    finally:
        dev.close()
    if hello.get("version") != version:
        raise ToolError("board answers version %r, deployed %r" % (hello.get("version"), version))
    check_limits(hello)
    return hello


def host_limits_crc():
    """limits_crc of this host's firmware tree (the digest hello gives, from limits.py)."""
    from tvns_tools.firmware import import_firmware

    import_firmware()
    from tvns.commands import limits_digest

    return limits_digest()


def check_limits(hello):
    """The board must enforce the very limits this host validates against."""
    mine = host_limits_crc()
    theirs = hello.get("limits_crc")
    if theirs != mine:
        raise ToolError(
            "the board's hard limits differ from this host's (limits_crc %s on the board, %s "
            "here): refusing to go on; deploy this tree again, or update the host" % (theirs, mine)
        )


def firmware_version(firmware=FIRMWARE):
    return _firmware_version(firmware)


def board_map_path(board, config=None):
    return pathlib.Path(config) if config else ROOT / "hardware" / "boards" / CONFIG[board]


def deploy(args):
    from tvns_tools import ports
    from tvns_tools.boardcheck import check_file

    # The map first, on the host: a map the board would refuse at boot never reaches it.
    path = board_map_path(args.board, args.config)
    if not path.exists():
        raise ToolError("no board config %s (give --config FILE)" % path)
    check_file(path)
    port = ports.resolve(args.port, kind=args.board)
    ports.check_exists(port)
    keep = pathlib.Path(args.stage) if args.stage else None
    tmp = None if keep else tempfile.TemporaryDirectory(prefix="tvns-deploy-")
    out = keep or pathlib.Path(tmp.name)
    try:
        names = stage(args.board, out, args.config)  # a broken tree never reaches the board
        print("%s: %s" % (port, unlock(port, getattr(args, "pin", None))))
        shown, platform = check_micropython(port, args.board, args.resume)
        print("%s: MicroPython %s on %s" % (port, shown, platform))
        if deploy_frozen.frozen_here(mpremote, port, args.resume):
            names = deploy_frozen.trim(out, names)
            deploy_frozen.copy(mpremote, port, out, args.resume)
            print("deployed %d files to %s (the tvns package is frozen in its firmware)"
                  % (len(names), port))  # fmt: skip
        else:
            copy(port, out, args.resume)
            arch = ARCH[args.board]
            print("deployed %d files to %s (%s, %s)" % (len(names), port, args.board, arch))
        if not args.no_check:
            hello = check_hello(port, firmware_version())
            print(
                "hello: version %s on %s, limits_crc %s (as this host's)"
                % (hello["version"], hello["board"], hello["limits_crc"])
            )
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
