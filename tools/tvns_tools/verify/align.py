"""Place a capture in the session. A capture may start anywhere: its trains (runs of pulses
one period apart) are matched to the trains the protocol promises, and the offset that
explains the most train starts and lengths wins. The session's first train (ramp up + the
first ON) and its last (merged with a live ramp down) usually differ from the others; a
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


def measured_trains(starts, period_ns, start_ns, end_ns, gate_iv=None):
    """Trains in the capture. A train's start is in view when a pulse before it would have
    been seen (it is not the first, or the capture began 1.5 periods before it), or when
    the gate that opened it was captured rising; likewise for its end."""
    runs = trains(starts, period_ns)
    rises = sorted(r for r, _f in gate_iv or () if r is not None)
    falls = sorted(f for _r, f in gate_iv or () if f is not None and f < end_ns)
    out = []
    for k, (i, j) in enumerate(runs):
        c_start = k > 0 or starts[i] - start_ns > period_ns * 3 // 2
        c_end = k < len(runs) - 1 or end_ns - starts[j] > period_ns * 3 // 2
        g = bisect.bisect_right(rises, starts[i]) - 1
        if g >= 0 and starts[i] - rises[g] <= period_ns:
            c_start = True
        g = bisect.bisect_right(falls, starts[j])
        if g < len(falls) and falls[g] - starts[j] <= period_ns:
            c_end = True
        out.append(Train(starts, i, j, c_start, c_end))
    return out


def expected_trains(exp):
    return [Train(exp.starts, i, j, True, True) for i, j in trains(exp.starts, exp.period_ns)]


def align(m, e, slack_ns, start_ns, end_ns, amp_fit=None):
    """(offset_ns, ambiguous) or (None, False) when no train start is in view. Sets .match
    on the measured trains. amp_fit(offset) -> how many sampled pulses carry the amplitude
    the schedule gives there: breaks ties between equally good timings (a ramp up and a
    ramp down look alike on the phase wires); remaining ties go to the earliest place."""
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
    scored = [(_score(off, m, e, e_first, slack_ns, start_ns, end_ns), off) for off in candidates]
    top = max(sc for sc, _off in scored)
    tied = [off for sc, off in scored if sc == top]
    fits = {off: amp_fit(off) if amp_fit and len(tied) > 1 else 0 for off in tied}
    best = max(tied, key=lambda off: (fits[off], off))
    ambiguous = any(abs(off - best) > slack_ns and fits[off] == fits[best] for off in tied)
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
