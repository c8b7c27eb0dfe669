# Pure timing: protocol -> phase and amplitude at elapsed time t (ms since start).
# Integer-only and allocation-free in eval(): the control tick calls it.
#
# Timeline (elapsed ms):  [0, up) RAMP_UP | [up, down_start) ON/OFF duty cycle |
#                         [down_start, session) RAMP_DOWN | session.. DONE
# Ramps are staircases of n = ceil(target / 0.1 mA) equal-time steps, so no step
# exceeds 0.1 mA; the ramp up starts at 0 uA and reaches the target exactly at `up`,
# the ramp down leaves the target at `down_start` and reaches 0 uA one step before the end.
# The gate closes one pulse length (rounded up to 1 ms) plus END_GUARD_MS (50 ms) before the
# end, so that the last pulse finishes inside the session even if the tick runs late.
# Trains after the ramp start at the set amplitude: gating never changes the amplitude.
#
# Two answers per eval(): the nominal one (phase, amp_ua, gate: the active arm, which the
# session states and everything the operator sees follow) and the delivered one (out_ua,
# out_gate). They differ only for the blinded sham arm (docs/BLINDING.md): the same ramp
# up, then straight back down over ramp_down_ms of train time in the same staircase (the
# peak held for one step), then 0 uA and the gate closed. Delivered never exceeds nominal.
from tvns import limits as L
from tvns.safety import END_GUARD_MS
from tvns.session import DONE, OFF, ON, RAMP_DOWN, RAMP_UP


def _ceil_div(a, b):
    return -(-a // b)


class Schedule:
    def __init__(self, p, blind_sham=False):
        """blind_sham: the blinded sham arm (p.blinded with the investigator's allocation
        "sham"). The visible `sham: true` protocol is a different thing: 0 uA throughout."""
        self.output = not p.sham  # sham: the same states and timing, no pulses, 0 uA
        self.target_ua = 0 if p.sham else p.amplitude_ua
        self.up_ms = p.ramp_up_ms
        self.down_ms = p.ramp_down_ms
        self.session_ms = p.session_ms
        self.down_start_ms = p.session_ms - p.ramp_down_ms
        # The gate closes this early so that the last pulse also ends within the session.
        self.gate_end_ms = gate_end_ms(p)
        self.on_ms = p.on_ms
        self.off_ms = p.off_ms
        self.cycle_ms = p.on_ms + p.off_ms
        self.n_steps = max(1, _ceil_div(p.amplitude_ua, L.RAMP_STEP_MAX_UA))
        # Results of the last eval(): read by the tick.
        self.phase = RAMP_UP
        self.amp_ua = 0
        self.gate = False
        self.next_ms = 0  # elapsed ms at which eval() can next give a different answer
        self.out_ua = 0  # delivered amplitude and gate (== amp_ua, gate unless blind sham)
        self.out_gate = False
        self.blind_sham = blind_sham

    def eval(self, t_ms):
        self._nominal(t_ms)
        self.out_ua = self.amp_ua
        self.out_gate = self.gate
        if not self.blind_sham or t_ms < self.up_ms:
            return  # the active arm; or the sham's ramp up, which is the active one
        # The sham's ramp down runs on train time g (ms with the duty cycle ON since the
        # ramp up ended): it pauses through OFF phases, as the pulses do, so consecutive
        # pulses never differ by more than one step. Output ends when g reaches down_ms.
        on = self.on_ms
        c = self.cycle_ms
        u = t_ms - self.up_ms
        p = u % c
        g = (u // c) * on + (p if p < on else on)
        if g >= self.down_ms:
            self.out_ua = 0
            self.out_gate = False
            return
        n = self.n_steps
        k = g * n // self.down_ms  # step k of n from the peak, each down_ms / n of train time
        amp = self.target_ua * (n - k) // n
        if amp < self.amp_ua:
            self.out_ua = amp
        g_next = _ceil_div((k + 1) * self.down_ms, n)  # train time of the next step
        f = g_next // on
        r = g_next - f * on
        nxt = self.up_ms + (f * c + r if r or f == 0 else (f - 1) * c + on)
        if nxt < self.next_ms:
            self.next_ms = nxt

    def _nominal(self, t_ms):
        n = self.n_steps
        if t_ms >= self.session_ms:
            self.phase = DONE
            self.amp_ua = 0
            self.gate = False
            self.next_ms = self.session_ms
        elif t_ms >= self.down_start_ms:
            u = t_ms - self.down_start_ms
            k = u * n // self.down_ms + 1
            if k >= n:
                k = n
                self.next_ms = self.session_ms
            else:
                self.next_ms = self.down_start_ms + _ceil_div(k * self.down_ms, n)
            self.phase = RAMP_DOWN
            self.amp_ua = self.target_ua * (n - k) // n
            if t_ms >= self.gate_end_ms:
                self.gate = False
                self.next_ms = self.session_ms
            else:
                self.gate = self.output
                if self.next_ms > self.gate_end_ms:
                    self.next_ms = self.gate_end_ms
        elif t_ms < self.up_ms:
            k = t_ms * n // self.up_ms
            self.phase = RAMP_UP
            self.amp_ua = self.target_ua * k // n
            self.gate = self.output
            self.next_ms = _ceil_div((k + 1) * self.up_ms, n)
        else:
            if self.off_ms == 0:
                self.phase = ON
                nxt = self.down_start_ms
            else:
                p = (t_ms - self.up_ms) % self.cycle_ms
                if p < self.on_ms:
                    self.phase = ON
                    nxt = t_ms + self.on_ms - p
                else:
                    self.phase = OFF
                    nxt = t_ms + self.cycle_ms - p
            self.next_ms = nxt if nxt < self.down_start_ms else self.down_start_ms
            self.amp_ua = self.target_ua
            self.gate = self.output and self.phase == ON


def gate_end_ms(p):
    """The gate closes here: one whole pulse plus the late-tick guard before the end, so the
    last pulse ends inside the session even when the tick runs up to END_GUARD_MS late."""
    return p.session_ms - _ceil_div(2 * p.width_us + p.gap_us, 1000) - END_GUARD_MS


def gate_windows_ms(p):
    """The [start, end) ms windows with the gate on, adjacent windows merged (host/load time)."""
    down_start = p.session_ms - p.ramp_down_ms
    raw = [(0, p.ramp_up_ms)]
    if p.off_ms == 0:
        raw.append((p.ramp_up_ms, down_start))
    else:
        c = p.ramp_up_ms
        while c < down_start:
            raw.append((c, min(c + p.on_ms, down_start)))
            c += p.on_ms + p.off_ms
    raw.append((down_start, gate_end_ms(p)))
    out = []
    for a, b in raw:
        if b <= a:
            continue
        if out and out[-1][1] == a:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def pulse_count(p):
    """Pulses the engine delivers: a pulse starts at gate-on, then every period while the
    gate stays on; after the gate closes, the next pulse waits for the period to end."""
    period = p.period_us
    next_free_us = 0
    n = 0
    for a, b in gate_windows_ms(p):
        first = max(a * 1000, next_free_us)
        end = b * 1000
        if end > first:
            c = _ceil_div(end - first, period)
            n += c
            next_free_us = first + c * period
    return n


def output_ms(p):
    return sum(b - a for a, b in gate_windows_ms(p))
