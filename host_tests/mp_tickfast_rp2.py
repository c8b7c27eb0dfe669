"""board/rp2_fast.fast(hot, io) against tvns/tickfast.run(hot, io, rp2_regs.poll,
rp2_regs.finish) on a register file in RAM (as test_rp2_regs.py), for test_tickfast.py: the
32-bit board-numerics MicroPython only (the addresses fit the arrays' 32-bit words there).
Each case is a hot state, the board's words and the registers' values; both run from copies
of the same arrays and registers. Prints one JSON line per case: [answer, "ok" or what
differed] (the answer, both arrays and every register after the call must be the same).
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


def judge(case):
    hot_a = TF.new()
    for i, v in enumerate(case["hot"]):
        hot_a[i] = v
    hot_b = array("i", hot_a)
    io_a = _io(case)
    io_b = array("i", io_a)
    _regs(case)
    micropython.heap_lock()
    try:
        ra = rp2_fast.fast(hot_a, io_a)
    finally:
        micropython.heap_unlock()
    after_a = list(regs)
    _regs(case)
    rb = TF.run(hot_b, io_b, rp2_regs.poll, rp2_regs.finish)
    after_b = list(regs)
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
