"""Benchmark rows for the RP2040 PIO pulse engine, measured in the cycle-exact emulator.

rows() -> [(label, value)]; run as a script to print them.
"""

import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from tvns_tools import pio_block, pio_sim  # noqa: E402

CLOCK_HZ = 125_000_000
CASES = [  # default protocol and hard-limit edges: (width_us, gap_us, period_us)
    (250, 0, 40_000),
    (250, 5, 40_000),
    (20, 0, 10_000),
    (1000, 100, 10_000),
    (20, 100, 1_000_000),
    (1000, 0, 1_000_000),
]
PERIODS = 100


def _max_error_cycles():
    """Largest |measured - requested| in cycles over PERIODS periods of every case."""
    pio = pio_sim.pio_module()
    cpu = CLOCK_HZ // 1_000_000
    worst = 0
    for width_us, gap_us, period_us in CASES:
        w, g, p = width_us * cpu, gap_us * cpu, period_us * cpu
        words = pio.counts(width_us, gap_us, period_us, CLOCK_HZ)
        edges = pio_sim.edges_in_cycles(words, pio_sim.Gate([(0, None)]), 6 + PERIODS * p)
        rises = [c for c, a, _b, _s in edges if a]
        falls_b = [c for c, _a, b, _s in edges if not b and _s == 0]
        b_rises = [c for c, _a, b, _s in edges if b]
        for k, ar in enumerate(rises):
            if k + 1 < len(rises):
                worst = max(worst, abs(rises[k + 1] - ar - p))
            if k < len(b_rises) and k < len(falls_b):
                worst = max(worst, abs(falls_b[k] - b_rises[k] - w))
                worst = max(worst, abs(b_rises[k] - ar - w - g))
    return worst


def _latency_cycles():
    pio = pio_sim.pio_module()
    words = pio.counts(250, 0, 40_000, CLOCK_HZ)
    edges = pio_sim.edges_in_cycles(words, pio_sim.Gate([(1000, None)]), 1100, fast=False)
    return edges[0][0] - 1000


def _kill_worst_cycles():
    """Kill to both phases low, worst case over every 5th cycle of the longest pulse and
    into its off time (emulated cycles, without the 2-cycle input synchroniser)."""
    pio = pio_sim.pio_module()
    words = pio.counts(1000, 100, 10_000, CLOCK_HZ)
    cpu = CLOCK_HZ // 1_000_000
    t0, stop = 6, 3 * 10_000 * cpu
    worst = 0
    for kill in range(t0 - 3, t0 + 2101 * cpu, 5 * 131):
        edges, _ = pio_block.block_edges(words, pio_sim.Gate([(0, None)]), stop, kill_cycle=kill)
        before = [e for e in edges if e[0] < kill]
        after = [e for e in edges if e[0] >= kill]
        if before and before[-1][1:] != (0, 0, 0) or after:
            off = [e[0] for e in after if e[1:] == (0, 0, 0)]
            assert off and after[-1][1:] == (0, 0, 0), "a rise after the kill"
            worst = max(worst, off[0] - kill)
    return worst


STALL_HZ = (1, 7, 25, 100)


def _stall_pulses(hz):
    """Pulses after a CPU stall, worst case over stall phases, before any watchdog: the PIO
    program fed by a 1 ms tick until the stall (the FIFO's DEADMAN_PULSES words run out)."""
    pio = pio_sim.pio_module()
    period_us = 1_000_000 // hz
    words = pio.counts(250, 20, period_us, CLOCK_HZ)
    cpu = CLOCK_HZ // 1_000_000
    worst = 0
    for phase in (0.1, 0.5, 0.95):
        stall = int((3 + phase) * period_us * cpu)
        feeder = pio_sim.Feeder(1000 * cpu, stall)
        stop = stall + 6 * period_us * cpu
        edges = pio_sim.edges_in_cycles(words, pio_sim.Gate([(0, None)]), stop, True, feeder)
        worst = max(worst, sum(1 for c, a, _b, _s in edges if a and c >= stall))
    return worst


def _emulator_speed():
    """(pure cycles/s, fast-forward periods/s at 25 Hz) on this machine."""
    pio = pio_sim.pio_module()
    words = pio.counts(250, 0, 40_000, CLOCK_HZ)
    n = 40_000
    t = time.perf_counter()
    for _ in pio_sim.run(words, pio_sim.Gate([(0, None)]), n, fast=False):
        pass
    pure = n / (time.perf_counter() - t)
    t = time.perf_counter()
    pio_sim.edges_in_cycles(words, pio_sim.Gate([(0, None)]), 200 * 5_000_000)
    fast = 200 / (time.perf_counter() - t)
    return pure, fast


def _model_stall_pulses(hz):
    """The same on the sim board's engine model, through the firmware (stall injected at
    three phases of a period; the watchdog then resets the chip)."""
    from tvns.board.simrun import simulate

    proto = {
        "schema": 1, "name": "bench-stall", "amplitude_ma": 1.0, "pulse_width_us": 250,
        "interphase_gap_us": 20, "frequency_hz": hz, "on_s": 60, "off_s": 0,
        "ramp_up_s": 11, "ramp_down_s": 11, "session_s": 120,
        "electrode_area_cm2": 1.0, "sham": False,
    }  # fmt: skip
    worst = 0
    period_ms = 1000 / hz
    for phase in (0.1, 0.5, 0.95):
        at_ms = round(14000 + phase * period_ms, 3)
        r = simulate(proto, 16000, inject=[("stall", at_ms)])
        n = sum(1 for s in r["segments"] for k in range(s[2]) if s[0] + k * s[1] >= at_ms * 1000)
        worst = max(worst, n)
    return worst


def rows():
    pio = pio_sim.pio_module()
    max_count = pio.COUNT_MAX
    w_min, w_max = pio.WIDTH_EXTRA_CYCLES, max_count + pio.WIDTH_EXTRA_CYCLES
    p_min = 2 * w_min + pio.OFF_EXTRA_CYCLES
    ns = 1e9 / CLOCK_HZ
    pure, fast = _emulator_speed()
    return [
        (
            "PIO timing error (emulated, %d periods x %d protocols)" % (PERIODS, len(CASES)),
            "%d cycles" % _max_error_cycles(),
        ),
        ("PIO resolution @ 125 MHz (clock divider 1)", "%g ns" % ns),
        (
            "PIO shortest / longest phase",
            "%d cycles (%g ns) / %d cycles (%.1f s)" % (w_min, w_min * ns, w_max, w_max / CLOCK_HZ),
        ),
        (
            "PIO shortest period (no gap) / longest off time",
            "%d cycles (%g ns) / %.1f s"
            % (p_min, p_min * ns, (max_count + pio.OFF_EXTRA_CYCLES) / CLOCK_HZ),
        ),
        (
            "PIO shortest non-zero gap",
            "%d cycles (%g ns)" % (pio.GAP_MIN_CYCLES, pio.GAP_MIN_CYCLES * ns),
        ),
        (
            "PIO gate-to-first-edge latency (wait + the dead man's pull)",
            "%d cycles emulated (+2 input sync on silicon)" % _latency_cycles(),
        ),
        _kill_row(ns),
        (
            "  kill via the tick path (ADC overcurrent, e-stop poll): worst case",
            "1 tick = 1 ms (+ safe_off), the second line of defence",
        ),
        (
            "dead man: pulses after a CPU stall, PIO at %s Hz" % "/".join(map(str, STALL_HZ)),
            " / ".join(str(_stall_pulses(hz)) for hz in STALL_HZ)
            + " (watchdog alone, 400 ms: %s)"
            % " / ".join(str(-(-400 * hz // 1000)) for hz in STALL_HZ),
        ),
        (
            "dead man: pulses after a CPU stall, sim model at %s Hz" % "/".join(map(str, STALL_HZ)),
            " / ".join(str(_model_stall_pulses(hz)) for hz in STALL_HZ)
            + " (then the watchdog resets the chip)",
        ),
        ("pioemu speed, every cycle", "%.0f cycles/s" % pure),
        ("pioemu speed, delay loops fast-forwarded", "%.0f periods/s at 25 Hz" % fast),
    ]


def _kill_row(ns):
    worst = _kill_worst_cycles()
    silicon = worst + 2
    return (
        "PIO kill-to-output-off, worst case (kill machine, output priority)",
        "%d cycles emulated, %d with the input sync = %g ns (bound 1 us = 125 cycles)"
        % (worst, silicon, silicon * ns),
    )


if __name__ == "__main__":
    for label, value in rows():
        print("%-60s %s" % (label, value))
