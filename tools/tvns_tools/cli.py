"""tvns: host tools for the open taVNS bench stimulator (not a medical device).

Check a protocol, run it on the simulated board or a real one, talk to a board, pull and
report its session log, verify a capture. Every command has its own --help with an example;
`tvns COMMAND --help`. Errors print one line, `tvns: ...`, with a non-zero exit."""

import sys

from tvns_tools import boardcheck, devcmds, logs, ports, report, simulate, titrate, validate
from tvns_tools.argparsing import ArgumentParser, finish
from tvns_tools.firmware import ToolError
from tvns_tools.hw import commands as hw_cmd
from tvns_tools.link import add_link_args
from tvns_tools.rp2emu import cli as emulate_cmd
from tvns_tools.verify import command as verify_cmd

# The layout is mpremote's (its main.py `_COMMANDS`): this module parses arguments, one
# builder per command; the handlers live in their own modules and never see argparse.
# A builder is called with the subparsers and the command's name and adds its parser.
# Every parser's description and example live in argparsing.GUIDE (one place to read them).


def argparse_validate(sub, name):
    p = sub.add_parser(name, help="check a protocol file against the hard limits")
    p.add_argument("protocol", help="the protocol JSON file (docs/PROTOCOL-FORMAT.md)")
    p.add_argument("--json", action="store_true", help="machine-readable result")
    p.add_argument(
        "--board",
        metavar="NAME|FILE",
        help="also check against this board's ceiling, as the device will at load: a name "
        "from hardware/boards/ (pico) or a board map JSON file",
    )
    return p


def argparse_simulate(sub, name):
    p = sub.add_parser(name, help="run a protocol on the simulated board")
    p.add_argument("protocol", help="the protocol JSON file")
    p.add_argument(
        "--runtime",
        choices=("cpython", "micropython"),
        default="micropython",
        help="run the firmware under the MicroPython unix runtime (as on a board) or in CPython",
    )
    p.add_argument("--duration", type=float, metavar="S", help="stop after S virtual seconds")
    p.add_argument("--vcd", metavar="FILE", help="write phase_a/phase_b/sync/gate edges as VCD")
    p.add_argument("--plot", metavar="FILE", help="write a PNG of the envelope and pulses")
    p.add_argument(
        "--out",
        metavar="DIR",
        help="write result.json, the session log, report.md and report.html (self-contained), "
        "trace.vcd and session.png into DIR",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument(
        "--inject",
        action="append",
        default=[],
        metavar="KIND@S",
        help="inject a fault at S virtual seconds: overcurrent, lead_off, estop, stall, reset, "
        "host_loss (repeatable)",
    )
    p.add_argument(
        "--jitter-ms", type=int, default=0, metavar="N", help="control-tick lateness 0..N ms"
    )
    p.add_argument(
        "--arm",
        choices=("active", "sham"),
        help="the allocation for a blinded protocol (set by the investigator on a board)",
    )
    p.add_argument(
        "--trigger",
        metavar="FILE",
        help="feed the trigger input from a CSV (header t_s,level; level 0/1; a step "
        "function from the session's start) for a protocol with a trigger block",
    )
    p.add_argument(
        "--engine",
        choices=("model", "pio", "rmt"),
        default="model",
        help="pulse engine for the trace: the sim board's exact model, the real RP2040 PIO "
        "program in the cycle-exact emulator (short stretches; with --trigger in gate or train "
        "mode the triggered program, fed the trace through the 2-cycle input synchroniser: "
        "edge to first pulse 5 cycles), or the firmware's ESP32 board with its RMT engine on "
        "the silicon model (the frames it writes, as edges)",
    )
    p.add_argument(
        "--board-config",
        metavar="FILE",
        help="with --engine rmt: the ESP32 pin map (default hardware/boards/esp32-devkitc.json)",
    )
    return p


def argparse_run(sub, name):
    p = sub.add_parser(name, help="load, arm and start a protocol; follow it to the end")
    p.add_argument("protocol", help="the protocol JSON file (validated here before it is sent)")
    p.add_argument("--pin", help="investigator PIN, when the device is locked")
    p.add_argument(
        "--meta",
        metavar="FILE",
        help="study metadata JSON (participant, session, site, electrode, sham type, operator, "
        "...: docs/META.md), stored in the session_start log record",
    )
    add_link_args(p)
    p.add_argument("--json", action="store_true", help="print the final status as JSON")
    return p


def argparse_titrate(sub, name):
    p = sub.add_parser(name, help="perception-threshold titration: a staircase on the device")
    return titrate.add_args(p)


def argparse_console(sub, name):
    p = sub.add_parser(name, help="interactive console: commands, replies and events")
    add_link_args(p)
    return p


def argparse_stop(sub, name):
    p = sub.add_parser(name, help="stop the session (ramp down) and wait for it to end")
    add_link_args(p)
    return p


def argparse_sim_device(sub, name):
    p = sub.add_parser(
        name,
        help="the firmware on the sim board: a stimulator on your desk with no hardware",
    )
    p.add_argument("--speed", type=float, default=1.0, metavar="N", help="virtual time at N x")
    p.add_argument(
        "--state", metavar="DIR", help="keep the virtual board's flash (store, log) in DIR"
    )
    p.add_argument(
        "--pty",
        action="store_true",
        help="serve on a pseudo-terminal (its path is the first line printed): "
        "tvns run/status/stop/console/logs pull --port PATH talk to it as to a board",
    )
    return p


def argparse_status(sub, name):
    p = sub.add_parser(name, help="print the device status (the status reply as JSON)")
    add_link_args(p)
    p.add_argument("--json", action="store_true", help="the status reply as JSON (the default)")
    return p


def argparse_ports(sub, name):
    p = sub.add_parser(name, help="list the serial ports and which of them look like boards")
    p.add_argument("--json", action="store_true", help="machine-readable list")
    p.add_argument("--all", action="store_true", help="also list ports that are not boards")
    return p


def argparse_deploy(sub, name):
    p = sub.add_parser(name, help="compile and copy the firmware to a board")
    p.add_argument(
        "--port",
        default="auto",
        help="serial port of the board; auto: the one board found by USB id (`tvns ports`)",
    )
    p.add_argument("--board", required=True, choices=("rp2", "esp32"), help="the board's MCU")
    p.add_argument("--config", help="board pin map JSON (default: hardware/boards/<board>)")
    p.add_argument(
        "--pin",
        help="investigator PIN: a board with a PIN set keeps its REPL locked; deploy sends "
        "`repl` with it first",
    )
    p.add_argument("--resume", action="store_true", help="mpremote resume: no soft reset")
    p.add_argument(
        "--no-check",
        action="store_true",
        help="skip the reset + hello check (version and limits_crc) after the copy",
    )
    p.add_argument("--stage", metavar="DIR", help="keep the compiled tree in DIR")
    return p


def argparse_board(sub, name):
    """`tvns board check FILE`: one subcommand for now (args.board_cmd)."""
    p = sub.add_parser(name, help="board pin maps: check one before it reaches a board")
    sub = p.add_subparsers(dest="board_cmd", required=True, metavar="{check}")
    c = sub.add_parser("check", help="the firmware's boot checks on a pin map (exit 0 / 2)")
    c.add_argument("file", help="a board pin map (JSON)")
    c.add_argument("--json", action="store_true", help="machine-readable result")
    return p


def argparse_logs(sub, name):
    """`tvns logs check|export|pull|events`: one handler (logs.cmd_logs) dispatches on
    args.logs_cmd."""
    p = sub.add_parser(name, help="check, export or pull a session log")
    sub = p.add_subparsers(dest="logs_cmd", required=True, metavar="{check,export,pull,events}")
    c = sub.add_parser("check", help="count records, torn tail, bad lines, sessions")
    c.add_argument("file", help="a session log (log.jsonl)")
    c.add_argument("--json", action="store_true", help="machine-readable result")
    e = sub.add_parser("export", help="write FILE.json and FILE.csv into DIR")
    e.add_argument("file", help="a session log (log.jsonl)")
    e.add_argument("--out", required=True, metavar="DIR", help="where to write")
    pull = sub.add_parser("pull", help="fetch the device's session log; write JSON and CSV")
    add_link_args(pull)
    pull.add_argument("--out", metavar="DIR", default="out/logs", help="where to write")
    ev = sub.add_parser("events", help="print the device's recent event records (JSON lines)")
    add_link_args(ev)
    ev.add_argument("--since", type=int, default=0, metavar="SEQ", help="first seq wanted")
    return p


def argparse_report(sub, name):
    p = sub.add_parser(name, help="per-session report: Markdown, self-contained HTML, plot")
    p.add_argument("log", help="a session log (log.jsonl, or one pulled by `tvns logs pull`)")
    p.add_argument("--session", type=int, metavar="N", help="1-based; -1 = the last")
    p.add_argument(
        "--out",
        metavar="FILE",
        help="write FILE.md, FILE.html (plots embedded) and FILE-sessionN.png",
    )
    return p


# name -> (handler, argparse builder); `tvns --help` lists them in this order.
COMMANDS = {
    "validate": (validate.cmd_validate, argparse_validate),
    "simulate": (simulate.cmd_simulate, argparse_simulate),
    "run": (devcmds.cmd_run, argparse_run),
    "titrate": (titrate.cmd_titrate, argparse_titrate),
    "console": (devcmds.cmd_console, argparse_console),
    "status": (devcmds.cmd_status, argparse_status),
    "stop": (devcmds.cmd_stop, argparse_stop),
    "sim-device": (devcmds.cmd_sim_device, argparse_sim_device),
    "ports": (ports.cmd_ports, argparse_ports),
    "deploy": (devcmds.cmd_deploy, argparse_deploy),
    "board": (boardcheck.cmd_board, argparse_board),
    "logs": (logs.cmd_logs, argparse_logs),
    "report": (report.cmd_report, argparse_report),
    "verify": (verify_cmd.cmd_verify, verify_cmd.argparse_verify),  # builder: verify/command.py
    "hw": (hw_cmd.cmd_hw, hw_cmd.argparse_hw),  # builder: hw/commands.py
    "emulate": (emulate_cmd.cmd_emulate, emulate_cmd.argparse_emulate),  # builder: rp2emu/cli.py
}


def build_parser():
    parser = ArgumentParser(prog="tvns", description=__doc__)
    parser.add_argument(
        "--version", action="version", version=version_text(), help="show the versions and exit"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (handler, builder) in COMMANDS.items():
        builder(sub, name).set_defaults(func=handler)
    finish(parser)
    return parser


def version_text():
    from tvns_tools.firmware import firmware_version

    try:
        fw = firmware_version()
    except ToolError as exc:
        fw = "unknown (%s)" % exc
    from importlib import metadata

    try:
        host = metadata.version("tvns-tools")
    except metadata.PackageNotFoundError:
        host = "not installed"
    return "tvns host tools %s, firmware %s" % (host, fw)


def main(argv=None):
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except ToolError as exc:
        print("tvns: %s" % exc, file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("tvns: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `tvns ... | head`: the reader left; nothing more to say
        return 1
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback (TVNS_DEBUG=1 shows it)
        import os

        if os.environ.get("TVNS_DEBUG"):
            raise
        print(
            "tvns: internal error: %s: %s (TVNS_DEBUG=1 shows where; please report it)"
            % (type(exc).__name__, exc),
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
