"""The fast edge (tvns/tickedge.py) against the full path, for test_tickedge.py: runs under
CPython and both MicroPython runtimes alike. Each case is a protocol (maybe the blinded sham's
arm) and a script of events from the session's start: ticks (each with its time step and
its readings: nominal, or past a monitor's threshold), stops, host messages, and changes to
a hot word (the same on both sides: states no session reaches too). Two schedulers run it on
two recording boards: A ticks as a board that asks for the fast edge does (tickfast.callback:
run, then edge on "due", under heap_lock on MicroPython), B through the full path alone
(tickfast.run answering "look" at once, after its poll). After every event both must hold
the same hot words, schedule words, session state, ring (its words and kinds), fault latch,
exception count, stop reason and the same commands to the DAC, the engine, the marker in the
same order (each board records them in one array). Prints one JSON line per case:
["ok" or what differed, the edge's answers 1 and 0, the edge's ticks that moved the DAC,
the gate, the state, ended a stop, and how many ended in a fault].
Usage: MICROPYPATH=firmware micropython host_tests/mp_tickedge.py FILE"""

import json
import sys
from array import array

from tvns import scheduler as SC
from tvns import session as S
from tvns import tickedge as TE
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
GATE = TF.LAYOUT[14]
AMP = TF.LAYOUT[8]
# the commands' codes in the record (kind * 2**20 + value)
GATE_CMD, UA_CMD, MARK_CMD, APPLY_CMD, FINISH_CMD = 1, 2, 3, 4, 5
_REC = 64


class Clock:
    def __init__(self):
        self.ms = 0

    def ticks_ms(self):
        return self.ms

    def ticks_add(self, t, d):
        return (t + d) & _MASK

    def ticks_diff(self, a, b):
        return ((a - b + _HALF) & _MASK) - _HALF


class Refused(Exception):
    pass


class Parts:
    """Engine, DAC, marker, kill path and the tick I/O of a board, recording every command in
    order in one array (allocation-free: A's tick runs under heap_lock)."""

    def __init__(self, edge, dac_ceiling, fed):
        self.fast_edge = edge
        self.rec = array("i", bytes(4 * _REC))  # [0]: count, then the commands
        self.io = IO.new_io()
        self.sample = array("i", bytes(4 * 6))  # now, kill, estop, ua, comp, cause
        self.dac_ceiling = dac_ceiling
        self.fed = fed
        self.refused = Refused()  # raised as is: no allocation in the tick
        self.poll = self._poll
        self.finish = self._finish

    def log(self, kind, value):
        r = self.rec
        n = r[0]
        if n < _REC - 1:
            r[n + 1] = kind * 0x100000 + value
            r[0] = n + 1

    def _poll(self, io):
        sm = self.sample
        io[IO.IO_NOW] = sm[0]
        io[IO.IO_KILL] = sm[1]
        io[IO.IO_ESTOP] = sm[2]
        if io[IO.IO_SENSE]:
            io[IO.IO_UA] = sm[3]
            io[IO.IO_COMP] = sm[4]

    def _finish(self, io):
        self.log(FINISH_CMD, 0)
        if io[IO.IO_PENDING] >= 0:
            io[IO.IO_PENDING] = -1  # (a board's finish applies what is pending)
        return self.fed

    # engine
    def load(self, w, g, p):
        pass

    def gate(self, on):
        self.log(GATE_CMD, 1 if on else 0)

    def feed(self):
        return self.fed

    # dac
    def set_ua(self, ua):
        if ua < 0 or ua > self.dac_ceiling:
            raise self.refused
        self.log(UA_CMD, ua)
        self.io[IO.IO_PENDING] = 0  # pending until the board's finish or apply

    def apply(self):
        self.log(APPLY_CMD, 0)
        self.io[IO.IO_PENDING] = -1

    # kill path
    def tripped(self):
        return self.sample[5]


class Marker:
    def __init__(self, parts):
        self._parts = parts

    def value(self, v):
        self._parts.log(MARK_CMD, v)


class Sense:
    step_ua = 3


class Ticker:
    def stop(self):
        pass


class Board:
    def __init__(self, edge, case):
        self.ticker = Ticker()
        self.clock = Clock()
        p = Parts(edge, case["dac_ceiling"], case["fed"])
        self.parts = p
        self.engine = p
        self.dac = p
        self.kill = p
        self.tick_io = p
        self.marker = Marker(p) if case["marker"] else None
        self.sense = Sense()
        self.ceiling_ua = case["ceiling"]

    def disable_irq(self):
        return 0

    def enable_irq(self, state):
        pass

    def safe_off(self):
        self.parts.log(GATE_CMD, 9)


class P:
    """A protocol as the scheduler reads it (test_tick_rules.P), from a case."""

    def __init__(self, c):
        self.name = "t"
        self.amplitude_ua = c["amp"]
        self.width_us = c["width"]
        self.gap_us = 20
        self.period_us = c["period"]
        self.on_ms = c["on"]
        self.off_ms = c["off"]
        self.ramp_up_ms = c["up"]
        self.ramp_down_ms = c["down"]
        self.session_ms = c["session"]
        self.sham = c["sham"]
        self.keepalive_ms = c["ka"]
        self.trigger = None


def _build(case, edge):
    board = Board(edge, case)
    s = S.Session()
    sch = SC.Scheduler(board, s)
    first = case.get("reload")
    if first is not None:  # a protocol loaded before this one (its schedule replaced)
        sch.load(P(first), first["blind"])
    sch.load(P(case), case["blind"])
    s.fire(S.EV_ARM, 0)
    ring = case.get("ring")
    if ring is not None:  # head, tail, lost: the ring near full (never drained here)
        rw = s.ring_words()[0]
        rw[0], rw[1], rw[2] = ring
    board.clock.ms = case["t0"]
    board.parts.sample[0] = case["t0"]
    board.parts.io[IO.IO_PENDING] = case["pending"]
    return board, s, sch


def _state(board, s, sch):
    ring_w, ring_k, _put = s.ring_words()
    return [
        list(sch._hot),
        list(sch.sched.words),
        list(board.parts.rec),
        list(board.parts.io),
        list(ring_w),
        list(ring_k),
        sch.fault_code,
        sch.fault_ms,
        sch.stop_reason,
        sch.stop_ms,
        sch.exceptions,
    ]


_ANSWER = array("i", bytes(4 * 2))  # the edge's answers: 1s, 0s
_EDGE = TE.edge
_RUN = TF.run


def _edge(hot, io, ctx):
    r = _EDGE(hot, io, ctx)
    _ANSWER[0 if r == 1 else 1] += 1
    return r


def _look(hot, io, poll, finish):
    """The fast path answering "look" at once, after its poll: the full path alone."""
    io[IO.IO_SENSE] = hot[GATE]
    poll(io)
    return 0


def _sample(board, now, ev, amp):
    """The readings of one tick: ev[2] says which (0 nominal; else past a threshold)."""
    sm = board.parts.sample
    mode = ev[2]
    sm[0] = now
    sm[1] = -1 if mode == 4 else 0  # the kill machine fired
    sm[2] = 1 if mode == 5 else 0  # e-stop
    ua = amp + ev[3]  # the sense: the amplitude and its noise
    if mode == 1:
        ua = amp * 2 + 500  # overcurrent
    elif mode == 2:
        ua = 0  # lead-off (or nothing: the gate closed, a low amplitude)
    sm[3] = ua if ua > 0 else 0
    sm[4] = 1 if mode == 3 else 0  # at compliance
    sm[5] = ev[4]  # the kill path's cause


def judge(case):
    """[verdict, edge 1s, edge 0s, edge ticks with a DAC change, a gate change, a state
    change, a stop's end, runs that ended in a fault]."""
    TE.edge = _edge  # (what A's Scheduler takes when it is built: the edge, counted)
    try:
        ba, sa, a = _build(case, True)
    finally:
        TE.edge = _EDGE
    bb, sb, b = _build(case, False)
    _ANSWER[0] = _ANSWER[1] = 0
    counts = [0, 0, 0, 0]
    try:
        a.start()
        b.start()
    except Exception as e:  # noqa: BLE001 - both must refuse alike
        return ["start raised %r" % (e,), 0, 0] + counts + [0]
    now = case["t0"]
    for i, ev in enumerate(case["events"]):
        if _state(ba, sa, a) != _state(bb, sb, b):
            return ["differ before event %d" % i, _ANSWER[0], _ANSWER[1]] + counts + [0]
        kind = ev[0]
        if kind == 0:  # a tick, ev[1] ms later
            now = (now + ev[1]) & _MASK
            for board in (ba, bb):
                board.clock.ms = now
            amp = a._hot[AMP]
            _sample(ba, now, ev, amp)
            _sample(bb, now, ev, amp)
            before = (a._hot[AMP], a._hot[GATE], sa.state)
            n1 = _ANSWER[0]
            try:
                heap_lock()
                try:
                    a.tick_cb(None)
                finally:
                    heap_unlock()
                TF.run = _look
                b.tick_cb(None)
            finally:
                TF.run = _RUN
            if _ANSWER[0] > n1:
                counts[0] += a._hot[AMP] != before[0]
                counts[1] += a._hot[GATE] != before[1]
                counts[2] += sa.state != before[2]
                counts[3] += sa.state == S.STOPPED and before[2] != S.STOPPED
        elif kind == 1:  # a stop
            a.stop()
            b.stop()
        elif kind == 2:  # a host message
            a.host_ms = now
            b.host_ms = now
        elif kind == 3:  # a hot word changed
            a._hot[ev[1]] = ev[2]
            b._hot[ev[1]] = ev[2]
        else:  # the IO_PENDING word
            ba.parts.io[IO.IO_PENDING] = ev[1]
            bb.parts.io[IO.IO_PENDING] = ev[1]
        sta = _state(ba, sa, a)
        stb = _state(bb, sb, b)
        if sta != stb:
            return [
                "event %d %r: edge %r != full %r" % (i, ev, sta, stb),
                _ANSWER[0],
                _ANSWER[1],
            ] + counts + [0]  # fmt: skip
        if ba.parts.rec[0] > _REC // 2:
            ba.parts.rec[0] = 0
            bb.parts.rec[0] = 0
    return ["ok", _ANSWER[0], _ANSWER[1]] + counts + [1 if sa.state == S.FAULT else 0]


def main(path):
    with open(path) as f:
        for line in f:
            print(json.dumps(judge(json.loads(line))))


if __name__ == "__main__":
    main(sys.argv[1])
