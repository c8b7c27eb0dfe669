"""Benchmark rows for the RP2040 PIO pulse engine, measured in the cycle-exact emulator.

rows() -> [(label, value)]; run as a script to print them.
"""

import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from tvns_tools import pio_sim  # noqa: E402

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
            "PIO gate-to-first-edge latency",
            "%d cycle(s) emulated (+2 input sync on silicon)" % _latency_cycles(),
        ),
        ("pioemu speed, every cycle", "%.0f cycles/s" % pure),
        ("pioemu speed, delay loops fast-forwarded", "%.0f periods/s at 25 Hz" % fast),
    ]


if __name__ == "__main__":
    for label, value in rows():
        print("%-60s %s" % (label, value))
