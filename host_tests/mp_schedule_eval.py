"""Schedule.eval (tvns/schedule.py: viper over the schedule's words) against the eval it
replaced (the native code over attributes, kept here word for word as OldSchedule), for
test_schedule_viper.py: runs under CPython and both MicroPython runtimes alike. Each case is
a protocol (the firmware's integer units), an arm (blind sham or not) and a list of times;
both schedules are built from it and evaluated at each time in order. Prints one JSON line
per case: "ok", or the first time whose answer differed with both answers. The new eval
runs under heap_lock on MicroPython (the tick calls it from a hard IRQ). A division by zero
(never in a valid protocol) is an answer too: both raise ZeroDivisionError.
Usage: MICROPYPATH=firmware micropython host_tests/mp_schedule_eval.py FILE"""

import json
import sys

import micropython
from tvns import schedule as SCH
from tvns.session import DONE, OFF, ON, RAMP_DOWN, RAMP_UP

try:
    from micropython import heap_lock, heap_unlock
except ImportError:  # CPython

    def heap_lock():
        pass

    def heap_unlock():
        pass


class OldSchedule:
    """tvns/schedule.py's Schedule before the viper eval (main 3f4e9bb), verbatim."""

    def __init__(self, p, blind_sham=False):
        self.output = not p.sham
        self.target_ua = 0 if p.sham else p.amplitude_ua
        self.up_ms = p.ramp_up_ms
        self.down_ms = p.ramp_down_ms
        self.session_ms = p.session_ms
        self.down_start_ms = p.session_ms - p.ramp_down_ms
        self.gate_end_ms = SCH.gate_end_ms(p)
        self.on_ms = p.on_ms
        self.off_ms = p.off_ms
        self.cycle_ms = p.on_ms + p.off_ms
        self.n_steps = SCH.steps(p)
        self.down_live = SCH.down_live(p)
        self.phase = RAMP_UP
        self.amp_ua = 0
        self.gate = False
        self.next_ms = 0
        self.out_ua = 0
        self.out_gate = False
        self.blind_sham = blind_sham

    @micropython.native
    def eval(self, t_ms):
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
                k = n
            else:
                self.next_ms = self.down_start_ms - (-(k * self.down_ms) // n)
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
            self.gate = self.output and k > 0
            self.next_ms = -(-((k + 1) * self.up_ms) // n)
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
        self.out_ua = self.amp_ua
        self.out_gate = self.gate
        if not self.blind_sham or t_ms < self.up_ms:
            return
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
        k = g * n // self.down_ms
        amp = self.target_ua * (n - k) // n
        if amp < self.amp_ua:
            self.out_ua = amp
        g_next = -(-((k + 1) * self.down_ms) // n)
        f = g_next // on
        r = g_next - f * on
        nxt = self.up_ms + (f * c + r if r or f == 0 else (f - 1) * c + on)
        if nxt < self.next_ms:
            self.next_ms = nxt


class P:
    def __init__(self, d):
        for k in d:
            setattr(self, k, d[k])


def _answer(sc, t, locked):
    try:
        if locked:
            heap_lock()
        try:
            sc.eval(t)
        finally:
            if locked:
                heap_unlock()
    except ZeroDivisionError:
        return "ZeroDivisionError"
    return [sc.phase, sc.amp_ua, sc.gate, sc.next_ms, sc.out_ua, sc.out_gate]


def judge(case):
    p = P(case["p"])
    blind = case["blind"]
    old = OldSchedule(p, blind)
    new = SCH.Schedule(p, blind)
    locked = not case.get("zero", False)  # (raising allocates the exception)
    for t in case["ts"]:
        a = _answer(old, t, False)
        b = _answer(new, t, locked)
        if a != b:
            return [t, a, b]
    return "ok"


def main(path):
    with open(path) as f:
        for line in f:
            print(json.dumps(judge(json.loads(line))))


if __name__ == "__main__":
    main(sys.argv[1])
