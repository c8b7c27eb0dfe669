"""The `tvns` command: one table of commands, one handler each, one error type that main()
prints as `tvns: message` on stderr with a non-zero exit."""

import argparse
import sys

from tvns_tools import devcmds, logs, report, simulate, validate
from tvns_tools.firmware import ToolError
from tvns_tools.hw import commands as hw_cmd
from tvns_tools.link import add_link_args
from tvns_tools.verify import command as verify_cmd

# The layout is mpremote's (its main.py `_COMMANDS`): this module parses arguments, one
# builder per command; the handlers live in their own modules and never see argparse.
# A builder is called with the subparsers and the command's name and adds its parser.


def argparse_validate(sub, name):
    p = sub.add_parser(name, help="check a protocol file against the hard limits")
    p.add_argument("protocol")
    p.add_argument("--json", action="store_true", help="machine-readable result")
    return p


def argparse_simulate(sub, name):
    p = sub.add_parser(name, help="run a protocol on the simulated board")
    p.add_argument("protocol")
    p.add_argument("--runtime", choices=("cpython", "micropython"), default="micropython")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S virtual seconds")
    p.add_argument("--vcd", metavar="FILE", help="write phase_a/phase_b edges as VCD")
    p.add_argument("--plot", metavar="FILE", help="write a PNG of the envelope and pulses")
    p.add_argument(
        "--out", metavar="DIR", help="write result.json, report.md, trace.vcd, session.png"
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
        "--engine",
        choices=("model", "pio"),
        default="model",
        help="pulse engine for the trace: the sim board's exact model, or the real RP2040 PIO "
        "program in the cycle-exact emulator (short stretches)",
    )
    return p


def argparse_run(sub, name):
    p = sub.add_parser(name, help="load, arm and start a protocol; follow it to the end")
    p.add_argument("protocol")
    p.add_argument("--pin", help="investigator PIN, when the device is locked")
    add_link_args(p)
    p.add_argument("--json", action="store_true", help="print the final status as JSON")
    return p


def _argparse_link_only(help_text):
    """The builder of a command whose only arguments are the link's (console, status, stop)."""

    def builder(sub, name):
        p = sub.add_parser(name, help=help_text)
        add_link_args(p)
        return p

    return builder


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


def argparse_deploy(sub, name):
    p = sub.add_parser(name, help="compile and copy the firmware to a board")
    p.add_argument("--port", required=True)
    p.add_argument("--board", required=True, choices=("rp2", "esp32"))
    p.add_argument("--config", help="board pin map JSON (default: hardware/boards/<board>)")
    p.add_argument("--resume", action="store_true", help="mpremote resume: no soft reset")
    p.add_argument("--no-check", action="store_true", help="skip the reset + hello check")
    p.add_argument("--stage", metavar="DIR", help="keep the compiled tree in DIR")
    return p


def argparse_logs(sub, name):
    """`tvns logs check|export|pull|events`: one handler (logs.cmd_logs) dispatches on
    args.logs_cmd."""
    p = sub.add_parser(name, help="check or export a session log file")
    sub = p.add_subparsers(dest="logs_cmd", required=True)
    c = sub.add_parser("check", help="count records, torn tail, bad lines, sessions")
    c.add_argument("file")
    c.add_argument("--json", action="store_true")
    e = sub.add_parser("export", help="write FILE.json and FILE.csv into DIR")
    e.add_argument("file")
    e.add_argument("--out", required=True, metavar="DIR")
    pull = sub.add_parser("pull", help="fetch the device's session log; write JSON and CSV")
    add_link_args(pull)
    pull.add_argument("--out", metavar="DIR", help="default out/logs")
    ev = sub.add_parser("events", help="print the device's recent event records (JSON lines)")
    add_link_args(ev)
    ev.add_argument("--since", type=int, default=0, metavar="SEQ")
    return p


def argparse_report(sub, name):
    p = sub.add_parser(name, help="per-session report (Markdown, HTML, plot)")
    p.add_argument("log")
    p.add_argument("--session", type=int, metavar="N", help="1-based; -1 = the last")
    p.add_argument("--out", metavar="FILE", help="write FILE.md, FILE.html, FILE-sessionN.png")
    return p


# name -> (handler, argparse builder); `tvns --help` lists them in this order.
COMMANDS = {
    "validate": (validate.cmd_validate, argparse_validate),
    "simulate": (simulate.cmd_simulate, argparse_simulate),
    "run": (devcmds.cmd_run, argparse_run),
    "console": (
        devcmds.cmd_console,
        _argparse_link_only("interactive: type commands, see replies and events"),
    ),
    "status": (devcmds.cmd_status, argparse_status),
    "stop": (devcmds.cmd_stop, _argparse_link_only("stop the session")),
    "sim-device": (devcmds.cmd_sim_device, argparse_sim_device),
    "deploy": (devcmds.cmd_deploy, argparse_deploy),
    "logs": (logs.cmd_logs, argparse_logs),
    "report": (report.cmd_report, argparse_report),
    "verify": (verify_cmd.cmd_verify, verify_cmd.argparse_verify),  # builder: verify/command.py
    "hw": (hw_cmd.cmd_hw, hw_cmd.argparse_hw),  # builder: hw/commands.py
}


def build_parser():
    parser = argparse.ArgumentParser(prog="tvns", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (handler, builder) in COMMANDS.items():
        builder(sub, name).set_defaults(func=handler)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ToolError as exc:
        print("tvns: %s" % exc, file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("tvns: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
