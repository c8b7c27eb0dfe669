"""Benchmark rows for the ESP32 RMT pulse engine (firmware/tvns/board/esp32_rmt.py), run on
the ESP32 silicon model (firmware/tvns/board/simesp32hw.py: MicroPython v1.28.0's RMT
semantics, each write_pulses costing 20 us before its frame starts and 10 us after).

Timing error is measured on the frames the engine wrote, read back from the pins, against
the request, in RMT ticks: phase widths, period (A rise to A rise inside a train), and the
interphase gap (A fall to B rise), whose excess is the channels' start skew. Also the
resolution, the longest off time and how it is produced, the pipeline latency, the
dead-man bound after a stall, and the model's speed. rows() -> [(label, value)]."""

import json
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from tvns_tools.firmware import ROOT, import_firmware  # noqa: E402

CASES = [  # (width_us, gap_us, frequency_hz): the default and the hard-limit edges
    (250, 20, 25),
    (20, 0, 100),
    (1000, 100, 100),
    (20, 100, 1),
    (1000, 0, 1),
]
PERIODS = 100
ESP32_MAP = ROOT / "hardware" / "boards" / "esp32-devkitc.json"


def _config(resolution_hz=1_000_000):
    cfg = json.loads(ESP32_MAP.read_text())
    cfg["ceiling_ua"] = 10_000
    cfg["rmt"]["resolution_hz"] = resolution_hz
    return cfg


def _protocol(width_us, gap_us, hz):
    ramp = 11 if hz < 10 else 2  # one 0.1 mA step per period at most
    return {
        "schema": 1, "name": "bench-rmt", "amplitude_ma": 1.0, "pulse_width_us": width_us,
        "interphase_gap_us": gap_us, "frequency_hz": hz, "on_s": 3600, "off_s": 0,
        "ramp_up_s": ramp, "ramp_down_s": ramp, "electrode_area_cm2": 3.0, "sham": False,
        "session_s": 2 * ramp + PERIODS / hz + 1,
    }  # fmt: skip


def _errors(resolution_hz):
    """(max |width error|, max |period error|, gap excess min..max) in ticks, pulses seen."""
    import_firmware()
    from tvns.board.simesp32 import SimEsp32Board
    from tvns.board.simrun import simulate

    tpu = resolution_hz // 1_000_000
    worst_w = worst_p = 0
    skew = []
    n = 0
    for width_us, gap_us, hz in CASES:
        board = SimEsp32Board(_config(resolution_hz))
        board.engine.keep_frames = True
        r = simulate(_protocol(width_us, gap_us, hz), board=board)
        cu = r["rmt_cu_per_us"]
        a = r["rmt_edges"]["phase_a"]
        b = r["rmt_edges"]["phase_b"]
        a_rise = [t for t, v in a if v]
        period_cu = 1_000_000 // hz * cu
        for (ra, _), (fa, _), (rb, _), (fb, _) in zip(a[0::2], a[1::2], b[0::2], b[1::2]):
            worst_w = max(worst_w, abs(fa - ra - width_us * cu), abs(fb - rb - width_us * cu))
            skew.append(rb - fa - gap_us * cu)
            n += 1
        for x, y in zip(a_rise, a_rise[1:]):
            if y - x < period_cu * 3 // 2:  # inside a train
                worst_p = max(worst_p, abs(y - x - period_cu))
    to_ticks = lambda c: c * tpu / cu  # noqa: E731 - chip units (1/80 us) to RMT ticks
    return to_ticks(worst_w), to_ticks(worst_p), (to_ticks(min(skew)), to_ticks(max(skew))), n


def _stall_pulses():
    import_firmware()
    from tvns.board.simesp32 import SimEsp32Board
    from tvns.board.simrun import simulate
    from tvns.board.simtrace import iter_pulses

    worst = 0
    for hz in (1, 25, 100):
        d = _protocol(250, 0, hz)
        d["session_s"] = 60
        for at_ms in range(25_000, 25_011):  # every ms after a commit (25 s is one for all)
            r = simulate(d, board=SimEsp32Board(_config()), inject=[("stall", at_ms)])
            after = [p for p in iter_pulses(r["segments"]) if p[0] >= at_ms * 1000]
            worst = max(worst, len(after))
    return worst


def _items_per_write():
    """Items in each of the three writes (SYNC, A, B) of a 1 Hz, 1000 us pulse at 1 MHz."""
    import_firmware()
    from tvns.board.simesp32 import SimEsp32Board

    board = SimEsp32Board(_config())
    board.engine.load(1000, 0, 1_000_000)
    return board.engine._fw._n[:3]


def _speed():
    import_firmware()
    from tvns.board.simesp32 import SimEsp32Board
    from tvns.board.simrun import simulate

    d = _protocol(250, 20, 25)
    d.update(session_s=3600, on_s=30, off_s=0, ramp_up_s=10, ramp_down_s=10)
    t = time.perf_counter()
    r = simulate(d, board=SimEsp32Board(_config()))
    return time.perf_counter() - t, r["pulses"]


def rows():
    import_firmware()
    from tvns.board import esp32_rmt

    w1, p1, (s1_lo, s1_hi), n1 = _errors(1_000_000)
    w80, p80, (s80_lo, s80_hi), _n = _errors(80_000_000)
    cfg = esp32_rmt.read_config(_config())
    longest_off_us = 1_000_000 - 2 * 1000 - 0  # 1 Hz, 1000 us phases, no gap
    n_s, n_a, n_b = _items_per_write()
    wall, pulses = _speed()
    return [
        (
            "RMT timing error, widths and period (model, %d protocols, %d pulses)"
            % (len(CASES), n1),
            "%d ticks at 1 MHz, %d ticks at 80 MHz" % (max(w1, p1), max(w80, p80)),
        ),
        ("  RMT resolution (default map; 80 MHz the finest)", "1 us (1 MHz); 12.5 ns"),
        (
            "  interphase gap excess = A->B channel start skew (1 MHz; 80 MHz)",
            "%g..%g ticks; %g..%g ticks" % (s1_lo, s1_hi, s80_lo, s80_hi),
        ),
        (
            "  longest off time (1 Hz, 1000 us phases)",
            "%.1f ms, idle between one-pulse writes of %d/%d/%d items (SYNC/A/B; <= %d ticks)"
            % (longest_off_us / 1000, n_s, n_a, n_b, esp32_rmt.PULSE_MAX),
        ),  # fmt: skip
        (
            "  pipeline latency (tick decision to phase A)",
            "%d us + one write's entry" % cfg["latency_us"],
        ),
        ("  pulses after a CPU stall (1, 25, 100 Hz; bound 2)", str(_stall_pulses())),
        (
            "60 min 25 Hz session on the ESP32 model, CPython: wall",
            "%.2f s (%d pulses, a tick per pulse)" % (wall, pulses),
        ),
    ]


if __name__ == "__main__":
    for label, value in rows():
        print("%-70s %s" % (label, value))
