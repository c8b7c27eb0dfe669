# Pure timing: protocol -> phase and amplitude at elapsed time t (ms since start).
# Integer-only and allocation-free in eval(): the control tick calls it.
#
# Timeline (elapsed ms):  [0, up) RAMP_UP | [up, down_start) ON/OFF duty cycle |
#                         [down_start, session) RAMP_DOWN | session.. DONE
# Ramps are staircases of n = ceil(target / 0.1 mA) equal-time steps, so no step
# exceeds 0.1 mA; the ramp up starts at 0 uA and reaches the target exactly at `up`,
# the ramp down leaves the target at `down_start` and reaches 0 uA one step before the end.
# A pulse at 0 uA is not a pulse: the gate stays closed while the amplitude is 0 (the first
# step of the ramp up, the last of the ramp down). A ramp down that begins in an OFF phase
# has nothing to ramp down: the session ends without new output (docs/PROTOCOL-FORMAT.md).
# The gate closes one pulse length (rounded up to 1 ms) plus END_GUARD_MS (50 ms) before the
# end, so that the last pulse finishes inside the session even if the tick runs late.
# Trains after the ramp start at the set amplitude: gating never changes the amplitude.
#
# Two answers per eval(): the nominal one (phase, amp_ua, gate: the active arm, which the
# session states and everything the operator sees follow) and the delivered one (out_ua,
# out_gate). They differ only for the blinded sham arm (docs/BLINDING.md): the same ramp
# up, then straight back down over ramp_down_ms of train time in the same staircase (the
# peak held for one step), then 0 uA and the gate closed. Delivered never exceeds nominal.
import micropython

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
        self.n_steps = steps(p)
        # A ramp down that begins in an OFF phase delivers nothing (see above).
        self.down_live = down_live(p)
        # Results of the last eval(): read by the tick.
        self.phase = RAMP_UP
        self.amp_ua = 0
        self.gate = False
        self.next_ms = 0  # elapsed ms at which eval() can next give a different answer
        self.out_ua = 0  # delivered amplitude and gate (== amp_ua, gate unless blind sham)
        self.out_gate = False
        self.blind_sham = blind_sham

    @micropython.native  # machine code (mpy-cross -march): the tick calls it
    def eval(self, t_ms):
        # The nominal answer (the active arm), inline: a call costs ~10 us on the rp2 port.
        n = self.n_steps
        if t_ms >= self.session_ms:
            self.phase = DONE
            self.amp_ua = 0
            self.gate = False
            self.next_ms = self.session_ms
        elif t_ms >= self.down_start_ms:
            self.phase = RAMP_DOWN
            u = t_ms - self.down_start_ms
            k = u * n // self.down_ms + 1
            if k >= n or not self.down_live:
                k = n  # 0 uA: the gate's branch below wakes at the session's end
            else:
                self.next_ms = self.down_start_ms - (-(k * self.down_ms) // n)  # + ceil
            self.amp_ua = self.target_ua * (n - k) // n
            if t_ms >= self.gate_end_ms or self.amp_ua == 0:
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
            self.gate = self.output and k > 0  # step 0 is 0 uA: no pulses
            self.next_ms = -(-((k + 1) * self.up_ms) // n)  # ceil, inline
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
        # The delivered answer: the active arm's, unless the blinded sham's ramp down.
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
            self.out_ua = amp  # >= target // n >= 1 uA (k < n): a pulse, the gate as it is
        g_next = _ceil_div((k + 1) * self.down_ms, n)  # train time of the next step
        f = g_next // on
        r = g_next - f * on
        nxt = self.up_ms + (f * c + r if r or f == 0 else (f - 1) * c + on)
        if nxt < self.next_ms:
            self.next_ms = nxt


def steps(p):
    """Equal-time steps of a ramp: ceil(amplitude / 0.1 mA), at least 1."""
    n = _ceil_div(p.amplitude_ua, L.RAMP_STEP_MAX_UA)
    return n if n > 1 else 1


def down_live(p):
    """Does the ramp down deliver pulses? Only when it begins in an ON phase (or the duty
    cycle is continuous, or there is none): one that begins in OFF ends the session quietly."""
    if p.off_ms == 0:
        return True
    return (p.session_ms - p.ramp_down_ms - p.ramp_up_ms) % (p.on_ms + p.off_ms) < p.on_ms


def gate_end_ms(p):
    """The gate closes here: one whole pulse plus the late-tick guard before the end, so the
    last pulse ends inside the session even when the tick runs up to END_GUARD_MS late."""
    return p.session_ms - _ceil_div(2 * p.width_us + p.gap_us, 1000) - END_GUARD_MS


class _Plan:
    """The gate-on windows of a protocol as a handful of numbers (O(1) memory, whatever the
    number of trains). Window j < J is train j: window 0 starts at the ramp up's first
    non-zero step (the ramp up runs straight into the first train); the last train runs on
    through a live ramp down when it reaches it. A live ramp down that starts a new ON phase
    after the last train's OFF is a window of its own (j = J). No duty cycle (J = 0): one
    window through both ramps."""

    def __init__(self, p):
        n = steps(p)
        up = p.ramp_up_ms
        ds = p.session_ms - p.ramp_down_ms
        self.start_ms = _ceil_div(up, n)  # the ramp up's first non-zero step
        self.up_ms = up
        self.down_start_ms = ds
        self.on_ms = p.on_ms
        self.cycle_ms = p.on_ms + p.off_ms
        if p.off_ms == 0:
            self.trains = 0  # no duty cycle: window 0 runs through both ramps
        else:
            self.trains = _ceil_div(ds - up, self.cycle_ms)
        self.live = down_live(p)
        # The ramp down's pulses: while its step is above 0 uA and before the gate's end
        # (none when it is not live: the last train then ends at its start).
        end = ds
        if self.live:
            end = ds + _ceil_div((n - 1) * p.ramp_down_ms, n)
            ge = gate_end_ms(p)
            end = end if end < ge else ge
        self.down_end_ms = end
        last_end = up + (self.trains - 1) * self.cycle_ms + self.on_ms
        self.count = self.trains if self.trains else 1
        if self.trains and self.live and last_end < ds:
            self.count += 1  # the ramp down is a window of its own

    def window(self, j):
        """[start, end) ms of window j, 0 <= j < count (end <= start: empty)."""
        if j >= self.trains:  # the ramp down on its own (or, with no trains, both ramps)
            a = self.start_ms if j == 0 else self.down_start_ms
            return a, self.down_end_ms
        s = self.up_ms + j * self.cycle_ms
        b = s + self.on_ms
        if b >= self.down_start_ms:
            b = self.down_end_ms  # (down_start_ms when the ramp down is not live)
        return (self.start_ms if j == 0 else s), b


def gate_windows_ms(p):
    """The [start, end) ms windows with the gate on, adjacent ones merged, in order. A
    generator (host tools and tests): nothing is built, whatever the number of trains."""
    if p.sham:
        return
    plan = _Plan(p)
    for j in range(plan.count):
        a, b = plan.window(j)
        if b > a:
            yield a, b


def _window(a_ms, b_ms, period_us, free_us):
    """Pulses in one gate window: the first at gate-on or, if the engine's period has not
    ended yet, when it ends; then one per period while the gate is on. -> (pulses, free)."""
    first = a_ms * 1000
    if first < free_us:
        first = free_us
    end = b_ms * 1000
    if end <= first:
        return 0, free_us
    c = _ceil_div(end - first, period_us)
    return c, first + c * period_us


def _whole_trains(count, d_us, on_us, period_us, cycle_us):
    """Pulses in `count` whole trains, the first starting its pulses d_us after it opens.
    A train's offset follows from the one before (the engine waits out its period after the
    gate closes), so the offsets run in a cycle: walk it once, then jump over the repeats.
    -> (pulses, offset of the next train)."""
    total = 0
    j = 0
    mark_j, mark_d, mark_total = 0, d_us, 0
    while j < count:
        if j > mark_j and d_us == mark_d:
            # (after a jump fewer than `span` trains are left: it never comes back here)
            span = j - mark_j
            reps = (count - j) // span
            j += reps * span
            total += reps * (total - mark_total)
            if j >= count:
                break
        elif d_us == 0 and mark_d != 0:
            mark_j, mark_d, mark_total = j, 0, total  # from 0 the offsets always cycle
        m = _ceil_div(on_us - d_us, period_us) if on_us > d_us else 0
        total += m
        d_us += m * period_us - cycle_us
        if d_us < 0:
            d_us = 0
        j += 1
    return total, d_us


def pulse_count(p, plan=None):
    """Pulses the engine delivers over the session (closed form, O(1) memory): a pulse
    starts at gate-on, then every period while the gate stays on; after the gate closes, the
    next pulse waits for the period to end. plan: _Plan(p) when the caller has it."""
    if p.sham:
        return 0
    if plan is None:
        plan = _Plan(p)
    period = p.period_us
    n, free = _window(*plan.window(0), period, 0)
    j = 1
    if plan.trains > 2:  # whole trains 1 .. J-2, then the last from its offset
        a1 = (plan.up_ms + plan.cycle_ms) * 1000
        d = free - a1 if free > a1 else 0
        j = plan.trains - 1
        m, d = _whole_trains(j - 1, d, plan.on_ms * 1000, period, plan.cycle_ms * 1000)
        n += m
        free = (plan.up_ms + j * plan.cycle_ms) * 1000 + d
    while j < plan.count:
        c, free = _window(*plan.window(j), period, free)
        n += c
        j += 1
    return n


def output_ms(p, plan=None):
    """Time with the gate on over the session, in ms (closed form). plan: as pulse_count's."""
    if p.sham:
        return 0
    if plan is None:
        plan = _Plan(p)
    total = 0
    j = 0
    while j < plan.count:
        if j == 1 and plan.trains > 2:
            total += (plan.trains - 2) * plan.on_ms  # whole trains 1 .. J-2
            j = plan.trains - 1
        a, b = plan.window(j)
        total += b - a if b > a else 0
        j += 1
    return total
