"""The `tvns` command: one table of commands, one handler each, one error type that main()
prints as `tvns: message` on stderr with a non-zero exit."""

import argparse
import json
import pathlib
import sys

from tvns_tools import devcmds, logs, report
from tvns_tools.firmware import ToolError, import_firmware


def cmd_validate(args):
    import_firmware()
    from tvns import protocol

    try:
        with open(args.protocol, "rb") as f:
            text = f.read(64 * 1024 + 1)
    except OSError as exc:
        raise ToolError("cannot read %s: %s" % (args.protocol, exc.strerror)) from exc
    proto, errs = protocol.parse(text)
    doc = {
        "valid": proto is not None,
        "errors": [e.as_dict() for e in errs],
        "derived": proto.derived() if proto else None,
    }
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        _print_validation(args.protocol, proto, doc)
    return 0 if proto is not None else 2


def _print_validation(path, proto, doc):
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if proto is None:
        table = Table(title="%s: INVALID" % path, title_style="bold red")
        table.add_column("field")
        table.add_column("code")
        table.add_column("problem")
        for e in doc["errors"]:
            table.add_row(e["field"] or "-", e["code"], e["message"])
    else:
        table = Table(title="%s: valid (%s)" % (path, proto.name), title_style="bold green")
        table.add_column("derived figure")
        table.add_column("value", justify="right")
        table.add_column("limit")
        from tvns import limits as L

        d = doc["derived"]
        rows = (
            ("charge per phase (uC)", d["charge_per_phase_uc"], "<= %g" % (L.CHARGE_MAX_PC / 1e6)),
            ("r.m.s. current (mA)", d["rms_current_ma"], ""),
            (
                "r.m.s. density (mA/cm2)",
                d["rms_current_density_ma_cm2"],
                "<= %g" % (L.RMS_DENSITY_MAX_UA_CM2 / 1000),
            ),
            ("Shannon k", d["shannon_k"], "< %g" % (L.SHANNON_K_MAX_X1000 / 1000)),
            ("pulses in session", d["pulses_total"], ""),
            ("stimulation time (s)", d["stim_s"], ""),
            ("period (us)", d["period_us"], ""),
        )
        for name, value, limit in rows:
            table.add_row(name, str(value), limit)
    console.print(table)


def cmd_simulate(args):
    from tvns_tools import simulate

    progress_cb, bar = _progress(args)
    try:
        inject = [simulate.parse_inject(spec) for spec in args.inject]
        if args.engine == "pio" and (
            inject or args.jitter_ms or args.duration is None or args.duration > simulate.PIO_MAX_S
        ):
            raise ToolError(
                "--engine pio replays a short clean stretch: give --duration S (at most %d s) "
                "and no --inject / --jitter-ms" % simulate.PIO_MAX_S
            )
        log_path = None
        if args.out:
            pathlib.Path(args.out).mkdir(parents=True, exist_ok=True)
            log_path = pathlib.Path(args.out) / "session.log.jsonl"
            for old in pathlib.Path(args.out).glob("session.log*.jsonl"):
                old.unlink()  # one run, one log
        result = simulate.run(
            args.protocol,
            args.runtime,
            args.duration,
            progress_cb,
            inject,
            args.jitter_ms,
            log_path,
            args.arm,
        )
    finally:
        if bar is not None:
            bar.stop()
    vcd, plot_png = args.vcd, args.plot
    if args.out:
        out = pathlib.Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        vcd = vcd or out / "trace.vcd"
        plot_png = plot_png or out / "session.png"
        with open(out / "result.json", "w") as f:
            json.dump(simulate.summary(result) | {"protocol": result["protocol"]}, f, indent=1)
        simulate.write_report(result, out / "report.md")
        report.report(log_path, -1, out / "session-report")
    if args.engine == "pio":
        edges = simulate.pio_edges(result, result["sim_s"])
        result["pio_edges"] = len(edges)
        if vcd:
            simulate.write_vcd_edges(edges, vcd, result["sim_s"] * 1e6, result["firmware_version"])
    elif vcd:
        simulate.write_vcd(result, vcd)
    if plot_png:
        from tvns_tools.plot import plot

        plot(result, plot_png)
    if args.json:
        print(json.dumps(simulate.summary(result)))
    else:
        print(
            "%s: %d pulses in %.1f s simulated (%.3f s wall, %s), final state %s"
            % (
                result["protocol"]["name"],
                result["pulses"],
                result["sim_s"],
                result["wall_s"],
                result["runtime"],
                result["final_state"],
            )
        )
        for f in result["faults"]:
            off = f.get("output_off_s")
            print(
                "fault %s at %.3f s, output off at %s"
                % (f["fault"], f["t_s"], "%.3f s" % off if off is not None else "?")
            )
        if args.out:
            print("report, trace and plot written to %s/" % args.out)
    return 0


def _progress(args):
    if args.json or not sys.stderr.isatty():
        return None, None
    from rich.progress import Progress

    bar = Progress(transient=True)
    bar.start()
    task = bar.add_task("simulating (virtual s)", total=None)

    def cb(t_ms, total_ms):
        bar.update(task, completed=t_ms / 1000, total=total_ms / 1000)

    return cb, bar


COMMANDS = {
    "validate": cmd_validate,
    "simulate": cmd_simulate,
    **devcmds.COMMANDS,  # run, console, status, stop, sim-device, deploy
    **logs.COMMANDS,  # logs pull | check | export
    **report.COMMANDS,
}


def build_parser():
    parser = argparse.ArgumentParser(prog="tvns", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("validate", help="check a protocol file against the hard limits")
    p.add_argument("protocol")
    p.add_argument("--json", action="store_true", help="machine-readable result")
    p = sub.add_parser("simulate", help="run a protocol on the simulated board")
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
    devcmds.add_parsers(sub)
    logs.add_parsers(sub)
    report.add_parsers(sub)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ToolError as exc:
        print("tvns: %s" % exc, file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("tvns: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
