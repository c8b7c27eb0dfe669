"""Captures for the `tvns verify` tests: the simulator's pulses (the firmware on the sim
board, under CPython) as an editable list, broken on purpose, then written the way
instruments write them: VCD with pyvcd, a Saleae Logic 2 CSV, a generic sampled CSV, a
scope CSV of the sense-resistor voltage, and a sigrok session through sigrok-cli."""

import json
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "firmware"))

from tvns.board.simrun import simulate  # noqa: E402
from tvns.board.simtrace import iter_pulses  # noqa: E402

# A bench protocol with every feature in a few seconds: ramp, four trains of 70 (ramp up from
# its first 0.1 mA step at 0.1 s + the first ON), 25, 25 and 45 pulses (the ramp down, which
# begins where a new ON phase would, until its last non-zero step), off 1.5 s between.
BENCH = {
    "schema": 1,
    "name": "bench-50hz-200us",
    "amplitude_ma": 1.0,
    "pulse_width_us": 200,
    "interphase_gap_us": 50,
    "frequency_hz": 50,
    "on_s": 0.5,
    "off_s": 1.5,
    "ramp_up_s": 1,
    "ramp_down_s": 1,
    "session_s": 8,
    "electrode_area_cm2": 1.0,
    "sham": False,
}
PRE_US = 100_000  # the analyzer starts 100 ms before the session (a pre-trigger)
POST_US = 200_000  # and runs on 200 ms after it
SENSE_OHMS = 100


def protocol_file(tmp_path, doc=None, name="bench.json"):
    path = tmp_path / name
    path.write_text(json.dumps(doc or BENCH))
    return path


def session(doc=None):
    """(pulses, gate_edges, end_us) of the whole session, shifted by PRE_US. A pulse is a
    dict: a (phase A start, us), wa, gap, wb (None: no phase B), amp (uA)."""
    res = simulate(json.dumps(doc or BENCH))
    pulses = [
        {"a": t + PRE_US, "wa": w, "gap": g, "wb": w, "amp": amp}
        for t, amp, w, g in iter_pulses(res["segments"])
    ]
    gate = [(t + PRE_US, v) for t, v in res["gate_edges"]]
    return pulses, gate, int(res["sim_s"] * 1e6) + PRE_US + POST_US


def edges(pulses):
    """[(t_us, wire, level)] in time order (falls first at one instant)."""
    out = []
    for p in pulses:
        a, fa = p["a"], p["a"] + p["wa"]
        out += [(a, "phase_a", 1), (fa, "phase_a", 0), (a, "sync", 1)]
        if p["wb"] is not None:
            rb = fa + p["gap"]
            out += [(rb, "phase_b", 1), (rb + p["wb"], "phase_b", 0), (rb + p["wb"], "sync", 0)]
        else:
            out.append((fa, "sync", 0))
    out.sort(key=lambda e: (e[0], e[2]))
    return out


def write_vcd(path, pulses, end_us, gate=None, sync=True, start_us=0):
    from vcd import VCDWriter

    with open(path, "w") as f:
        w = VCDWriter(f, timescale="1 us", date="today", init_timestamp=start_us)
        wires = ["phase_a", "phase_b"] + (["sync"] if sync else [])
        var = {n: w.register_var("capture", n, "wire", size=1, init=0) for n in wires}
        if gate is not None:
            var["gate"] = w.register_var("capture", "gate", "wire", size=1, init=0)
        events = [e for e in edges(pulses) if e[1] in var]
        events += [(t, "gate", v) for t, v in gate or ()]
        for t, name, level in sorted(events, key=lambda e: (e[0], e[2])):
            w.change(var[name], t, level)
        w.close(end_us)  # the capture's end
    return path


def _levels(pulses, names):
    """Change-only rows [(t_us, {name: level})] of the digital wires."""
    level = dict.fromkeys(names, 0)
    rows = [(0, dict(level))]
    for t, name, v in edges(pulses):
        if name not in level:
            continue
        level[name] = v
        if rows[-1][0] == t:
            rows[-1] = (t, dict(level))
        else:
            rows.append((t, dict(level)))
    return rows


def write_saleae_csv(path, pulses, end_us):
    """Logic 2's digital export: `Time [s],Channel 0,...`, a row per change, 9 decimals."""
    names = ["phase_a", "phase_b", "sync"]
    lines = ["Time [s],Channel 0,Channel 1,Channel 2"]
    for t, lv in _levels(pulses, names):
        lines.append("%.9f,%s" % (t / 1e6, ",".join(str(lv[n]) for n in names)))
    lines.append("%.9f,%s" % (end_us / 1e6, ",".join(str(lv[n]) for n in names)))
    pathlib.Path(path).write_text("\n".join(lines) + "\n")
    return path


def write_generic_csv(path, pulses, start_us, end_us, step_us=10):
    """`time,ch0,ch1`: one row per sample (seconds)."""
    rows = _levels(pulses, ["phase_a", "phase_b"])
    out = ["time,ch0,ch1"]
    k = 0
    for t in range(start_us, end_us, step_us):
        while k + 1 < len(rows) and rows[k + 1][0] <= t:
            k += 1
        lv = rows[k][1]
        out.append("%.6f,%d,%d" % (t / 1e6, lv["phase_a"], lv["phase_b"]))
    pathlib.Path(path).write_text("\n".join(out) + "\n")
    return path


def write_scope_csv(path, pulses, start_us, end_us, step_us=10, lsb_v=0.0004):
    """A scope on a low-side sense resistor (hardware/README.md): the voltage is positive in
    both phases. A settings preamble, then `Time (s),CH1 (V)`."""
    out = ["Model,bench scope", "Sample interval,%g" % (step_us / 1e6), "", "Time (s),CH1 (V)"]
    spans = []
    for p in pulses:
        fa = p["a"] + p["wa"]
        spans.append((p["a"], fa, p["amp"]))
        if p["wb"] is not None:
            spans.append((fa + p["gap"], fa + p["gap"] + p["wb"], p["amp"]))
    spans.sort()
    k = 0
    for t in range(start_us, end_us, step_us):
        while k < len(spans) and spans[k][1] <= t:
            k += 1
        ua = spans[k][2] if k < len(spans) and spans[k][0] <= t < spans[k][1] else 0
        v = round(ua * 1e-6 * SENSE_OHMS / lsb_v) * lsb_v
        out.append("%.6f,%.4f" % (t / 1e6, v))
    pathlib.Path(path).write_text("\n".join(out) + "\n")
    return path


def to_sr(vcd_path, sr_path):
    """The nearest thing to an analyzer here: sigrok-cli reads the VCD, writes a session."""
    subprocess.run(
        [shutil.which("sigrok-cli"), "-i", str(vcd_path), "-I", "vcd", "-o", str(sr_path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return sr_path


def train_starts(pulses, period_us):
    """Index of the first pulse of each train."""
    return [
        i for i, p in enumerate(pulses) if i == 0 or p["a"] - pulses[i - 1]["a"] > period_us * 1.5
    ]


def run_verify(capture, protocol, **kw):
    """The verifier in-process: (doc, failed check names)."""
    from tvns_tools.verify import report, verify

    ctx, rows = verify(str(capture), str(protocol), **kw)
    doc = report.build(ctx, rows, capture, protocol, "pico")
    return doc, {r["check"] for r in rows if r["status"] == "fail"}
