# Host-only: expand recorded segments into phase edges and write a VCD trace
# (timescale 1 us; wires phase_a, phase_b; the amplitude as a real variable).
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


def write_vcd(stream, segments, end_us, date="", version=""):
    w = stream.write
    w("$date %s $end\n" % date)
    w("$version tvns firmware %s sim board $end\n" % version)
    w("$timescale 1us $end\n")
    w("$scope module stimulator $end\n")
    w("$var wire 1 a phase_a $end\n")
    w("$var wire 1 b phase_b $end\n")
    w("$var real 64 c amplitude_ua $end\n")
    w("$upscope $end\n$enddefinitions $end\n")
    w("#0\n$dumpvars\n0a\n0b\nr0 c\n$end\n")
    amp_now = 0
    last_t = 0
    for t, amp, width, gap in iter_pulses(segments):
        if t != last_t:
            w("#%d\n" % t)
        if amp != amp_now:
            w("r%d c\n" % amp)
            amp_now = amp
        w("1a\n")
        w("#%d\n0a\n" % (t + width))
        if gap:
            w("#%d\n" % (t + width + gap))
        w("1b\n#%d\n0b\n" % (t + 2 * width + gap))
        last_t = t + 2 * width + gap
    if end_us > last_t:
        w("#%d\n" % end_us)
