"""The link to a device, shared by every command that talks to one (run, console, status,
stop, logs pull, logs events): its arguments (a board on --port, or the sim board with
--sim at --speed N) and opening it, up to the device's boot line."""

from tvns_tools import device as D
from tvns_tools.firmware import ToolError
from tvns_tools.transport import open_transport


def add_link_args(p):
    g = p.add_mutually_exclusive_group()
    g.add_argument("--port", help="serial port of a board, e.g. /dev/ttyACM0")
    g.add_argument("--sim", action="store_true", help="the firmware on the simulated board")
    p.add_argument(
        "--speed", type=float, default=1.0, metavar="N", help="sim: virtual time at N x real"
    )


def open_device(args):
    """A Device on args.port or the sim board (args.sim), its boot line read."""
    if not args.port and not args.sim:
        raise ToolError("no device: give --port PORT (a board) or --sim (the simulated board)")
    dev = D.Device(open_transport(args.port, args.sim, args.speed))
    try:
        dev.wait_boot()
    except BaseException:
        dev.close()
        raise
    return dev
