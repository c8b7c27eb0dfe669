"""The chip's timer callback, board/rp2_fast.callback(hot, io, look), against
tvns/tickfast.callback(hot, io, (rp2_regs.poll, rp2_regs.finish, look, exception)) on a
register file in RAM (as test_rp2_regs.py), for test_tickfast.py: the 32-bit board-numerics
MicroPython only (the addresses fit the arrays' 32-bit words there). Each case is a hot state
(the session's state word included), the board's words and the registers' values; both
callbacks run from copies of the same arrays and registers, the chip's under heap_lock.
Prints one JSON line per case: [answer, "ok" or what differed]: the answer is 0 when the
callback handed the tick to look (with the timer), 1 when it did not; look's calls, both
arrays and every register after the call must be the same, and no exception latched.
Usage: MICROPYPATH=firmware micropython host_tests/mp_tickfast_rp2.py FILE"""

import json
import sys
from array import array

import micropython
import uctypes
from tvns import tickfast as TF
from tvns.board import rp2_fast, rp2_regs
from tvns.board import rp2_io as R

GIN, FLEVEL, CS, RESULT, TXF, CC, TMH, TML = 0, 1, 2, 3, 4, 5, 6, 7
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
    for name in (
        "KILL_WORD", "LOADED", "PULLED", "N_O", "FEED_MS", "CODE", "CC_PENDING", "ESTOP_BIT",
        "ESTOP_ACT", "COMP_BIT", "COMP_ACT", "SYNC_BIT", "KILL_SHIFT", "TX_SHIFT", "AINSEL",
        "K_Q12", "SENSE_OFF", "CC_SHIFT", "FEED",
    ):  # fmt: skip
        io[getattr(R, name)] = case[name]
    io[R.IO_PENDING] = case["IO_PENDING"]
    return io


def _regs(case):
    for i, name in enumerate(("GIN", "FLEVEL", "CS", "RESULT", "TXF", "CC", "TMH", "TML")):
        regs[i] = case[name]


# look's calls with the timer / other arguments, exception's calls: A's, then B's
calls = array("i", bytes(4 * 6))
TIMER = object()  # what the board's Timer passes its callback


def _recorder(k):
    def look(t):
        calls[k + (0 if t is TIMER else 1)] += 1

    return look


def _latch_b():
    calls[5] += 1


def _answer(k):
    return 0 if calls[k] + calls[k + 1] else 1


def judge(case):
    hot_a = TF.new()
    hot_a.extend(array("i", bytes(4 * 9)))  # the step's words (the Scheduler's hot state)
    for i, v in enumerate(case["hot"]):
        hot_a[i] = v
    hot_a[27] = case.get("stop_req", 0)  # (stop_requested: keep-alive's skip)
    hot_b = array("i", hot_a)
    io_a = _io(case)
    io_b = array("i", io_a)
    for i in range(6):
        calls[i] = 0
    cb_a = rp2_fast.callback(hot_a, io_a, _recorder(0))  # (no fast edge: mp_tickedge_rp2.py's)
    parts = (rp2_regs.poll, rp2_regs.finish, _recorder(3), _latch_b, None)  # (no fast edge)
    cb_b = TF.callback(hot_b, io_b, parts)
    _regs(case)
    micropython.heap_lock()
    try:
        cb_a(TIMER)
    finally:
        micropython.heap_unlock()
    after_a = list(regs)
    _regs(case)
    cb_b(TIMER)
    after_b = list(regs)
    ra = _answer(0)
    rb = _answer(3)
    if calls[1] or calls[4] or calls[5] or ra + calls[0] != 1:
        return [ra, "look's calls, the latch's: %r" % list(calls)]
    if ra != rb:
        return [ra, "answers %d != %d" % (ra, rb)]
    if list(hot_a) != list(hot_b):
        return [ra, "hot %r != %r" % (list(hot_a), list(hot_b))]
    if list(io_a) != list(io_b):
        return [ra, "io %r != %r" % (list(io_a), list(io_b))]
    if after_a != after_b:
        return [ra, "registers %r != %r" % (after_a, after_b)]
    return [ra, "ok"]


def main(path):
    with open(path) as f:
        for line in f:
            print(json.dumps(judge(json.loads(line))))


if __name__ == "__main__":
    main(sys.argv[1])
