"""From wires to pulses: high intervals of each wire, phase A paired with its phase B,
trains (pulses one period apart), and the amplitude of each phase from an analog channel
(the sense-resistor voltage, or the simulator's amplitude_ua). Times in integer ns."""

import bisect


def intervals(changes, end_ns):
    """[(rise, fall)] for every high stretch; rise None: already high when the capture
    began; fall None: still high when it ended."""
    out = []
    rise = None
    high = False
    for i, (t, v) in enumerate(changes):
        if i == 0:
            high = bool(v)
            continue
        if v and not high:
            rise, high = t, True
        elif not v and high:
            out.append((rise, t))
            high = False
    if high:
        out.append((rise, None))
    return out


class Pulses:
    """Phase A paired with the phase B that follows it (before the next phase A). Pulses cut
    by the capture's start or end are left out (`partial`), and phase B stretches with no
    phase A before them are `orphan_b`."""

    def __init__(self, a_iv, b_iv):
        self.a_rise, self.a_fall, self.b_rise, self.b_fall = [], [], [], []
        self.orphan_b = []  # b rise times
        self.partial = 0
        b_rises = [-(1 << 62) if r is None else r for r, _f in b_iv]  # None: before
        used = [False] * len(b_iv)
        for k, (r, f) in enumerate(a_iv):
            nxt = a_iv[k + 1][0] if k + 1 < len(a_iv) else None
            lo = bisect.bisect_left(b_rises, r) if r is not None else 0
            j = lo
            mine = []
            while j < len(b_iv) and (nxt is None or b_rises[j] < nxt):
                if b_iv[j][0] is not None and (r is None or b_rises[j] >= r):
                    mine.append(j)
                j += 1
            for j in mine:
                used[j] = True
            if r is None or f is None:
                self.partial += 1
                continue
            b = b_iv[mine[0]] if mine else (None, None)
            if b[0] is not None and b[1] is None:
                self.partial += 1  # phase B still running at the capture's end
                continue
            self.a_rise.append(r)
            self.a_fall.append(f)
            self.b_rise.append(b[0])
            self.b_fall.append(b[1])
            self.orphan_b.extend(b_iv[j][0] for j in mine[1:])
        first_a = a_iv[0][0] if a_iv else None
        for j, (r, _f) in enumerate(b_iv):
            if used[j] or r is None:
                continue
            if j == 0 and (first_a is None or r < first_a):
                self.partial += 1  # the capture began after this pulse's phase A
            else:
                self.orphan_b.append(r)
        self.orphan_b.sort()

    def __len__(self):
        return len(self.a_rise)


def overlaps(a_iv, b_iv, start_ns, end_ns):
    """[(t, ns)] for every stretch with A and B high together."""
    out = []
    j = 0
    for ra, fa in a_iv:
        ra = start_ns if ra is None else ra
        fa = end_ns if fa is None else fa
        while j < len(b_iv) and (b_iv[j][1] if b_iv[j][1] is not None else end_ns) <= ra:
            j += 1
        k = j
        while k < len(b_iv):
            rb = start_ns if b_iv[k][0] is None else b_iv[k][0]
            fb = end_ns if b_iv[k][1] is None else b_iv[k][1]
            if rb >= fa:
                break
            lo, hi = max(ra, rb), min(fa, fb)
            if hi > lo:
                out.append((lo, hi - lo))
            k += 1
    return out


def trains(starts, period_ns):
    """Group pulse start times into trains: a new train when the next pulse comes more than
    1.5 periods after the last. Expected and measured pulses go through this same rule."""
    out = []
    for i, t in enumerate(starts):
        if i and t - starts[i - 1] <= period_ns * 3 // 2:
            out[-1][1] = i
        else:
            out.append([i, i])
    return out


def phases_from_analog(times, values, thr, width_ns):
    """Phase A and B intervals from a sense voltage: by sign when the signal is bipolar
    (a sense resistor in series with the load), else by order (a low-side resistor, as in
    hardware/README.md: the first hump of a pulse is A, the next within 100 us + a width B;
    a hump longer than 1.5 widths is a 0 us gap pulse, split in half)."""
    bipolar = any(v < -thr for v in values)
    if bipolar:
        return _humps(times, values, thr, 1), _humps(times, values, thr, -1)
    a, b = [], []
    humps = _humps(times, values, thr, 1)
    i = 0
    while i < len(humps):
        r, f = humps[i]
        if r is not None and f is not None and f - r > width_ns * 3 // 2:
            mid = r + (f - r) // 2
            a.append((r, mid))
            b.append((mid, f))
            i += 1
            continue
        a.append((r, f))
        if i + 1 < len(humps) and f is not None and humps[i + 1][0] is not None:
            if humps[i + 1][0] - f <= 100_000 + width_ns // 2:
                b.append(humps[i + 1])
                i += 1
        i += 1
    return a, b


def _humps(times, values, thr, sign):
    out = []
    rise = None
    high = False
    for i, (t, v) in enumerate(zip(times, values)):
        on = v * sign > thr
        if on and not high:
            rise = None if i == 0 else t
            high = True
        elif not on and high:
            out.append((rise, t))
            high = False
    if high:
        out.append((rise, None))
    return out


class Amplitude:
    """Amplitude (uA) of a phase from an analog channel: the median of the samples in the
    middle half of the phase (edges and ringing left out), or the value held there when the
    channel is change-only (the simulator's amplitude_ua)."""

    def __init__(self, times, values, ua_per_unit, exact=False):
        self.t = times
        self.v = values
        self.k = ua_per_unit
        # exact: the simulator's setpoints, not a measurement (no quantum to allow for)
        self.lsb_ua = 0.0 if exact else _lsb(values) * ua_per_unit

    def phase_ua(self, r, f):
        q = (f - r) // 4
        lo = bisect.bisect_left(self.t, r + q)
        hi = bisect.bisect_right(self.t, f - q)
        if hi > lo:
            vals = sorted(abs(v) for v in self.v[lo:hi])
            return vals[len(vals) // 2] * self.k
        i = bisect.bisect_right(self.t, r + 2 * q) - 1
        return abs(self.v[i]) * self.k if i >= 0 else None


def _lsb(values):
    """The capture's amplitude quantum: the smallest step between distinct values, when
    there are enough of them to be a converter's codes (noise fills them in); a signal of
    a few clean levels (a synthetic or averaged trace) has no quantum to allow for."""
    distinct = sorted(set(values[:: max(1, len(values) // 50000)]))
    if len(distinct) < 16:
        return 0.0
    steps = [b - a for a, b in zip(distinct, distinct[1:]) if b - a > 0]
    return min(steps) if steps else 0.0
