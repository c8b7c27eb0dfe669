"""The `tvns verify` command: arguments, exit codes (0 pass, 2 mismatch, 1 unreadable)."""

import argparse
import json

from tvns_tools.firmware import ToolError

DESCRIPTION = """\
Check a capture (logic analyzer or scope) against a protocol and the hard limits.
Reads VCD (PulseView/sigrok exports and `tvns simulate --vcd`), sigrok sessions (.sr,
through sigrok-cli), Saleae Logic 2 CSV exports, generic `time,ch0,ch1,...` CSV (seconds)
and scope CSVs of the sense-resistor voltage. Exit 0 pass, 2 mismatch, 1 unreadable.
Recipe: docs/VERIFY.md."""


def argparse_verify(sub, name):
    """The argparse builder for cli.COMMANDS (kept beside its handler: the options and the
    JSON keys in its epilog are this command's contract)."""
    from tvns_tools.verify.report import JSON_KEYS

    p = sub.add_parser(
        name,
        help="check a logic-analyzer or scope capture against a protocol",
        description=DESCRIPTION,
        epilog=JSON_KEYS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("capture", help="capture file: .vcd, .sr, .csv")
    p.add_argument("protocol", help="the protocol JSON the board ran")
    p.add_argument("--board", default="pico", help="hardware/boards/<BOARD>.json (default pico)")
    p.add_argument(
        "--channels",
        metavar="ROLE=CH,...",
        help="which capture channel is which: phase_a=D0,phase_b=D1,sync=D2,gate=D3,sense=CH1, "
        "and for a protocol with a trigger block trigger=D4 (required) and marker=D5 "
        "(default: channels named like the roles, else the recipe's D0..D3)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--plot", metavar="F", help="write a PNG: measured vs expected, first mismatch")
    p.add_argument(
        "--sample-rate",
        type=float,
        metavar="HZ",
        help="the capture's sample rate when the file does not say (change-only CSV)",
    )
    p.add_argument(
        "--ppm",
        type=float,
        default=100.0,
        help="board crystal + analyzer timebase error allowed, ppm (default 100)",
    )
    p.add_argument(
        "--slack-ms",
        type=float,
        metavar="MS",
        help="lateness allowed at train edges (the control tick; default 2 x the board's tick_ms)",
    )
    p.add_argument(
        "--sense-ohms",
        type=float,
        metavar="OHM",
        help="sense resistor for an analog channel in volts (default: the board's sense.r_ohms)",
    )
    p.add_argument(
        "--sense-gain",
        type=float,
        metavar="G",
        help="amplifier gain between the resistor and the probe (default: the board's "
        "sense.amp_gain; 1 when probing the resistor itself)",
    )
    p.add_argument(
        "--amp-tol-pct",
        type=float,
        default=10.0,
        metavar="PCT",
        help="amplitude tolerance, %% of the setpoint (default 10: the firmware's overcurrent "
        "margin), plus the 50 uA sense floor and 2 steps of the capture's resolution",
    )
    p.add_argument(
        "--arm",
        choices=("active", "sham"),
        help="for a blinded protocol: the arm the board ran (default active)",
    )
    return p


def cmd_verify(args):
    from tvns_tools.verify import report, verify

    for name in ("sample_rate", "sense_ohms", "sense_gain", "slack_ms"):
        value = getattr(args, name)
        if value is not None and not value > 0 and not (name == "slack_ms" and value == 0):
            raise ToolError("--%s must be above 0 (got %s)" % (name.replace("_", "-"), value))
    if not 0 <= args.ppm <= 10000:
        raise ToolError("--ppm must be 0..10000 (got %s)" % args.ppm)
    if not 0 <= args.amp_tol_pct <= 100:
        raise ToolError("--amp-tol-pct must be 0..100 (got %s)" % args.amp_tol_pct)
    ctx, rows = verify(
        args.capture,
        args.protocol,
        board=args.board,
        channels=args.channels,
        sample_rate_hz=args.sample_rate,
        ppm=args.ppm,
        slack_ms=args.slack_ms,
        sense_ohms=args.sense_ohms,
        sense_gain=args.sense_gain,
        amp_tol_pct=args.amp_tol_pct,
        arm=args.arm,
    )
    doc = report.build(ctx, rows, args.capture, args.protocol, args.board)
    if args.plot:
        from tvns_tools.verify.plot import plot

        plot(ctx, doc, args.plot)
    if args.json:
        print(json.dumps(doc, indent=1))
    else:
        report.print_table(doc)
    return doc["exit_code"]
