# Host-only: expand recorded segments into phase edges and write a VCD trace
# (timescale 1 us; wires phase_a, phase_b, sync, gate; the amplitude as a real variable).
# Segments are [start_us, period_us, count, amp_ua, width_us, gap_us].


def iter_pulses(segments):
    """Yield (start_us, amp_ua, width_us, gap_us) for every pulse, in time order."""
    for start, period, count, amp, width, gap in segments:
        for k in range(count):
            yield start + k * period, amp, width, gap


def iter_edges(segments):
    """Yield (t_us, phase_a, phase_b) after each change, in time order. With a 0 us gap,
    phase A falls and phase B rises at the same instant: A's edge comes first."""
    for t, _amp, width, gap in iter_pulses(segments):
        yield t, 1, 0
        yield t + width, 0, 0
        yield t + width + gap, 0, 1
        yield t + 2 * width + gap, 0, 0


# VCD wire ids and names: the Pico's pin names (hardware/boards/pico.json), so a capture of
# the board and a simulated trace read the same (tvns verify, PulseView).
VCD_WIRES = (("a", "phase_a"), ("b", "phase_b"), ("s", "sync"), ("g", "gate"))


def iter_wire_changes(segments, gate_edges=()):
    """Yield (t_us, id, level) for phase_a (a), phase_b (b), sync (s) and gate (g), in time
    order. SYNC is high from phase A start to phase B end, as the PIO drives it. At one
    instant, falls come before rises (A before B with a 0 us gap) and the gate's edge comes
    before the pulse edges (a train starts at gate-on)."""
    gates = iter(gate_edges)
    nxt = next(gates, None)
    for t, _amp, width, gap in iter_pulses(segments):
        for t_p, wire, level in (
            (t, "a", 1),
            (t + width, "a", 0),
            (t + width + gap, "b", 1),
            (t + 2 * width + gap, "b", 0),
        ):
            while nxt is not None and nxt[0] <= t_p:
                yield nxt[0], "g", nxt[1]
                nxt = next(gates, None)
            if wire == "a" and level:
                yield t_p, "s", 1
            yield t_p, wire, level
            if wire == "b" and not level:
                yield t_p, "s", 0
    while nxt is not None:
        yield nxt[0], "g", nxt[1]
        nxt = next(gates, None)


# Optional wires: the trigger input as fed and the marker output (train onsets), written
# only for a run that has them (docs/GATING.md; tvns verify reads `trigger`).
EXTRA_WIRES = (("t", "trigger"), ("m", "marker"))


def _merge(changes, extra):
    """changes (t, id, level) in time order, with extra's edges [(t, id, level)] (sorted)
    merged in; at one instant the extra edge (the input) comes first."""
    extra = iter(extra)
    nxt = next(extra, None)
    for item in changes:
        while nxt is not None and nxt[0] <= item[0]:
            yield nxt
            nxt = next(extra, None)
        yield item
    while nxt is not None:
        yield nxt
        nxt = next(extra, None)


def write_vcd(
    stream,
    segments,
    end_us,
    date="",
    version="",
    gate_edges=(),
    trigger_edges=None,
    marker_edges=None,
):
    """Change-only VCD: one `#t` line per instant that changes something, nothing else, so a
    long session stays small and opens fast (a 10 min session is a few hundred kB).
    trigger_edges, marker_edges: [t_us, level] for the optional wires (None: not written)."""
    w = stream.write
    w("$date %s $end\n" % date)
    w("$version tvns firmware %s sim board $end\n" % version)
    w("$timescale 1us $end\n")
    w("$scope module stimulator $end\n")
    wires = list(VCD_WIRES)
    extra = []
    for (ident, name), edges in zip(EXTRA_WIRES, (trigger_edges, marker_edges)):
        if edges is not None:
            wires.append((ident, name))
            extra += [(t, ident, v) for t, v in edges]
    extra.sort(key=lambda e: e[0])
    for ident, name in wires:
        w("$var wire 1 %s %s $end\n" % (ident, name))
    w("$var real 64 c amplitude_ua $end\n")
    w("$upscope $end\n$enddefinitions $end\n")
    w("#0\n$dumpvars\n%sr0 c\n$end\n" % "".join("0%s\n" % ident for ident, _ in wires))
    amps = iter_pulses(segments)
    amp_now = 0
    last_t = 0
    level = {ident: 0 for ident, _ in wires}
    for t, wire, v in _merge(iter_wire_changes(segments, gate_edges), extra):
        if level[wire] == v:
            continue
        level[wire] = v
        if t != last_t:
            w("#%d\n" % t)
            last_t = t
        if wire == "a" and v:
            amp = next(amps)[1]
            if amp != amp_now:
                w("r%d c\n" % amp)
                amp_now = amp
        w("%d%s\n" % (v, wire))
    if end_us > last_t:
        w("#%d\n" % end_us)
