"""CSV captures, read with the csv module:
- Saleae Logic 2 digital exports: `Time [s],Channel 0,Channel 1,...`, one row per change;
- a generic `time,ch0,ch1,...` table (seconds; one row per sample or per change);
- scope / analog exports: the same shape with voltages (a preamble of non-numeric lines,
  e.g. a scope's settings, is skipped; the last one before the numbers is the header).
A column holding only 0 and 1 is a digital channel, anything else analog (volts).
The time column is seconds unless its header says ms, us or ns."""

import csv
import re

from tvns_tools.verify.capture import Capture, Unreadable

# Sample rates of common analyzers and scopes (Hz), tried when a change-only CSV does not
# say its rate: the slowest one whose grid holds every timestamp is taken as the rate.
COMMON_RATES_HZ = sorted(
    {
        r * m
        for m in (1e3, 1e6)
        for r in (1, 2, 2.5, 3, 4, 5, 6.25, 8, 10, 12, 12.5, 16, 20, 24, 25, 32, 40, 48, 50)
    }
    | {100e6, 125e6, 200e6, 250e6, 500e6, 1e9}
)
_UNIT = ((r"\bns\b|\[ns\]|\(ns\)", 1), (r"\bus\b|\[us\]|\(us\)|µs", 1e3), (r"\bms\b|\[ms\]", 1e6))


def read_csv(path):
    try:
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
            rows = list(csv.reader(f))
    except OSError as exc:
        raise Unreadable("cannot read %s: %s" % (path, exc.strerror)) from exc
    first = _first_data_row(rows)
    if first is None:
        raise Unreadable("%s: no numeric rows (expected time,ch0,ch1,... in seconds)" % path)
    header = [c.strip() for c in rows[first - 1]] if first else []
    width = len(rows[first])
    if width < 2:
        raise Unreadable("%s: needs a time column and at least one channel" % path)
    names = [header[i] if i < len(header) and header[i] else "ch%d" % (i - 1) for i in range(width)]
    scale_ns = 1e9
    for pattern, ns in _UNIT:
        if re.search(pattern, names[0], re.I):
            scale_ns = ns
    fmt = "Saleae Logic CSV" if names[0].lower().startswith("time [s]") else "CSV"
    times, cols, digits = [], [[] for _ in range(width - 1)], 0
    for lineno, row in enumerate(rows[first:], first + 1):
        if not row or not "".join(row).strip():
            continue
        if len(row) < width:
            raise Unreadable(
                "%s line %d: %d columns, expected %d" % (path, lineno, len(row), width)
            )
        try:
            times.append(int(round(float(row[0]) * scale_ns)))
            for i in range(1, width):
                cols[i - 1].append(float(row[i]))
        except ValueError:
            raise Unreadable(
                "%s line %d: not a number (%s)" % (path, lineno, ",".join(row))
            ) from None
        if len(times) <= 200 and "." in row[0]:
            digits = max(digits, len(re.sub(r"[eE].*", "", row[0].split(".")[1])))
    if any(b < a for a, b in zip(times, times[1:])):
        raise Unreadable("%s: time column is not in order" % path)
    cap = Capture(path, fmt)
    cap.start_ns, cap.end_ns = times[0], times[-1]
    cap.resolution_ns = max(1.0, scale_ns / 10**digits) if digits else scale_ns
    for name, values in zip(names[1:], cols):
        if all(v in (0.0, 1.0) for v in values):
            changes = [(times[0], int(values[0]))]
            for t, v in zip(times, values):
                if int(v) != changes[-1][1]:
                    changes.append((t, int(v)))
            cap.add_digital(name, changes)
        else:
            cap.add_analog(name, times, values)
    _sample_period(cap, times)
    return cap


def _first_data_row(rows):
    for i, row in enumerate(rows):
        if len(row) >= 2 and all(_is_num(c) for c in row if c.strip()):
            return i
    return None


def _is_num(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def _sample_period(cap, times):
    """Rows at one fixed step: that step. Otherwise (change-only, as Saleae exports) the
    slowest common rate whose grid holds every timestamp: an upper bound on the true
    sample period, so the tolerances it gives are never tighter than the capture allows."""
    steps = [b - a for a, b in zip(times, times[1:]) if b > a]
    if not steps:
        return
    lo, hi = min(steps), max(steps)
    if hi - lo <= cap.resolution_ns and len(steps) > 2:
        cap.set_sample_period(sum(steps) / len(steps), "CSV rows every %g ns" % lo)
        return
    t0 = times[0]
    rel = [t - t0 for t in times[:: max(1, len(times) // 20000)]]
    tol = cap.resolution_ns / 2 + 0.5
    for rate in COMMON_RATES_HZ:
        period = 1e9 / rate
        if period > lo + tol:
            continue
        if all(abs(t - round(t / period) * period) <= tol for t in rel):
            cap.set_sample_period(
                period,
                "inferred from the edge grid (%g MHz); give --sample-rate for the true rate"
                % (rate / 1e6),
            )
            return
    cap.set_sample_period(cap.resolution_ns, "the CSV's time resolution")
