"""`tvns validate PROTOCOL [--board NAME|FILE] [--json]`: the firmware's own validator on a
protocol file (against a board's ceiling when given, as the device will at load); its verdict
(exit 0 valid, 2 invalid), every error with its unit, range and a hint where the host sees a
unit slip, and the figures a reviewer checks."""

import json

from tvns_tools import protofile


def reviewer_figures(proto, doc, ceiling_ua=None):
    """(name, value, limit) rows: what a reviewer checks first, then the safety figures."""
    from tvns import limits as L

    d = proto.derived()
    on, off = doc["on_s"], doc["off_s"]
    duty = (
        "continuous (100 %)"
        if off == 0
        else "%g s on / %g s off (%.0f %%)"
        % (
            on,
            off,
            100.0 * on / (on + off),
        )
    )
    ceiling_ma = (ceiling_ua or L.CURRENT_MAX_UA) / 1000
    sham = " (sham: 0 delivered)" if doc["sham"] else ""
    widths = "%d us / %d us" % (doc["pulse_width_us"], doc["interphase_gap_us"])
    minutes = "%g min (%g s)" % (doc["session_s"] / 60, doc["session_s"])
    density = "%s mA/cm2" % d["rms_current_density_ma_cm2"]
    rows = [
        (
            "peak current per phase",
            "%g mA%s" % (doc["amplitude_ma"], sham),
            "<= %g mA" % ceiling_ma,
        ),
        ("pulse width / gap", widths, ""),
        ("frequency", "%g Hz (period %d us)" % (doc["frequency_hz"], d["period_us"]), ""),
        ("session length", minutes, "<= %g min" % (L.SESSION_MAX_S / 60)),
        ("duty cycle", duty, ""),
        ("ramps up / down", "%g s / %g s" % (doc["ramp_up_s"], doc["ramp_down_s"]), ""),
        (
            "charge per phase",
            "%s uC" % d["charge_per_phase_uc"],
            "<= %g uC" % (L.CHARGE_MAX_PC / 1e6),
        ),
        ("r.m.s. current", "%s mA" % d["rms_current_ma"], ""),
        ("r.m.s. density", density, "<= %g mA/cm2" % (L.RMS_DENSITY_MAX_UA_CM2 / 1000)),
        ("Shannon k", str(d["shannon_k"]), "< %g" % (L.SHANNON_K_MAX_X1000 / 1000)),
        ("pulses in session", str(d["pulses_total"]), ""),
        ("stimulation time", "%g s" % d["stim_s"], ""),
    ]
    if doc.get("blinded"):
        rows.append(("blinded", "yes: the arm is allocated on the device", ""))
    return rows


def cmd_validate(args):
    ceiling_ua, board = None, None
    if getattr(args, "board", None):
        board, config = protofile.board_map(args.board)
        ceiling_ua = protofile.board_ceiling_ua(config, board)
    raw = protofile.read_bytes(args.protocol, exit_code=1)  # 2 means invalid
    proto, errors, warn, doc = protofile.judge(raw, ceiling_ua)
    result = {
        "valid": proto is not None,
        "errors": errors,
        "warnings": warn,
        "derived": proto.derived() if proto else None,
    }
    if board is not None:
        result["board"] = {"name": board, "ceiling_ua": ceiling_ua}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _print_validation(args.protocol, proto, result, doc, board, ceiling_ua)
    return 0 if proto is not None else 2


def _print_validation(path, proto, result, doc, board, ceiling_ua):
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    against = " against board %s (ceiling %g mA)" % (board, ceiling_ua / 1000) if board else ""
    if proto is None:
        table = Table(title="%s: INVALID%s" % (escape(str(path)), against), title_style="bold red")
        table.add_column("field")
        table.add_column("code")
        table.add_column("problem")
        table.add_column("hint")
        for e in result["errors"]:
            table.add_row(
                escape(str(e["field"] or "-")),
                e["code"],
                escape(e["message"]),
                escape(e.get("hint", "")),
            )
    else:
        title = "%s: valid (%s)%s" % (escape(str(path)), escape(proto.name), against)
        table = Table(title=title, title_style="bold green")
        table.add_column("figure")
        table.add_column("value", justify="right")
        table.add_column("limit")
        for name, value, limit in reviewer_figures(proto, doc, ceiling_ua):
            table.add_row(name, escape(value), limit)
    console.print(table)
    for w in result["warnings"]:
        console.print("[yellow]check[/yellow] %s: %s" % (w["field"], escape(w["message"])))
