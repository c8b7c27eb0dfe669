"""Trigger traces for `tvns simulate --trigger FILE` (docs/GATING.md): a CSV with the header
`t_s,level`, one row per change of the input, `level` 0 or 1 (the pin's electrical level:
the protocol's trigger.polarity says which one is active), a step function that holds each
level until the next row, 0 before the first. Times in seconds from the session's start,
non-decreasing, to the microsecond. Also: the synthetic breathing trace of the docs."""

import csv
import math

from tvns_tools.firmware import ToolError

MAX_ROWS = 2_000_000  # a 10 kHz square wave for 100 s
MAX_T_S = 3700.0


def read(path):
    """[(t_s, level)] from the CSV at path; ToolError naming the line on any problem."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except OSError as exc:
        raise ToolError("cannot read %s: %s" % (path, exc.strerror)) from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ToolError("%s: not a CSV text file (%s)" % (path, exc)) from exc
    if not rows or [c.strip() for c in rows[0]] != ["t_s", "level"]:
        raise ToolError("%s: the first line must be the header `t_s,level`" % path)
    if len(rows) - 1 > MAX_ROWS:
        raise ToolError("%s: %d rows; at most %d" % (path, len(rows) - 1, MAX_ROWS))
    out = []
    last = 0.0
    for n, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != 2:
            raise ToolError("%s line %d: expected t_s,level (got %r)" % (path, n, ",".join(row)))
        try:
            t = float(row[0])
        except ValueError:
            raise ToolError("%s line %d: t_s must be a number of seconds" % (path, n)) from None
        if not math.isfinite(t) or not 0 <= t <= MAX_T_S:
            raise ToolError("%s line %d: t_s must be 0..%g s (got %s)" % (path, n, MAX_T_S, row[0]))
        if t < last:
            raise ToolError(
                "%s line %d: t_s goes back in time (%s after %g)" % (path, n, row[0], last)
            )
        level = row[1].strip()
        if level not in ("0", "1"):
            raise ToolError("%s line %d: level must be 0 or 1 (got %r)" % (path, n, level))
        last = t
        out.append((round(t * 1e6) / 1e6, int(level)))
    return out


def write(path, trace):
    with open(path, "w", newline="") as f:
        f.write("t_s,level\n")
        for t, level in trace:
            f.write("%.6f,%d\n" % (t, level))


def breathing(duration_s, breaths_per_min=15.0, exhale_fraction=0.5, start_s=1.0):
    """A synthetic respiratory gate: level 1 (active) through each exhalation, 0 through
    inhalation, breaths_per_min cycles a minute starting with an inhalation at start_s."""
    period = 60.0 / breaths_per_min
    out = []
    t = start_s
    while t < duration_s:
        on = t + period * (1 - exhale_fraction)
        out.append((round(on, 6), 1))
        out.append((round(t + period, 6), 0))
        t += period
    return out


def square(duration_s, hz, start_s=0.0):
    """A hostile input: a square wave at hz (50% duty) from start_s."""
    half = 0.5 / hz
    n = int((duration_s - start_s) / half)
    return [(round(start_s + k * half, 6), 1 - k % 2) for k in range(n)]
