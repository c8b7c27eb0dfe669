"""What the checks share: the measured signals, the expectation, the tolerances, and the
shape of one result row."""

from tvns_tools.verify import edges

PASS, FAIL, NA = "pass", "fail", "n/a"


class Ctx:
    """Everything a check reads. Times in integer ns of the capture's own clock; `offset_ns`
    is where the session's time 0 falls in it (None when it could not be placed)."""

    def __init__(self, cap, roles, exp, ppm, slack_ns, amp_tol_pct):
        self.cap = cap
        self.roles = roles
        self.exp = exp
        self.limits = exp.limits
        self.sense_floor_ua = exp.sense_floor_ua
        self.ppm = ppm
        self.slack_ns = slack_ns
        self.amp_tol_pct = amp_tol_pct
        self.sample_ns = cap.sample_ns
        # A file whose time grid does not hold the sample grid exactly (a 24 MHz capture
        # exported at 1 ns) adds its own rounding on top.
        ratio = cap.sample_ns / cap.resolution_ns
        self.extra_ns = 0.0 if abs(ratio - round(ratio)) < 1e-6 else cap.resolution_ns
        self.offset_ns = None
        self.ambiguous = False
        self.align_note = ""
        self.a_iv = self.b_iv = self.sync_iv = self.gate_iv = None
        self.pulses = None
        self.amp = None  # edges.Amplitude or None
        self.phases_from = ""

    def tol(self, interval_ns):
        """How far a measured interval may be from the truth: one sample period (each edge
        is seen up to one sample late), the file's rounding, and the clocks' ppm."""
        return self.sample_ns + self.extra_ns + self.ppm * 1e-6 * abs(interval_ns)

    def wire(self, role):
        name = self.roles.get(role)
        if name is None:
            return None
        return edges.intervals(self.cap.digital[name], self.cap.end_ns)

    def in_session(self, t_ns):
        return None if self.offset_ns is None else t_ns - self.offset_ns


def row(
    name, label, status, measured="", expected="", limit="", tolerance="", at_ns=None, detail=""
):
    return {
        "check": name,
        "label": label,
        "status": status,
        "measured": measured,
        "expected": expected,
        "limit": limit,
        "tolerance": tolerance,
        "first_mismatch_s": None if at_ns is None else round(at_ns / 1e9, 9),
        "detail": detail,
    }


def na(name, label, why):
    return row(name, label, NA, detail=why)


def us(ns, places=1):
    return "%.*f us" % (places, ns / 1000)


def span_us(values):
    if not values:
        return "-"
    lo, hi = _num(min(values) / 1000), _num(max(values) / 1000)
    return "%s us" % lo if lo == hi else "%s..%s us" % (lo, hi)


def _num(x):
    return ("%.3f" % x).rstrip("0").rstrip(".")


def s_text(ns):
    return "%s s" % _num(ns / 1e9)


def ms_text(ns):
    return "%s ms" % _num(ns / 1e6)


def median(values):
    v = sorted(values)
    return v[len(v) // 2] if v else None
