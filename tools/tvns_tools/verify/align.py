"""Place a capture in the session. A capture may start anywhere: its trains (runs of pulses
one period apart) are matched to the trains the protocol promises, and the offset that
explains the most train starts and lengths wins. The session's first train (ramp up + the
first ON) and its last (merged with the ramp down) usually differ from the others; a
capture that shows only identical middle trains is placed, but `ambiguous` (nothing that
depends on the absolute position, such as the session length, is then checked)."""

import bisect

from tvns_tools.verify.edges import trains


class Train:
    def __init__(self, starts, i, j, complete_start, complete_end):
        self.first = starts[i]
        self.last = starts[j]
        self.n = j - i + 1
        self.i = i
        self.j = j
        self.c_start = complete_start  # the train's first pulse is in view
        self.c_end = complete_end  # ... and its last one
        self.match = None  # index of the expected train

    def on_ns(self, period_ns):
        return self.last - self.first + period_ns


def measured_trains(starts, period_ns, start_ns, end_ns):
    runs = trains(starts, period_ns)
    out = []
    for k, (i, j) in enumerate(runs):
        c_start = k > 0 or starts[i] - start_ns > period_ns * 3 // 2
        c_end = k < len(runs) - 1 or end_ns - starts[j] > period_ns * 3 // 2
        out.append(Train(starts, i, j, c_start, c_end))
    return out


def expected_trains(exp):
    return [Train(exp.starts, i, j, True, True) for i, j in trains(exp.starts, exp.period_ns)]


def align(m, e, slack_ns, start_ns, end_ns):
    """(offset_ns, ambiguous) or (None, False) when no train start is in view. Sets .match
    on the measured trains."""
    if not e:
        return None, False
    e_first = [t.first for t in e]
    anchors = [k for k, t in enumerate(m) if t.c_start][:3]
    if not anchors:
        return None, False
    candidates = set()
    for k in anchors:
        js = [j for j, t in enumerate(e) if not m[k].c_end or abs(t.n - m[k].n) <= 1]
        js = js or list(range(len(e)))
        if len(js) > 50:  # the middle ones are alike (the duty cycle repeats): ends suffice
            js = js[:25] + js[-25:]
        candidates.update(m[k].first - e[j].first for j in js)
    scored = sorted(
        ((_score(off, m, e, e_first, slack_ns, start_ns, end_ns), off) for off in candidates),
        key=lambda x: (-x[0], x[1]),
    )
    best_score, best = scored[0]
    ambiguous = any(s == best_score and abs(off - best) > slack_ns for s, off in scored[1:])
    for t in m:
        t.match = _nearest(e_first, t.first - best, slack_ns) if t.c_start else None
    return best, ambiguous


def _nearest(values, t, slack_ns):
    i = bisect.bisect_left(values, t - slack_ns)
    if i < len(values) and abs(values[i] - t) <= slack_ns:
        return i
    return None


def _score(off, m, e, e_first, slack_ns, start_ns, end_ns):
    score = 0
    matched = set()
    for t in m:
        if not t.c_start:
            continue
        j = _nearest(e_first, t.first - off, slack_ns)
        if j is None:
            score -= 1
            continue
        matched.add(j)
        score += 2
        if t.c_end and e[j].n == t.n:
            score += 1
    lo = bisect.bisect_left(e_first, start_ns - off + slack_ns)
    hi = bisect.bisect_right(e_first, end_ns - off - slack_ns)
    score -= sum(1 for j in range(lo, hi) if j not in matched)
    return score
