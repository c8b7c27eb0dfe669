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


def write_vcd(stream, segments, end_us, date="", version="", gate_edges=()):
    """Change-only VCD: one `#t` line per instant that changes something, nothing else, so a
    long session stays small and opens fast (a 10 min session is a few hundred kB)."""
    w = stream.write
    w("$date %s $end\n" % date)
    w("$version tvns firmware %s sim board $end\n" % version)
    w("$timescale 1us $end\n")
    w("$scope module stimulator $end\n")
    for ident, name in VCD_WIRES:
        w("$var wire 1 %s %s $end\n" % (ident, name))
    w("$var real 64 c amplitude_ua $end\n")
    w("$upscope $end\n$enddefinitions $end\n")
    w("#0\n$dumpvars\n0a\n0b\n0s\n0g\nr0 c\n$end\n")
    amps = iter_pulses(segments)
    amp_now = 0
    last_t = 0
    level = {"a": 0, "b": 0, "s": 0, "g": 0}
    for t, wire, v in iter_wire_changes(segments, gate_edges):
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
