"""`tvns validate PROTOCOL [--json]`: the firmware's own validator on a protocol file; its
verdict (exit 0 valid, 2 invalid), every error, and the derived figures."""

import json

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
