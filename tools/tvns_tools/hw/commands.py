"""`tvns hw simulate` and `tvns hw matrix`: handlers and their argparse builders."""

import json
import pathlib

from tvns_tools.firmware import DEFAULT_PROTOCOL, ToolError
from tvns_tools.hw import deck

PULSES_MAX = 20


def simulate_protocol(protocol, load, fault=None, pulses=3, engine="model", keep_dir=None):
    """(report, waves, stimulus) for the protocol's firmware edges into one load."""
    from tvns_tools.hw import edges, measure, spice

    if load not in deck.LOADS:
        raise ToolError("--load %r: expected one of %s" % (load, "|".join(deck.LOADS)))
    if fault is not None and fault not in deck.FAULTS + deck.INTERNAL_FAULTS:
        raise ToolError("--fault %r: expected one of %s" % (fault, "|".join(deck.FAULTS)))
    if not 1 <= pulses <= PULSES_MAX:
        raise ToolError("--pulses must be 1..%d" % PULSES_MAX)
    stim, info = edges.firmware_stretch(str(protocol), pulses, engine)
    stim.fault = fault
    stim.label = load
    waves = spice.run(stim, load, keep_dir)
    cfg = edges.pico_config()
    report = measure.analyse(waves, stim, cfg, info["electrode_area_cm2"])
    report["load_ohm"] = deck.LOADS[load][1]
    report["fault"] = fault
    report["stage"] = "OS-1 (hardware/spice/stage.lib)"
    report["firmware"] = info
    if load == "skin":
        report["load_model"] = dict(deck.SKIN)
    if fault == "dac_stuck":
        report["commanded_ma"] = round(info["amp_ua"] / 1000, 4)
        report["dac_forced_v"] = deck.V_LOGIC
    return report, waves, stim


def cmd_hw(args):
    if args.hw_command == "simulate":
        return _simulate(args)
    if args.hw_command == "matrix":
        from tvns_tools.hw import matrix

        return matrix.command(args)
    raise ToolError("tvns hw: expected simulate or matrix")


def _simulate(args):
    from tvns_tools.hw import plot

    out = pathlib.Path(args.out)
    name = args.load + ("-" + args.fault if args.fault else "")
    report, waves, stim = simulate_protocol(
        args.protocol, args.load, args.fault, args.pulses, args.engine, out / name
    )
    png = pathlib.Path(args.plot) if args.plot else out / name / "waveforms.png"
    png.parent.mkdir(parents=True, exist_ok=True)
    title = "%s into %s%s (OS-1, ngspice)" % (
        report["firmware"]["protocol"],
        args.load,
        ", fault " + args.fault if args.fault else "",
    )
    plot.plot(waves, stim, report, png, title)
    report["plot"] = str(png)
    with open(out / name / "result.json", "w") as f:
        json.dump(report, f, indent=1)
    if args.json:
        print(json.dumps(report))
    else:
        _print(report, out / name)
    return 0


def _print(r, where):
    from rich.console import Console
    from rich.table import Table

    t = Table(title="%s into %s: reference stage OS-1" % (r["firmware"]["protocol"], r["load"]))
    t.add_column("measure")
    t.add_column("value", justify="right")
    rows = (
        ("commanded (mA)", r["commanded_ma"]),
        ("delivered, settled per phase (mA)", r["delivered_ma"]),
        ("peak current (mA)", r["peak_current_ma"]),
        ("charge per phase, max (uC)", r["charge_per_phase_uc"]),
        ("net charge per pulse, worst (uC)", r["net_charge_uc"]),
        ("peak load voltage (V)", r["peak_voltage_v"]),
        ("compliance headroom, min (V)", r["headroom_v"]),
        ("GP15 / pin 20 compliance tripped", r["compliance_tripped"]),
        ("ADC0 before the next pulse (V)", r["sense"][0]["adc0_v"]),
        ("firmware Sense.read_ua() of it", r["sense"][0]["firmware_ua"]),
        ("GP7 / pin 10 KILL asserted", r["comparators"]["gp7_kill_asserted"]),
    )
    for k, v in rows:
        t.add_row(k, str(v))
    Console().print(t)
    print("waveforms, deck and data in %s/" % where)


def argparse_hw(sub, name):
    p = sub.add_parser(name, help="the reference output stage, simulated with ngspice")
    hw = p.add_subparsers(dest="hw_command", required=True)
    s = hw.add_parser("simulate", help="the firmware's edges into the stage and a bench load")
    s.add_argument(
        "protocol", nargs="?", default=str(DEFAULT_PROTOCOL), help="the protocol JSON file"
    )
    s.add_argument(
        "--load", required=True, choices=tuple(deck.LOADS), help="the bench load on E1-E2"
    )
    s.add_argument("--fault", choices=deck.FAULTS, help="a stage fault to inject")
    s.add_argument("--json", action="store_true", help="print the result as JSON")
    s.add_argument("--pulses", type=int, default=3, help="pulses in the stretch (1..20)")
    s.add_argument(
        "--engine",
        choices=("model", "pio"),
        default="model",
        help="the firmware's edges from the sim board's model or the PIO emulator",
    )
    s.add_argument("--out", default="out/hw", help="directory for the deck, data and PNG")
    s.add_argument("--plot", metavar="FILE", help="PNG path (default OUT/LOAD/waveforms.png)")
    m = hw.add_parser("matrix", help="the 21 CFR 882.5892 bench matrix from the simulation")
    m.add_argument(
        "protocol", nargs="?", default=str(DEFAULT_PROTOCOL), help="the protocol JSON file"
    )
    m.add_argument("--out", default="hardware/BENCH-MATRIX.md", help="the Markdown file written")
    m.add_argument("--json", action="store_true", help="print the matrix as JSON")
    return p
