"""The netlist's elements and the BOM's rows, read for the drawing checks.

Netlist: the element lines of the TVNS_STAGE subcircuit in hardware/spice/stage.lib (the
authoritative stage; bench.cir only adds sources and a load). BOM: hardware/BOM.csv, whose
`netlist` column names the elements each row builds (or says "not simulated")."""

import csv
import re

from tvns_tools.firmware import ROOT

STAGE_LIB = ROOT / "hardware" / "spice" / "stage.lib"
BOM_CSV = ROOT / "hardware" / "BOM.csv"

# Elements with no part behind them, each with the reason (a new element must be added here
# or to a BOM row's netlist column, or the drawing test fails).
SIM_ONLY = {
    "Rfs": "fault injection (fault_set): 1e12 ohm unless a test shorts the setpoint to 5 V",
    "Rfsk": "fault injection (fault_sink): 1e12 ohm unless a test shorts Q1 drain-source",
    "Aadc_in": "XSPICE analog-to-digital bridge (the 74LVC inputs; Schmitt thresholds = U18/U21)",
    "Aadc_c": "XSPICE bridge: the comparators' push-pull outputs into the logic",
    "Aout": "XSPICE digital-to-analog bridge: the 74LVC outputs driving the series resistors",
    "Rout2": "0.01 ohm: the trace from U6 D2 to J1 E2",
    "Ccab": "the e-stop cable's ~200 pF (J2 and its cable)",
}

_SPICE_SCALE = {
    "meg": 1e6,
    "g": 1e9,
    "k": 1e3,
    "m": 1e-3,
    "u": 1e-6,
    "µ": 1e-6,
    "n": 1e-9,
    "p": 1e-12,
    "f": 1e-15,
}


def spice_number(text):
    """'1.3k' -> 1300.0, '1Meg' -> 1e6, '100n' -> 1e-7; None when it is not a number."""
    m = re.fullmatch(r"([-+]?[0-9.]+(?:e[-+]?\d+)?)(meg|[gkmuµnpf])?\w*", text.strip().lower())
    if not m:
        return None
    return float(m.group(1)) * _SPICE_SCALE.get(m.group(2) or "", 1.0)


def bom_number(text):
    """'1.30 kohm' -> 1300.0, '100 nF' -> 1e-7, '4.7 uH' -> 4.7e-6; None if not a value."""
    m = re.fullmatch(r"([0-9.]+)\s*(M|k|m|u|µ|n|p)?\s*(ohm|Ω|F|H)\b.*", text.strip())
    if not m:
        return None
    scale = {"M": 1e6, "k": 1e3, "m": 1e-3, "u": 1e-6, "µ": 1e-6, "n": 1e-9, "p": 1e-12}
    return float(m.group(1)) * scale.get(m.group(2) or "", 1.0)


def stage_elements():
    """{element name: (type letter, value token or None)} of the TVNS_STAGE subcircuit,
    continuation lines joined, params ({cc}, {rg}) resolved from the .subckt defaults."""
    lines, inside, params = [], False, {}
    for raw in STAGE_LIB.read_text().splitlines():
        line = raw.split(";")[0].rstrip()
        if not line or line.startswith("*"):
            continue
        if line.startswith("+") and lines:
            lines[-1] += " " + line[1:]
            continue
        lines.append(line)
    out = {}
    for line in lines:
        low = line.lower()
        if low.startswith(".subckt tvns_stage"):
            inside = True
            for k, v in re.findall(r"(\w+)=([\w.]+)", line):
                params[k.lower()] = v
            continue
        if low.startswith(".ends"):
            inside = False
            continue
        if not inside or line.startswith("."):
            continue
        words = line.split()
        name, kind = words[0], words[0][0].upper()
        value = None
        if kind in "RCL" and len(words) >= 4:
            token = words[3]
            brace = re.fullmatch(r"\{(\w+)\}", token)
            if brace and brace.group(1).lower() in params:
                token = params[brace.group(1).lower()]
            value = spice_number(token)
        out[name] = (kind, value)
    return out


def split_refs(field):
    return [r for r in re.split(r"[/,\s]+", field) if r]


def bom_rows():
    """[{refs: [...], part, value, values: {ref: float|None}, netlist: [...] or None}]."""
    rows = []
    with open(BOM_CSV, newline="") as f:
        for row in csv.DictReader(f):
            refs = split_refs(row["ref"])
            vals = [v.strip() for v in row["value"].split(" / ")]
            if len(vals) != len(refs):
                vals = [row["value"].strip()] * len(refs)
            net = row["netlist"].strip()
            rows.append(
                {
                    "refs": refs,
                    "part": row["part"],
                    "value": row["value"],
                    "values": {r: bom_number(v) for r, v in zip(refs, vals)},
                    "netlist": None if net.startswith("not simulated") else net.split(),
                }
            )
    return rows


def designator_of(element):
    """Netlist name -> designator by the naming rule (MQ1 -> Q1, XU2A -> U2A, R20 -> R20)."""
    if element[0] in "XM" and len(element) > 1 and element[1] in "UQ":
        return element[1:]
    return element


def base_ref(ref):
    """U8A -> U8 (a unit of a multi-unit IC), R20 -> R20."""
    m = re.fullmatch(r"(U\d+)[A-F]", ref)
    return m.group(1) if m else ref
