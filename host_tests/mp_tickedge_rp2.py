"""The chip's timer callback with its fast edge inline, board/rp2_fast.callback(hot, io, look,
ctx), against tvns/tickfast.callback(hot, io, (rp2_regs.poll, rp2_regs.finish, look, latch,
ctx)) with tvns/tickedge.edge and the chip's own DAC and gate (rp2_regs.dac_set_ua and
engine_gate, as tick_io makes them), the marker Pin's value() and PwmDac.apply as the
registers they write, on a register file in RAM (as mp_tickfast_rp2.py), for
test_tickedge.py: the 32-bit board-numerics MicroPython only. Each case is a protocol (its
schedule's words), a hot state, the board's words and the registers' values; both callbacks
run from copies of the same arrays, registers, schedule words and rings, the chip's under
heap_lock. Prints one JSON line per case: [answer, "ok" or what differed, the state changed,
the DAC's setpoint changed, the gate changed]: the answer 0 when the callback handed the tick
to look, 2 when the edge's latch ran, else 1; look's and the latch's calls, both arrays,
both rings, the schedule's words and every register after the call must be the same.
Usage: MICROPYPATH=firmware micropython host_tests/mp_tickedge_rp2.py FILE"""

import json
import sys
from array import array

import micropython
import uctypes
from tvns import schedule as SCH
from tvns import scheduler as SC
from tvns import session as S
from tvns import tickedge as TE
from tvns import tickfast as TF
from tvns.board import rp2_fast, rp2_regs
from tvns.board import rp2_io as R

GIN, FLEVEL, CS, RESULT, TXF, CC, TMH, TML, SET, CLR = range(10)
NAMES = ("GIN", "FLEVEL", "CS", "RESULT", "TXF", "CC", "TMH", "TML", "SET", "CLR")
regs = array("i", bytes(4 * 16))
base = uctypes.addressof(regs)


def _io(case):
    io = R.new()
    io[R.A_TIMER] = base + 4 * TMH
    io[R.A_GPIO_IN] = base + 4 * GIN
    io[R.A_FLEVEL] = base + 4 * FLEVEL
    io[R.A_ADC_CS] = base + 4 * CS
    io[R.A_TXF] = base + 4 * TXF
    io[R.A_CC] = base + 4 * CC
    io[R.A_GPIO_SET] = base + 4 * SET
    for name in (
        "KILL_WORD", "LOADED", "PULLED", "N_O", "FEED_MS", "CODE", "CC_PENDING", "ESTOP_BIT",
        "ESTOP_ACT", "COMP_BIT", "COMP_ACT", "SYNC_BIT", "KILL_SHIFT", "TX_SHIFT", "AINSEL",
        "K_Q12", "SENSE_OFF", "CC_SHIFT", "FEED", "DAC_FS", "DAC_OFF", "DAC_MAX", "TOP1",
        "DAC_CEIL", "DAC_UA", "GATE_ON", "HELD", "GATE_BIT", "MARKER_BIT",
    ):  # fmt: skip
        io[getattr(R, name)] = case[name]
    io[R.IO_PENDING] = case["IO_PENDING"]
    return io


def _regs(case):
    for i, name in enumerate(NAMES):
        regs[i] = case.get(name, 0)


class P:
    def __init__(self, c):
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


# look's calls with the timer / others, the latch's: A's, then B's
calls = array("i", bytes(4 * 6))
TIMER = object()


def _recorder(k):
    def look(t):
        calls[k + (0 if t is TIMER else 1)] += 1

    return look


def _latch(k):
    def latch():
        calls[k + 2] += 1

    return latch


@micropython.viper
def _apply(io):
    """PwmDac.apply on the chip (the look's tail when a session ended): a pending code's
    level (the port's duty_u16 of it: rp2_regs.set_ua's CC_PENDING) written while SYNC is
    low, then CODE; nothing while a pulse is in flight."""
    o = ptr32(io)  # noqa: F821 - the viper emitter's
    p = o[5]
    if p < 0 or ((ptr32(o[14])[0] >> o[19]) & 1) != 0:  # noqa: F821
        return
    o[5] = -1
    cc = ptr32(o[28])  # noqa: F821
    sh = o[29]
    cc[0] = (cc[0] & (~(0xFFFF << sh))) | (o[13] << sh)
    o[12] = p


@micropython.viper
def _pin(io, v: int):
    """The marker Pin's value(v) on the chip (gpio_put): SIO GPIO_OUT_SET or CLR."""
    o = ptr32(io)  # noqa: F821
    ptr32(o[40] + 4 - 4 * v)[0] = 1 << o[42]  # noqa: F821


class Dac:
    def __init__(self, io):
        self.io = io
        self.set_ua = rp2_regs.dac_set_ua  # (tick_io's: an instance attribute)

    def apply(self):
        _apply(self.io)


class Engine:
    def __init__(self):
        self.gate = rp2_regs.engine_gate


class Marker:
    def __init__(self, io):
        self.io = io

    def value(self, v):
        _pin(self.io, v)


def _side(case, k):
    hot = TF.new()
    hot.extend(array("i", bytes(4 * 9)))
    for i, v in enumerate(case["hot"]):
        hot[i] = v
    io = _io(case)
    s = S.Session()
    rw, rk, _put = s.ring_words()
    for i, v in enumerate(case["ring"]):
        rw[i] = v
    sched = SCH.Schedule(P(case), case["blind"])
    if case["zero"] >= 0:
        sched.words[case["zero"]] = 0  # a divisor no loaded protocol has
    ctx = SC.edge_context(s)
    ctx[SC.EDGE_WORDS] = sched.words
    marker = Marker(io) if case["MARKER_BIT"] >= 0 else None
    SC.edge_bind(ctx, SCH.eval_words, _latch(k), Dac(io), Engine(), marker, rp2_regs.finish)
    return hot, io, s, sched, ctx


def _after(hot, io, s, sched):
    rw, rk, _put = s.ring_words()
    return [list(hot), list(io), list(rw), list(rk), list(sched.words), list(regs)]


def judge(case):
    for i in range(6):
        calls[i] = 0
    hot_a, io_a, s_a, sch_a, ctx_a = _side(case, 0)
    hot_b, io_b, s_b, sch_b, ctx_b = _side(case, 3)
    if not case["has_words"]:
        ctx_a[SC.EDGE_WORDS] = ctx_b[SC.EDGE_WORDS] = None
    if case["addresses"]:
        rp2_fast.addresses(io_a, ctx_a)  # as RegIO's callback (else: no edge on the chip)
        for i in (R.A_RING_W, R.A_RING_K, R.A_TABLES):
            io_b[i] = io_a[i]  # (B's arrays are its own; only A's callback reads these)
    cb_a = rp2_fast.callback(hot_a, io_a, _recorder(0), ctx_a)
    parts = (rp2_regs.poll, rp2_regs.finish, _recorder(3), _latch(3), None)
    if case["addresses"]:
        parts = parts[:4] + (ctx_b, TE.edge)
    cb_b = TF.callback(hot_b, io_b, parts)
    state, amp, gate = hot_a[21], hot_a[8], hot_a[14]
    _regs(case)
    micropython.heap_lock()
    try:
        cb_a(TIMER)
    finally:
        micropython.heap_unlock()
    after_a = _after(hot_a, io_a, s_a, sch_a)
    _regs(case)
    rp2_regs._IO = io_b  # the chip's DAC and gate: this board's array
    cb_b(TIMER)
    after_b = _after(hot_b, io_b, s_b, sch_b)
    ra = 0 if calls[0] else (2 if calls[2] else 1)
    moved = [hot_a[21] != state, hot_a[8] != amp, hot_a[14] != gate]
    if calls[1] or calls[4] or calls[0] + calls[2] > 1:
        return [ra, "look's calls, the latch's: %r" % list(calls)] + moved
    if calls[0] != calls[3] or calls[2] != calls[5]:
        return [ra, "calls %r" % list(calls)] + moved
    for what, x, y in zip(("hot", "io", "ring", "kinds", "words", "registers"), after_a, after_b):
        if x != y:
            return [ra, "%s %r != %r" % (what, x, y)] + moved
    return [ra, "ok"] + moved


def main(path):
    with open(path) as f:
        for line in f:
            print(json.dumps(judge(json.loads(line))))


if __name__ == "__main__":
    main(sys.argv[1])
