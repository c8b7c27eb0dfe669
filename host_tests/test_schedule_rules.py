"""schedule.py rule by rule, against references written from the documented rules
(docs/PROTOCOL-FORMAT.md, the header of schedule.py): eval() at every ms of small sessions
(phase, amplitude, gate, the delivered pair of the blinded sham arm, and next_ms: the
answer never changes before it and does change at it), the gate windows and the closed-form
pulse count against a naive walk. Plain asserts over firmware modules, fast: these are the
tests `make mutation` leans on for schedule.py (SAFETY.md, the mutation section)."""

from tvns import schedule
from tvns import session as S
from tvns.schedule import Schedule


class P:
    """A protocol in the firmware's integer units (what Schedule reads), without validation:
    the arithmetic is under test, not the limits."""

    def __init__(self, **kw):
        self.amplitude_ua = 1000
        self.width_us = 250
        self.gap_us = 20
        self.period_us = 40000
        self.on_ms = 300
        self.off_ms = 200
        self.ramp_up_ms = 400
        self.ramp_down_ms = 300
        self.session_ms = 2400
        self.sham = False
        self.keepalive_ms = 0
        for k in kw:
            setattr(self, k, kw[k])


def _ceil(a, b):
    return -(-a // b)


def reference(p, t, blind=False):
    """(phase, amp_ua, gate, out_ua, out_gate) at t ms, from the rules as written."""
    n = max(1, _ceil(p.amplitude_ua, 100))  # equal-time steps of at most 0.1 mA
    target = 0 if p.sham else p.amplitude_ua
    ds = p.session_ms - p.ramp_down_ms
    cycle = p.on_ms + p.off_ms
    gate_end = p.session_ms - _ceil(2 * p.width_us + p.gap_us, 1000) - 50
    if t >= p.session_ms:
        phase, amp, gate = S.DONE, 0, False
    elif t >= ds:
        phase = S.RAMP_DOWN
        live = p.off_ms == 0 or (ds - p.ramp_up_ms) % cycle < p.on_ms
        k = n
        if live:
            k = min(n, (t - ds) * n // p.ramp_down_ms + 1)  # leaves the target at once
        amp = target * (n - k) // n
        gate = not p.sham and amp > 0 and t < gate_end
    elif t < p.ramp_up_ms:
        phase = S.RAMP_UP
        k = t * n // p.ramp_up_ms
        amp = target * k // n
        gate = not p.sham and k > 0
    else:
        on = p.off_ms == 0 or (t - p.ramp_up_ms) % cycle < p.on_ms
        phase = S.ON if on else S.OFF
        amp = target
        gate = not p.sham and on
    out_ua, out_gate = amp, gate
    if blind and t >= p.ramp_up_ms:
        # train time: ms with the duty cycle ON since the ramp up ended
        u = t - p.ramp_up_ms
        g = (u // cycle) * p.on_ms + min(u % cycle, p.on_ms)
        if g >= p.ramp_down_ms:
            out_ua, out_gate = 0, False
        else:
            sham = target * (n - g * n // p.ramp_down_ms) // n
            if sham < amp:
                out_ua = sham
                out_gate = gate and sham > 0
    return phase, amp, gate, out_ua, out_gate


def _seen(r):
    """What reaches the output or the states: the amplitudes only while their gate is on
    (with the gate closed for good, eval() need not wake for the rest of a ramp)."""
    phase, amp, gate, out_ua, out_gate = r
    return phase, gate, out_gate, amp if gate else 0, out_ua if out_gate else 0


def _answer(sc):
    return sc.phase, sc.amp_ua, sc.gate, sc.out_ua, sc.out_gate


PROTOCOLS = (
    P(),  # duty cycle, live ramp down
    P(off_ms=0),  # continuous
    P(session_ms=2500),  # the ramp down begins in OFF: nothing to ramp down
    P(amplitude_ua=250, ramp_up_ms=1000, ramp_down_ms=1000, session_ms=3300),  # 3 steps
    P(amplitude_ua=100, on_ms=100, off_ms=100, session_ms=1700),  # one step: ramp down empty
    P(amplitude_ua=1000, width_us=1000, gap_us=100, session_ms=2460),  # gate end clamps
    P(sham=True),  # visible sham: the states, no output
    P(amplitude_ua=730, ramp_up_ms=1000, ramp_down_ms=700, session_ms=3100),  # uneven steps
)


def _check_eval(p, blind):
    sc = Schedule(p, blind)
    ref = [reference(p, t, blind) for t in range(p.session_ms + 3)]
    for t in range(p.session_ms + 2):
        sc.eval(t)
        got = _answer(sc)
        assert got == ref[t], (vars(p), blind, t, got, ref[t])
        if ref[t][0] == S.DONE:
            assert sc.next_ms == p.session_ms
            continue
        nxt = sc.next_ms
        assert t < nxt <= p.session_ms, (t, nxt)
        # nothing that reaches the output changes before next_ms, and something does at it
        for u in range(t + 1, nxt):
            assert _seen(ref[u]) == _seen(ref[t]), (vars(p), blind, t, nxt, u)
        if not (p.sham or blind):  # (the sham arms may wake for a step they never show)
            assert ref[nxt] != ref[t], (vars(p), blind, t, nxt)


def test_eval_matches_the_written_rules_at_every_ms():
    for p in PROTOCOLS:
        _check_eval(p, False)


def test_blinded_sham_eval_matches_the_written_rules_at_every_ms():
    for p in PROTOCOLS:
        if not p.sham:
            _check_eval(p, True)


def test_a_fresh_schedule_commands_nothing_before_its_first_eval():
    p = P()
    sc = Schedule(p, True)
    assert (sc.phase, sc.amp_ua, sc.gate, sc.out_ua, sc.out_gate) == (S.RAMP_UP, 0, False, 0, False)
    assert sc.next_ms == 0 and sc.blind_sham is True
    assert (sc.target_ua, sc.up_ms, sc.down_ms, sc.session_ms) == (1000, 400, 300, 2400)
    assert (sc.down_start_ms, sc.on_ms, sc.off_ms, sc.cycle_ms) == (2100, 300, 200, 500)
    assert sc.gate_end_ms == 2400 - 1 - 50 and sc.n_steps == 10 and sc.output is True
    assert sc.down_live is True and Schedule(P(session_ms=2500)).down_live is False
    sham = Schedule(P(sham=True))
    assert sham.output is False and sham.target_ua == 0 and sham.blind_sham is False


def test_steps_down_live_and_gate_end():
    assert schedule.steps(P(amplitude_ua=1)) == 1
    assert schedule.steps(P(amplitude_ua=100)) == 1
    assert schedule.steps(P(amplitude_ua=101)) == 2
    assert schedule.steps(P(amplitude_ua=10000)) == 100
    assert schedule.down_live(P(off_ms=0, session_ms=2300))
    # ds - up = 1800 = 3 cycles + 300: OFF begins exactly there (not live); 1 ms earlier: ON
    assert not schedule.down_live(P(session_ms=2500, ramp_down_ms=300))
    assert schedule.down_live(P(session_ms=2499, ramp_down_ms=300))
    assert not schedule.down_live(P(session_ms=2300, ramp_down_ms=100))
    assert schedule.down_live(P(session_ms=2000, ramp_down_ms=100))  # 1500 = 3 cycles: ON
    assert schedule.gate_end_ms(P(width_us=250, gap_us=20)) == 2400 - 1 - 50
    assert schedule.gate_end_ms(P(width_us=500, gap_us=0)) == 2400 - 1 - 50
    assert schedule.gate_end_ms(P(width_us=500, gap_us=1)) == 2400 - 2 - 50


def _windows_ref(p):
    """The gate-on windows from eval() at every ms (adjacent ones merged)."""
    sc = Schedule(p)
    out = []
    start = None
    for t in range(p.session_ms + 1):
        sc.eval(t)
        if sc.gate and start is None:
            start = t
        elif not sc.gate and start is not None:
            out.append((start, t))
            start = None
    return out


def _merge(ws):
    out = []
    for a, b in ws:
        if out and out[-1][1] == a:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def test_gate_windows_are_where_eval_opens_the_gate():
    for p in PROTOCOLS:
        ws = list(schedule.gate_windows_ms(p))
        for a, b in ws:
            assert b > a, (vars(p), ws)  # no empty window
        assert _merge(ws) == _windows_ref(p), vars(p)
        assert schedule.output_ms(p) == sum(b - a for a, b in ws)


def _naive_count(p):
    n, free = 0, 0
    for a, b in schedule.gate_windows_ms(p):
        first = max(a * 1000, free)
        if b * 1000 > first:
            c = _ceil(b * 1000 - first, p.period_us)
            n, free = n + c, first + c * p.period_us
    return n


def test_pulse_count_matches_a_naive_walk():
    cases = list(PROTOCOLS)
    for period_us in (10000, 40000, 70000, 130000, 210000, 1000000):
        for on_ms, off_ms in ((100, 100), (300, 200), (250, 350), (1000, 100), (100, 0)):
            cases.append(P(period_us=period_us, on_ms=on_ms, off_ms=off_ms, session_ms=4700))
    for p in cases:
        assert schedule.pulse_count(p) == _naive_count(p), vars(p)


def _trains_naive(count, d_us, on_us, period_us, cycle_us):
    total = 0
    for _ in range(count):
        m = _ceil(on_us - d_us, period_us) if on_us > d_us else 0
        total += m
        d_us = max(0, d_us + m * period_us - cycle_us)
    return total, d_us


def test_whole_trains_jump_equals_walking_every_train():
    # (periods prime to the cycle too: the offsets then take every value, 1 us included)
    for period_us in (10000, 30000, 70000, 90000, 250000, 10007, 30011, 70001):
        for on_us, off_us in ((100000, 100000), (90000, 20000), (300000, 50000), (50000, 10000)):
            for d_us in (0, 1, 5000, 60000, 95000, 120000):
                for count in (0, 1, 2, 3, 7, 40, 333):
                    args = (count, d_us, on_us, period_us, on_us + off_us)
                    assert schedule._whole_trains(*args) == _trains_naive(*args), args


def test_sham_protocols_have_no_windows_and_no_pulses():
    p = P(sham=True)
    assert list(schedule.gate_windows_ms(p)) == []
    assert schedule.pulse_count(p) == 0 and schedule.output_ms(p) == 0
