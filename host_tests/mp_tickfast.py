"""The running tick's fast path (tvns/tickfast.py) against the full path, for
test_tickfast.py: runs under CPython and both MicroPython runtimes alike. Each case is a
scheduler state and one sample of the inputs; two schedulers are put in that state: A ticks
as the firmware does (the fast path first), B with the fast path answering "look" (the full
path alone, on the same sample). Prints one JSON line per case: [answer, verdict], answer
the fast path's (1 clean, 2 the schedule due, 0 look), verdict "ok" or what differed. A fast
"clean" is only ok when the full path did nothing from the same state either: no fault, no
state change, the same session time, feed and due time, the hold window rolled the same
(and A's tick allocated nothing, under heap_lock on MicroPython). (The fast edge, which
takes the 2s on a board that asks for it, is test_tickedge.py's: these boards do not.)
Usage: MICROPYPATH=firmware micropython host_tests/mp_tickfast.py FILE"""

import json
import sys

from tvns import safety as F
from tvns import scheduler as SC
from tvns import session as S
from tvns import tickfast as TF
from tvns import tickio as IO

try:
    from micropython import heap_lock, heap_unlock
except ImportError:  # CPython

    def heap_lock():
        pass

    def heap_unlock():
        pass


_MASK = 0x3FFFFFFF
_HALF = 0x20000000
# tvns/tickfast.py's words (its LAYOUT says where each is)
ELAPSED, GATE, FEED, DUE, BEATS, WORDS = (TF.LAYOUT[i] for i in (2, 14, 17, 18, 20, 21))
# the sense hold's window: the fast path rolls it over as the full path's monitor does
HELD = tuple(TF.LAYOUT[i] for i in (5, 6, 7))


class Clock:
    def __init__(self):
        self.ms = 0

    def ticks_ms(self):
        return self.ms

    def ticks_add(self, t, d):
        return (t + d) & _MASK

    def ticks_diff(self, a, b):
        return ((a - b + _HALF) & _MASK) - _HALF


class Parts:
    """Engine, DAC, kill path and the tick I/O of a board, counting what they are asked in
    one array (allocation-free: A's tick runs under heap_lock)."""

    def __init__(self):
        from array import array

        # gate calls, last gate, set_ua calls, last ua, finishes, tripped calls, safe_off
        self.rec = array("i", bytes(4 * 7))
        self.io = IO.new_io()
        self.sample = array("i", bytes(4 * 7))  # now, kill, estop, ua, comp, fed, cause
        self.poll = self._poll
        self.finish = self._finish

    def _poll(self, io):
        sm = self.sample
        io[IO.IO_NOW] = sm[0]
        io[IO.IO_KILL] = sm[1]
        io[IO.IO_ESTOP] = sm[2]
        if io[IO.IO_SENSE]:
            io[IO.IO_UA] = sm[3]
            io[IO.IO_COMP] = sm[4]

    def _finish(self, io):
        self.rec[4] += 1
        return self.sample[5]

    # engine
    def load(self, w, g, p):
        pass

    def gate(self, on):
        self.rec[0] += 1
        self.rec[1] = 1 if on else 0

    def feed(self):
        return self.sample[5]

    # dac
    def set_ua(self, ua):
        self.rec[2] += 1
        self.rec[3] = ua

    def apply(self):
        pass

    # kill path
    def tripped(self):
        self.rec[5] += 1
        return self.sample[6]


class Sense:
    step_ua = 3


class Board:
    def __init__(self):
        self.clock = Clock()
        p = Parts()
        self.parts = p
        self.engine = p
        self.dac = p
        self.kill = p
        self.tick_io = p
        self.sense = Sense()
        self.ceiling_ua = 8000

    def disable_irq(self):
        return 0

    def enable_irq(self, state):
        pass

    def safe_off(self):
        self.parts.rec[6] += 1


class P:
    """A protocol as the scheduler reads it (test_tick_rules.P)."""

    def __init__(self):
        self.name = "t"
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
        self.trigger = None


# The hot words a case sets (tvns/tickfast.py), then the scheduler's other state.
HOT = ("t0", "work", "elapsed", "cap", "held_win", "held_since", "held_hi", "held_prev")
HOT += ("amp", "prev_amp", "ceil", "margin", "ka", "host", "gate", "gate_ms", "period")
HOT += ("feed", "due", "trig")


def _build(case):
    board = Board()
    s = S.Session()
    sch = SC.Scheduler(board, s)
    sch.load(P())
    s.state = case["state"]
    for i, name in enumerate(HOT):
        sch._hot[i] = case[name]
    sch.nom_ua = case["nom"]
    sch.nom_gate = case["nom_gate"] == 1
    sch.stop_requested = case["stop_req"] == 1
    sch.stopping = case["stopping"] == 1
    sch.last_up_ms = case["last_up"]
    sm = board.parts.sample
    for i, name in enumerate(("now", "kill", "estop", "ua", "comp", "fed", "cause")):
        sm[i] = case[name]
    board.clock.ms = case["now"]
    return board, s, sch


def _state(board, s, sch):
    return [
        list(sch._hot),
        list(board.parts.rec),
        s.state,
        sch.fault_code,
        sch.fault_ms,
        sch.stop_requested,
        sch.stopping,
        sch.stop_reason,
        sch.stop_ms,
        sch.nom_ua,
        sch.nom_gate,
        sch.last_up_ms,
        sch.up_from_ua,
        sch.exceptions,
        sch.beats,
    ]


_ANSWER = [0]


_RUN = TF.run


def _recorded(hot, io, poll, finish):
    r = _RUN(hot, io, poll, finish)
    _ANSWER[0] = r
    return r


def _look(hot, io, poll, finish):
    """The fast path answering "look" at once, after its poll: the full path alone."""
    io[IO.IO_SENSE] = hot[GATE]
    poll(io)
    return 0


def judge(case):
    """[the fast path's answer, "ok" or what the full path did otherwise]."""
    board_a, s_a, a = _build(case)
    board_b, s_b, b = _build(case)
    before = _state(board_b, s_b, b)
    run = TF.run
    try:
        TF.run = _recorded  # (the timer's callback, tickfast.callback, calls run by name)
        _ANSWER[0] = -1
        heap_lock()
        try:
            a.tick_cb(None)  # what the board's timer calls
        finally:
            heap_unlock()
        TF.run = _look
        b.tick_cb(None)
    finally:
        TF.run = run
    r = _ANSWER[0]
    if r == -1:
        return [r, "the fast path raised (or allocated)"]
    if r != 1:  # the full path's own (a generated state may be one no session reaches)
        return [r, "ok"]
    after_a = _state(board_a, s_a, a)
    after_b = _state(board_b, s_b, b)
    if after_a != after_b:
        return [r, "fast %r != full %r" % (after_a, after_b)]
    # the full path did nothing but the session time, the feed, the due time (and its beat)
    changed = [i for i in range(WORDS) if after_b[0][i] != before[0][i]]
    for i in changed:
        if i not in (ELAPSED, FEED, DUE, BEATS) + HELD:
            return [r, "the full path changed hot word %d" % i]
    if after_b[1] != before[1][:4] + [before[1][4] + 1] + before[1][5:]:
        return [r, "the full path asked the board %r" % after_b[1]]
    if after_b[2:15] != before[2:14] + [before[14] + 1] or b.fault_code != F.NONE:
        return [r, "the full path changed the state %r" % after_b[2:15]]
    return [r, "ok"]


def main(path):
    with open(path) as f:
        for line in f:
            print(json.dumps(judge(json.loads(line))))


if __name__ == "__main__":
    main(sys.argv[1])
