"""Which serial port is the board: pyserial's list_ports, matched by USB vendor:product id.
`tvns ports` lists them; `--port auto` (the default of `tvns deploy` and `make deploy`, and
accepted by every command that talks to a device) takes the one board found, and refuses
with a one-line error when there is none or more than one."""

import json
import os

from tvns_tools.firmware import ToolError

AUTO = "auto"
# (vid, pid or None for any) -> what it is. A USB-UART bridge is what ESP32 dev boards carry;
# the same bridges sit on other gadgets too, so `auto` refuses when it finds more than one.
KNOWN = (
    (0x2E8A, 0x0005, "rp2", "Raspberry Pi RP2040 running MicroPython"),
    (0x10C4, 0xEA60, "esp32", "CP210x USB-UART bridge (ESP32 dev board)"),
    (0x1A86, 0x7523, "esp32", "CH340 USB-UART bridge (ESP32 dev board)"),
    (0x0403, 0x6001, "esp32", "FTDI FT232R USB-UART bridge (ESP32 dev board)"),
    (0x303A, None, "esp32", "Espressif native USB (ESP32-S2/S3)"),
)


def _comports():
    from serial.tools import list_ports  # pyserial; tests replace this with a fake

    return list_ports.comports()


def identify(vid, pid):
    """(board kind, description) for a USB id, or None."""
    if vid is None:
        return None
    for k_vid, k_pid, kind, what in KNOWN:
        if vid == k_vid and (k_pid is None or pid == k_pid):
            return kind, what
    return None


def scan(all_ports=False):
    """[{port, vid_pid, kind, what, description, serial}] sorted by port; boards only unless
    all_ports."""
    out = []
    for p in _comports():
        vid, pid = getattr(p, "vid", None), getattr(p, "pid", None)
        found = identify(vid, pid)
        if found is None and not all_ports:
            continue
        out.append(
            {
                "port": p.device,
                "vid_pid": "%04x:%04x" % (vid, pid) if vid is not None else None,
                "kind": found[0] if found else None,
                "what": found[1] if found else None,
                "description": getattr(p, "description", None),
                "serial": getattr(p, "serial_number", None),
            }
        )
    return sorted(out, key=lambda r: r["port"])


def _looked_for():
    return ", ".join(
        "%04x:%s" % (v, "%04x" % p if p is not None else "*") for v, p, _k, _w in KNOWN
    )


def resolve(port, kind=None):
    """The port to open: port itself, or with 'auto' the one board found (of this kind when
    given). ToolError in one line otherwise."""
    if port != AUTO:
        return port
    boards = [b for b in scan() if kind is None or b["kind"] == kind]
    if not boards:
        what = "an %s board" % kind if kind else "a board"
        raise ToolError(
            "no board found on USB (looked for %s as %s; `tvns ports --all` lists every "
            "port): plug one in, or give --port PORT" % (_looked_for(), what)
        )
    if len(boards) > 1:
        raise ToolError(
            "%d boards found (%s): give --port PORT"
            % (len(boards), ", ".join("%s %s" % (b["port"], b["vid_pid"]) for b in boards))
        )
    return boards[0]["port"]


def check_exists(port):
    """A one-line error for a port path that is not there (before mpremote or pyserial try)."""
    if port.startswith("/dev/") and not os.path.exists(port):
        raise ToolError(
            "no board found on %s (no such port; `tvns ports` lists the boards plugged in)" % port
        )


def cmd_ports(args):
    rows = scan(all_ports=args.all)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    if not rows:
        print("no board found (USB ids looked for: %s)" % _looked_for())
        return 0
    for r in rows:
        print(
            "%-16s %-9s %s%s"
            % (
                r["port"],
                r["vid_pid"] or "-",
                r["what"] or "(not a board)",
                "  [%s]" % r["description"] if r["description"] else "",
            )
        )
    return 0
