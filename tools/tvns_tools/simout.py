"""What `tvns simulate` writes: the JSON summary, the VCD trace (the sim board's model or
the PIO emulator's edges), the plot, the Markdown report and the session log's report in
--out DIR, and the line it prints. simulate.py runs the firmware; this only writes."""

import json
import pathlib
import time

from tvns_tools import report
from tvns_tools.firmware import import_firmware


def prepare_out(out):
    """Make --out DIR; returns the path the firmware writes its session log to (one run,
    one log: older session logs there are removed), or None without --out."""
    if not out:
        return None
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("session.log*.jsonl"):
        old.unlink()
    return out / "session.log.jsonl"


def write_outputs(result, args, log_path, pio_edges=None):
    """Every file the command line asked for. pio_edges: (edges [(t_us, a, b, sync)], gate
    windows [(on_us, off_us)]) with --engine pio (the trace is then the PIO emulator's)."""
    vcd, plot_png = args.vcd, args.plot
    out = pathlib.Path(args.out) if args.out else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        vcd = vcd or out / "trace.vcd"
        plot_png = plot_png or out / "session.png"
        with open(out / "result.json", "w") as f:
            json.dump(summary(result) | {"protocol": result["protocol"]}, f, indent=1)
    if plot_png:
        from tvns_tools.plot import plot

        plot(result, plot_png)
    if out is not None:
        # One report: the session log's (every reporting item), with the run's own figures
        # and the simulation's plot; report.md and a self-contained report.html.
        report.report(
            log_path,
            -1,
            out / "report",
            extra=lambda _i: simulation_sections(result),
            plot_for=lambda _i: plot_png,
        )
    if "rmt_edges" in result:
        if vcd:
            write_vcd_rmt(result, vcd)
    elif pio_edges is not None:
        if vcd:
            end_us = result["sim_s"] * 1e6
            edges, gate_us = pio_edges
            extra = {}
            if _triggered(result):  # the input as fed, the marker as the firmware drove it
                extra = {"t": result.get("trigger_edges", []), "m": result.get("marker_edges", [])}
            write_vcd_edges(edges, vcd, end_us, result["firmware_version"], gate_us, extra)
    elif vcd:
        write_vcd(result, vcd)


def print_result(result, args):
    if args.json:
        print(json.dumps(summary(result)))
        return
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
    if _triggered(result):
        ts = trigger_summary(result)
        caps = [k for k in ("cap_rate", "cap_stim", "missing") if ts["events"].get(k)]
        print(
            "trigger %s: %d input edges, %d trains/bursts%s"
            % (
                ts["mode"],
                ts["input_edges"],
                ts["trains"],
                (", " + ", ".join(caps)) if caps else "",
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


def summary(result):
    """The small JSON document of `tvns simulate --json` (segments included: the exact trace)."""
    keys = (
        "pulses",
        "sim_s",
        "wall_s",
        "final_state",
        "states",
        "faults",
        "runtime",
        "board",
        "firmware_version",
        "derived",
        "cut_short",
        "injected",
        "resets",
        "cut_pulses",
        "jitter_ms",
        "segment_fields",
        "segments",
        "rmt",
    )
    out = {k: result[k] for k in keys if k in result}
    if _triggered(result):
        out["trigger"] = trigger_summary(result)
        out["trigger_events"] = result.get("trigger_events", [])
        out["marker_edges"] = result.get("marker_edges", [])
    return out


def trigger_summary(result):
    """The trigger's mode and what the firmware saw of it, from a simulate result."""
    events = result.get("trigger_events", [])
    count = {}
    for _t, what in events:
        count[what] = count.get(what, 0) + 1
    return {
        "mode": result["protocol"]["trigger"]["mode"],
        "input_edges": len(result.get("trigger_edges", [])),
        "trains": count.get("train", 0),
        "events": count,
    }


def write_vcd(result, path):
    import_firmware()
    from tvns.board.simtrace import write_vcd as _write

    with open(path, "w") as f:
        _write(
            f,
            result["segments"],
            int(result["sim_s"] * 1e6),
            date=time.strftime("%Y-%m-%d %H:%M:%S"),
            version=result.get("firmware_version", ""),
            gate_edges=_gate_edges(result),
            trigger_edges=result.get("trigger_edges") if _triggered(result) else None,
            marker_edges=result.get("marker_edges") if _triggered(result) else None,
        )


def _triggered(result):
    return bool((result.get("protocol") or {}).get("trigger"))


def _gate_edges(result):
    """The gate wire's edges. A run cut short by --duration ends with the harness turning
    the output off at the last instant: that edge is the harness's, not the firmware's, and
    is left out (the trace simply ends there, as a capture would)."""
    edges = result.get("gate_edges", ())
    if result.get("cut_short"):
        end_us = int(result["sim_s"] * 1e6)
        edges = [e for e in edges if e[0] < end_us]
    return edges


def simulation_sections(result):
    """The run's own rows for its report: what the log does not say about a simulation."""
    d, p = result["derived"], result["protocol"]
    rows = [
        ("runtime", "%s, firmware %s, %s board" % (
            result["runtime"], result["firmware_version"], result["board"])),
        ("simulated / intended (s)", "%s / %s" % (result["sim_s"], p["session_s"])),
        ("pulses delivered (expected)", "%d (%d)" % (result["pulses"], d["pulses_total"])),
        ("final state", result["final_state"]),
        ("wall time (s)", "%.3f" % result["wall_s"]),
    ]  # fmt: skip
    for t_s, kind in result.get("injected", ()):
        rows.append(("injected", "%s at %g s" % (kind, t_s)))
    states = [("%g s" % t, s) for t, s in result["states"]]
    return [("Simulation (not a device log)", rows), ("State changes", states)]


_EXTRA_WIRES = {"t": "trigger", "m": "marker"}


def write_vcd_edges(edges, path, end_us, version="", gate_us=(), extra=None):
    """VCD of (t_us, a, b, sync) edges and the gate windows at 1 ns resolution (the PIO runs
    on an 8 ns grid); change-only, with the Pico's pin names as wire names. extra: {"t":
    trigger edges, "m": marker edges} as [(t_us, level)] for a triggered protocol."""
    extra = extra or {}
    events = [(t_us, 1, ("a", a), ("b", b), ("s", s)) for t_us, a, b, s in edges]
    for wire, seq in extra.items():
        events += [(t_us, 0, (wire, v)) for t_us, v in seq if t_us <= end_us]
    for on_us, off_us in gate_us:
        if off_us > on_us:
            events.append((on_us, 0, ("g", 1)))
            if off_us < end_us:  # a window clipped by the stretch's end stays open
                events.append((off_us, 0, ("g", 0)))
    events.sort(key=lambda e: (e[0], e[1]))  # a gate edge before the pulse edge it starts
    with open(path, "w") as f:
        w = f.write
        w("$date %s $end\n" % time.strftime("%Y-%m-%d %H:%M:%S"))
        w("$version tvns firmware %s, RP2040 PIO program in pioemu $end\n" % version)
        w("$timescale 1ns $end\n$scope module stimulator $end\n")
        w("$var wire 1 a phase_a $end\n$var wire 1 b phase_b $end\n")
        w("$var wire 1 s sync $end\n$var wire 1 g gate $end\n")
        for wire in extra:
            w("$var wire 1 %s %s $end\n" % (wire, _EXTRA_WIRES[wire]))
        w("$upscope $end\n$enddefinitions $end\n#0\n$dumpvars\n0a\n0b\n0s\n0g\n")
        w("".join("0%s\n" % wire for wire in extra) + "$end\n")
        level = {"a": 0, "b": 0, "s": 0, "g": 0, **dict.fromkeys(extra, 0)}
        last_t = 0
        for event in events:
            t_ns = int(event[0] * 1000)
            for wire, v in event[2:]:
                if level[wire] == v:
                    continue
                level[wire] = v
                if t_ns != last_t:
                    w("#%d\n" % t_ns)
                    last_t = t_ns
                w("%d%s\n" % (v, wire))
        if int(end_us * 1000) > last_t:
            w("#%d\n" % int(end_us * 1000))


def write_vcd_rmt(result, path):
    """VCD of what the ESP32 model's pads drove (the RMT frames, the gate GPIO): every edge
    of phase_a, phase_b, sync and gate, change-only. 1 ns timescale when every edge is a
    whole ns (the default 1 MHz resolution), else 100 ps (80 MHz ticks are 12.5 ns)."""
    cu = result["rmt_cu_per_us"]  # chip units per us (80: 12.5 ns)
    ident = {"phase_a": "a", "phase_b": "b", "sync": "s", "gate": "g"}
    events = []
    for wire, seq in result["rmt_edges"].items():
        for t_cu, level in seq:
            events.append((t_cu, 0 if wire == "gate" else 1, ident[wire], level))
    events.sort()
    end_cu = int(result["sim_s"] * 1e6) * cu
    whole_ns = all(t * 1000 % cu == 0 for t, _o, _w, _l in events)
    per_unit = 1000 if whole_ns else 10000  # units per us
    with open(path, "w") as f:
        w = f.write
        w("$date %s $end\n" % time.strftime("%Y-%m-%d %H:%M:%S"))
        w("$version tvns firmware %s, ESP32 RMT frames on the silicon model $end\n"
          % result.get("firmware_version", ""))  # fmt: skip
        w("$timescale %s $end\n$scope module stimulator $end\n" % ("1ns" if whole_ns else "100ps"))
        for wire in ("phase_a", "phase_b", "sync", "gate"):
            w("$var wire 1 %s %s $end\n" % (ident[wire], wire))
        w("$upscope $end\n$enddefinitions $end\n#0\n$dumpvars\n0a\n0b\n0s\n0g\n$end\n")
        level = {"a": 0, "b": 0, "s": 0, "g": 0}
        last = 0
        for t_cu, _order, wire, v in events:
            if level[wire] == v:
                continue
            level[wire] = v
            t = t_cu * per_unit // cu
            if t != last:
                w("#%d\n" % t)
                last = t
            w("%d%s\n" % (v, wire))
        if end_cu * per_unit // cu > last:
            w("#%d\n" % (end_cu * per_unit // cu))
