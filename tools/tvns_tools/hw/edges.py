"""The firmware's own edges for a stretch: run the protocol on the sim board (the model
engine, via tvns simulate's machinery) or through the RP2040 PIO program, pick a few pulses
at the plateau, and turn them into the stage's stimulus (deck.Stimulus)."""

import json

from tvns_tools.firmware import ROOT, ToolError
from tvns_tools.hw import deck

PICO_JSON = ROOT / "hardware" / "boards" / "pico.json"
LEAD_US = 1000  # stretch starts this long before its first pulse (DAC settled, gate high)


def pico_config():
    with open(PICO_JSON) as f:
        return json.load(f)


def firmware_stretch(protocol_path, pulses=3, engine="model", runtime="cpython"):
    """(stimulus, info): `pulses` consecutive pulses from the first train at full amplitude,
    as the firmware emits them, with the DAC value its own calibration writes."""
    from tvns_tools import simulate
    from tvns_tools.firmware import import_firmware

    import_firmware()
    from tvns import protocol

    text = open(protocol_path, "rb").read(64 * 1024) if _exists(protocol_path) else None
    if text is None:
        raise ToolError("cannot read %s" % protocol_path)
    proto, errs = protocol.parse(text)
    if proto is None:
        raise simulate.InvalidProtocol([e.as_dict() for e in errs])
    period_us = proto.period_us
    # Long enough to reach the plateau and run `pulses` periods of it.
    duration_s = min(proto.session_ms / 1000, proto.doc["ramp_up_s"] + 1 + pulses * period_us / 1e6)
    result = simulate.run(protocol_path, runtime, duration_s)
    from tvns.board.simtrace import iter_pulses

    all_pulses = list(iter_pulses(result["segments"]))
    if not all_pulses or max(p[1] for p in all_pulses) <= 0:
        raise ToolError(
            "%s delivers no current in its first %.1f s (sham, or no train): nothing to drive "
            "into the stage" % (protocol_path, duration_s)
        )
    top = max(p[1] for p in all_pulses)
    first = next(k for k, p in enumerate(all_pulses) if p[1] == top)
    chosen = [all_pulses[first]]
    for p in all_pulses[first + 1 :]:
        if len(chosen) == pulses or p[0] - chosen[-1][0] != period_us or p[1] != top:
            break
        chosen.append(p)
    t0 = chosen[0][0] - LEAD_US
    if engine == "pio":
        chosen = _pio_pulses(result, chosen, duration_s)
    cfg = pico_config()
    stim_pulses = [(s - t0, amp, w, g) for s, amp, w, g in chosen]
    end_us = stim_pulses[-1][0] + period_us
    stim = deck.Stimulus(end_us, stim_pulses, [(0, deck.dac_volts(top, cfg))])
    info = {
        "protocol": proto.doc["name"],
        "engine": engine,
        "firmware_version": result["firmware_version"],
        "stretch_start_s": t0 / 1e6,
        "amp_ua": top,
        "width_us": proto.width_us,
        "gap_us": proto.gap_us,
        "period_us": period_us,
        "frequency_hz": proto.doc["frequency_hz"],
        "electrode_area_cm2": proto.doc["electrode_area_cm2"],
    }
    return stim, info


def _exists(path):
    import os

    return os.path.isfile(path)


def _pio_pulses(result, chosen, duration_s):
    """The same pulses as the PIO program emits them (cycle-exact emulator): starts and
    widths from its edges, amplitude from the model (the DAC is not the PIO's)."""
    from tvns_tools import simulate

    edges = simulate.pio_edges(result, duration_s)
    lo, hi = chosen[0][0] - 1, chosen[-1][0] + chosen[-1][2] * 2 + chosen[-1][3] + 2
    rises_a, falls_a, rises_b, falls_b = [], [], [], []
    prev_a = prev_b = 0
    for t_us, a, b in edges:
        t = float(t_us)
        if lo <= t <= hi:
            if a and not prev_a:
                rises_a.append(t)
            if prev_a and not a:
                falls_a.append(t)
            if b and not prev_b:
                rises_b.append(t)
            if prev_b and not b:
                falls_b.append(t)
        prev_a, prev_b = a, b
    out = []
    for k, (_s, amp, _w, _g) in enumerate(chosen):
        if k >= min(len(rises_a), len(falls_a), len(rises_b), len(falls_b)):
            break
        ra, fa, rb = rises_a[k], falls_a[k], rises_b[k]
        out.append((ra, amp, fa - ra, rb - fa))
    if not out:
        raise ToolError("the PIO emulator produced no pulse in the chosen stretch")
    return out
