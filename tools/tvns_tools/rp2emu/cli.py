"""`tvns emulate`: the real firmware on an emulated Pico (the official MicroPython rp2 port in
rp2040py) with the virtual output stage, its console on a pty that every host command uses:

    tvns emulate --pty --load 2k --state ~/.tvns-pico &     # first line: /dev/pts/N
    tvns run firmware/protocols/default.json --port /dev/pts/N
    tvns status --port /dev/pts/N ; tvns logs pull --port /dev/pts/N

A board without the firmware (a new --state DIR, or none) gets it the way a real one does:
`tvns deploy` (mpy-cross, mpremote copy, reset, hello check) over that pty. --state DIR keeps
the emulated flash (DIR/flash.img, littlefs) from one run to the next. Host timeouts: the pty
is registered as an emulated port, so tvns commands on it wait TIMEOUT_SCALE times longer
(transport.timeout_scale; TVNS_TIMEOUT_SCALE overrides).
"""

import pathlib
import signal
import sys
import tempfile
import threading
import time

from tvns_tools.firmware import ToolError
from tvns_tools.rp2emu import harness, image
from tvns_tools.rp2emu.stage import LOADS, load_ohms

STATE_IMAGE = "flash.img"


def argparse_emulate(sub, name="emulate"):
    p = sub.add_parser(name, help="the firmware on an emulated Pico (rp2 port), console on a pty")
    p.add_argument(
        "--load",
        default="2k",
        help="load on the output: %s or ohms (default: %%(default)s)" % ", ".join(LOADS),
    )
    p.add_argument(
        "--state", metavar="DIR", help="keep the emulated flash in DIR/flash.img across runs"
    )
    p.add_argument(
        "--pty", action="store_true", help="console on a pty (its path is the first line)"
    )
    p.add_argument(
        "--compliance-v",
        type=float,
        default=None,
        metavar="V",
        help="output stage compliance (default 29.2 V: OS-1, hardware/DESIGN.md)",
    )
    p.add_argument(
        "--firmware",
        metavar="UF2",
        help="MicroPython rp2 UF2 (default: $TVNS_RP2_FIRMWARE, ../shared/rp2/)",
    )
    return p


def _say(msg):
    print("tvns emulate: %s" % msg, file=sys.stderr, flush=True)


def cmd_emulate(args):
    try:
        load_ohms(args.load)
    except ValueError as exc:
        raise ToolError(str(exc), 2) from exc
    uf2 = pathlib.Path(args.firmware) if args.firmware else image.find_firmware()
    if uf2 is None or not uf2.is_file():
        raise ToolError("no MicroPython rp2 UF2: set TVNS_RP2_FIRMWARE or give --firmware FILE")
    tmp = None
    if args.state:
        state = pathlib.Path(args.state)
        state.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="tvns-emulate-")
        state = pathlib.Path(tmp.name)
    saved = state / STATE_IMAGE
    has_fw = saved.is_file() and "main.py" in image.read(saved)
    kw = {} if args.compliance_v is None else {"compliance_v": args.compliance_v}
    board = harness.EmuBoard(saved if has_fw else None, args.load, uf2=uf2, **kw)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        board.start()
        if args.pty:
            print(board.port, flush=True)  # the first line: where the board is
        else:
            _bridge_stdio(board, stop)
        _say(
            "emulated Pico (MicroPython %s, %s), load %s, timeouts x%g on %s"
            % (image.MP_VERSION, uf2.name, args.load, harness.TIMEOUT_SCALE, board.port)
        )
        if not has_fw:
            _deploy(board)
            board.emu.dump_fs(saved)
        _say("ready")
        while not stop.is_set():
            if board.emu.sim.engine_room_error is not None:
                raise ToolError("the emulator stopped: %r" % board.emu.sim.engine_room_error)
            stop.wait(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        if board.emu.started and args.state:
            try:
                board.emu.dump_fs(saved)
                _say("flash saved to %s" % saved)
            except Exception as exc:  # noqa: BLE001 - the emulator may have died
                _say("flash not saved: %s" % exc)
        board.close()
        if tmp is not None:
            tmp.cleanup()
    return 0


def _deploy(board):
    """`tvns deploy --port PTY --board rp2` in-process: the same code path."""
    from tvns_tools import deploy

    board.emu.run_for_ms(300)  # the blank board's first littlefs format
    with tempfile.TemporaryDirectory(prefix="tvns-deploy-") as out:
        names = deploy.stage("rp2", out)
        deploy.copy(board.port, pathlib.Path(out))
        _say("deployed %d files (rp2, armv6m)" % len(names))
        hello = deploy.check_hello(board.port, deploy.firmware_version())
        _say("hello: version %s on %s" % (hello["version"], hello["board"]))


def _bridge_stdio(board, stop):
    """Without --pty: the console on this process's stdin/stdout, like `tvns sim-device`."""

    def out(data):
        sys.stdout.buffer.write(data.replace(b"\r\n", b"\n"))
        sys.stdout.buffer.flush()

    board.emu.add_sink(out)

    def reader():
        for line in sys.stdin.buffer:
            board.emu.send(line)
        time.sleep(0.5)
        stop.set()

    threading.Thread(target=reader, daemon=True).start()
