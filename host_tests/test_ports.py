"""Port auto-detection (`tvns ports`, `--port auto`) with a fake pyserial list_ports: boards
are found by USB vendor:product id, and anything but exactly one board is a one-line error."""

import json
from types import SimpleNamespace

import pytest
from tvns_tools import cli, ports


def _port(device, vid=None, pid=None, description="n/a"):
    return SimpleNamespace(
        device=device, vid=vid, pid=pid, description=description, serial_number="X1"
    )


PICO = _port("/dev/ttyACM0", 0x2E8A, 0x0005, "Board in FS mode")
CP210X = _port("/dev/ttyUSB0", 0x10C4, 0xEA60, "CP2102 USB to UART")
CH340 = _port("/dev/ttyUSB1", 0x1A86, 0x7523)
FTDI = _port("/dev/ttyUSB2", 0x0403, 0x6001)
S3 = _port("/dev/ttyACM1", 0x303A, 0x1001, "USB JTAG/serial debug unit")
MOUSE = _port("/dev/ttyACM9", 0x046D, 0xC077)
UART = _port("/dev/ttyS0")


@pytest.fixture
def plugged(monkeypatch):
    found = []
    monkeypatch.setattr(ports, "_comports", lambda: list(found))
    return found


def test_boards_are_known_by_usb_id(plugged):
    plugged += [UART, MOUSE, PICO, CP210X, CH340, FTDI, S3]
    rows = ports.scan()
    assert [(r["port"], r["kind"]) for r in rows] == [
        ("/dev/ttyACM0", "rp2"),
        ("/dev/ttyACM1", "esp32"),
        ("/dev/ttyUSB0", "esp32"),
        ("/dev/ttyUSB1", "esp32"),
        ("/dev/ttyUSB2", "esp32"),
    ]
    assert rows[0]["vid_pid"] == "2e8a:0005"
    assert len(ports.scan(all_ports=True)) == 7


def test_auto_takes_the_one_board(plugged):
    plugged += [UART, MOUSE, PICO]
    assert ports.resolve("auto") == "/dev/ttyACM0"
    assert ports.resolve("/dev/ttyUSB7") == "/dev/ttyUSB7"  # a named port is used as given
    plugged.append(CP210X)
    assert ports.resolve("auto", kind="esp32") == "/dev/ttyUSB0"
    with pytest.raises(ports.ToolError, match=r"^2 boards found \(/dev/ttyACM0 2e8a:0005, "):
        ports.resolve("auto")


def test_no_board_is_one_line_through_the_cli(plugged, capsys):
    plugged += [UART, MOUSE]
    for argv in (["status"], ["status", "--port", "auto"], ["deploy", "--board", "rp2"]):
        assert cli.main(argv) == 1
        err = capsys.readouterr().err
        assert (
            err.startswith("tvns: no board found on USB (looked for 2e8a:0005")
            and err.count("\n") == 1
        ), err


def test_tvns_ports_lists_them(plugged, capsys):
    plugged += [UART, PICO, S3]
    assert cli.main(["ports", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["port"] for r in rows] == ["/dev/ttyACM0", "/dev/ttyACM1"]
    assert cli.main(["ports", "--all"]) == 0
    out = capsys.readouterr().out
    assert "2e8a:0005" in out and "Raspberry Pi RP2040" in out and "/dev/ttyS0" in out
    plugged.clear()
    assert cli.main(["ports"]) == 0
    assert capsys.readouterr().out.startswith("no board found")
