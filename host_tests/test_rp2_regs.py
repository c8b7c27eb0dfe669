"""The rp2 tick's register path (board/rp2_regs.py) against a register file in RAM, on the
32-bit board-numerics MicroPython (addresses fit the array's 32-bit words there): each
register the viper functions touch is a word the test sets as the silicon would (SIO
GPIO_IN, PIO FLEVEL, ADC CS/RESULT) or reads back as the silicon would see it (TXF, PWM CC),
under micropython.heap_lock(). The registers themselves (addresses, bit positions, the
ADC's READY) are proved on the emulated Pico (test_rp2emu.py's sessions and heap_lock)."""

import os
import pathlib
import subprocess

from tiers import require
from tvns_tools.firmware import numerics_binary

ROOT = pathlib.Path(__file__).resolve().parent.parent

SCRIPT = r"""
import micropython, uctypes
from array import array
from tvns.board import rp2_io as R
from tvns.board import rp2_regs

regs = array("i", bytes(4 * 64))  # a register file: word i at base + 4 * i
base = uctypes.addressof(regs)
GIN, FLEVEL, CS, RESULT, TXF, CC, TMH, TML = 0, 1, 2, 3, 4, 5, 6, 7
io = R.new()
io[R.A_TIMER] = base + 4 * TMH  # TIMERAWL follows TIMERAWH
io[R.A_GPIO_IN] = base + 4 * GIN
io[R.A_FLEVEL] = base + 4 * FLEVEL
io[R.A_ADC_CS] = base + 4 * CS  # RESULT follows CS
io[R.A_TXF] = base + 4 * TXF
io[R.A_CC] = base + 4 * CC
io[R.ESTOP_BIT], io[R.ESTOP_ACT] = 16, 0
io[R.COMP_BIT], io[R.COMP_ACT] = 15, 1
io[R.SYNC_BIT] = 4
io[R.KILL_SHIFT] = 12  # kill machine 1: RX level at FLEVEL[15:12]
io[R.TX_SHIFT] = 0
io[R.AINSEL] = 0
io[R.K_Q12], io[R.SENSE_OFF] = 3300, -20
io[R.CC_SHIFT] = 16  # channel B
io[R.FEED] = 2
poll, finish = rp2_regs.poll, rp2_regs.finish
out = []

def run(gin, flevel, cs, result, sense):
    regs[GIN], regs[FLEVEL], regs[CS], regs[RESULT] = gin, flevel, cs, result
    io[4] = sense
    micropython.heap_lock()
    try:
        poll(io)
    finally:
        micropython.heap_unlock()
    return io[0], io[1], io[2], io[3]

def s32(w):
    return w - (1 << 32) if w >= 1 << 31 else w

# The time: what the port's time.ticks_ms() gives (to_ms_since_boot(), masked to 2**30),
# from the 64-bit microsecond count, at every carry of the low word and far beyond
for us in (0, 999, 1000, 123456789, (1 << 32) - 1, 1 << 32, (1 << 32) + 703, 5 << 32,
           (7 << 32) + 0xFFFFFC17, (0x12345 << 32) + 0x89ABCDEF, (2000000 << 32) + 0x80000000):
    regs[TMH], regs[TML] = s32(us >> 32), s32(us & 0xFFFFFFFF)
    micropython.heap_lock()
    try:
        poll(io)
    finally:
        micropython.heap_unlock()
    assert io[R.IO_NOW] == (us // 1000) & 0x3FFFFFFF, (us, io[R.IO_NOW])

E = 1 << 16  # the e-stop loop closed (not pressed)
assert run(E, 0, 0x101, 1000, 0) == (0, 0, 0, 0)  # gate off: no ADC conversion asked
assert regs[CS] == 0x101  # untouched
assert run(E, 0, 0x101, 1000, 1) == (0, 0, 1000 * 3300 // 4096 - 20, 0)
assert regs[CS] == 0x105  # START_ONCE, AINSEL 0
io[R.AINSEL] = 2
assert run(E, 0, 0x7501, 0xF000 | 5, 1) == (0, 0, 0, 0)  # 5 * k >> 12 < 20: clamped to 0
assert regs[CS] == 0x2105, hex(regs[CS])  # AINSEL 2; ERR_STICKY (W1C) written as 0
assert run(0, 0, 0x101, 0, 0)[1] == 1  # e-stop low: pressed
assert run(E | (1 << 15), 0, 0x101, 0, 1)[3] == 1  # at compliance
assert run(E, 0, 0x101, 0, 0)[2:] == (0, 1)  # gate off: both left as they were
assert run(E, 0, 0x001, 0, 1)[2] == (4095 * 3300 >> 12) - 20  # never READY: full scale
assert run(E, 1 << 12, 0x101, 0, 0)[0] == -1  # the kill machine pushed its snapshot
assert run(E, 0, 0x101, 0, 0)[0] == 0
io[R.KILL_WORD] = 0x3FE  # taken by tripped() already: still fired
assert run(E, 0, 0x101, 0, 0)[0] == -1
io[R.KILL_WORD] = -1
io[R.KILL_SHIFT] = -1  # no kill machine: its level is never read
assert run(E, 1 << 12, 0x101, 0, 0)[0] == 0

def fin(gin, flevel):
    regs[GIN], regs[FLEVEL], regs[TXF] = gin, flevel, 0
    micropython.heap_lock()
    try:
        return finish(io)
    finally:
        micropython.heap_unlock()

assert fin(0, 0) == 0x100000  # not loaded: never due, nothing fed
assert regs[TXF] == 0
io[R.LOADED], io[R.N_O], io[R.FEED_MS], io[R.PULLED] = 1, 777, 40, 0x3FFFFFFF
assert fin(0, 2) == 40 and regs[TXF] == 0 and io[R.PULLED] == 0x3FFFFFFF  # full
assert fin(0, 0) == 40 and regs[TXF] == 777 and io[R.PULLED] == 1  # 2 taken: wraps via 0
assert fin(0, 1) == 40 and io[R.PULLED] == 2
regs[CC] = 0x1234  # channel A's level stays
io[5], io[R.CC_PENDING] = 300, 0x0ABC
assert fin(1 << 4, 2) == 40 and io[5] == 300 and regs[CC] == 0x1234  # SYNC high: waits
assert fin(0, 2) == 40 and io[5] == -1 and io[R.CODE] == 300
assert regs[CC] == 0x0ABC1234, hex(regs[CC])

set_ua = rp2_regs.set_ua
CALS = ((10000, -50, 65535, 4167), (5000, 500, 65535, 65535), (12000, 0, 4095, 16384))
for fs, off, cmax, top1 in CALS:
    io[R.DAC_FS], io[R.DAC_OFF], io[R.DAC_MAX], io[R.TOP1] = fs, off, cmax, top1
    for ua in (0, 1, 100, 499, 501, 2500, 5000, 9999, 10000):
        code = 0 if ua <= 0 else min(max((ua - off) * cmax // fs, 0), cmax)  # DacCal.code_for
        level = (code * top1 + 32767) // 65535  # machine_pwm.c duty_u16's level
        for sync in (1, 0):
            regs[GIN], regs[CC] = sync << 4, 0x1234
            io[5] = io[R.CODE] = -7
            micropython.heap_lock()
            try:
                set_ua(io, ua)
            finally:
                micropython.heap_unlock()
            assert io[R.CC_PENDING] == level, (fs, off, top1, ua)
            if sync:  # a pulse in flight: pending, the register untouched
                assert io[5] == code and regs[CC] == 0x1234 and io[R.CODE] == -7
            else:
                assert io[5] == -1 and io[R.CODE] == code, (ua, code)
                w = regs[CC]  # a signed word: channel B's half, then channel A's, kept
                assert (w >> 16) & 0xFFFF == level and w & 0xFFFF == 0x1234, (ua, hex(w))
print("OK")
"""


def test_register_path_reads_and_writes_like_the_port():
    mp = require(numerics_binary(), "the 32-bit board-numerics MicroPython")
    env = dict(os.environ, MICROPYPATH="firmware")
    r = subprocess.run(
        [mp, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0 and r.stdout.strip() == "OK", r.stdout + r.stderr
