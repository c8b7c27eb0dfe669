"""The link to a device, shared by every command that talks to one (run, console, status,
stop, logs pull, logs events): its arguments (a board on --port, `auto` by default, or the
sim board with --sim at --speed N) and opening it, up to the device's boot line."""

from tvns_tools import device as D
from tvns_tools import ports
from tvns_tools.firmware import ToolError
from tvns_tools.transport import open_transport


def add_link_args(p):
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--port",
        help="serial port of a board (/dev/ttyACM0, COM3, a sim-device pty); auto: the one "
        "board found by USB id (the default when neither --port nor --sim is given)",
    )
    g.add_argument("--sim", action="store_true", help="a fresh sim board in a local process")
    p.add_argument(
        "--speed",
        type=float,
        default=1.0,
        metavar="N",
        help="with --sim: virtual time at N x real time (default 1)",
    )


def open_device(args):
    """A Device on args.port (auto when neither it nor --sim is given) or the sim board
    (args.sim), its boot line read."""
    if not args.speed > 0:
        raise ToolError("--speed must be above 0 (got %s)" % args.speed)
    port = None
    if not args.sim:
        port = ports.resolve(args.port or ports.AUTO)
        ports.check_exists(port)
    dev = D.Device(open_transport(port, args.sim, args.speed))
    try:
        dev.wait_boot()
    except D.DeviceError:
        dev.close()
        raise
    except ToolError as exc:
        dev.close()
        if port is None:
            raise
        raise ToolError(
            "no answer from %s within %g s: is the tvns firmware on it (`tvns deploy`)? (%s)"
            % (port, D.BOOT_TIMEOUT_S, exc)
        ) from exc
    except BaseException:
        dev.close()
        raise
    return dev
