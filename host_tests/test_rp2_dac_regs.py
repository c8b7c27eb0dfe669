"""The chip's whole PwmDac.set_ua and PioEngine.gate, each in one viper call
(board/rp2_regs.dac_set_ua and engine_gate, which tick_io makes the DAC's set_ua and the
engine's gate: issue 18's ramp-step and train-edge ticks) against a register file in RAM,
on the 32-bit board-numerics MicroPython (as test_rp2_regs.py): for every calibration and
setpoint in range it leaves the io array and the PWM CC register exactly as the checked
Python path plus rp2_regs.set_ua did (the code, its level, pending or written by SYNC), and
records the setpoint (value_ua), under heap_lock; a setpoint below 0 or above the DAC's
ceiling is refused with the Python path's TvnsError (code, field) and changes nothing (fail
closed), the ceiling read from the array (its only home, as the DAC's ceiling_ua). The
gate (rp2_regs.engine_gate) records the command and writes SIO GPIO_OUT_SET / CLR with the
gate's bit, nothing while held (the MCP4725's transfer), under heap_lock."""

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
from tvns.errors import ABOVE_CEILING, OUT_OF_RANGE, TvnsError

regs = array("i", bytes(4 * 16))
base = uctypes.addressof(regs)
GIN, CC = 0, 5


def board_io():
    io = R.new()
    io[R.A_GPIO_IN] = base + 4 * GIN
    io[R.A_CC] = base + 4 * CC
    io[R.SYNC_BIT] = 4
    io[R.CC_SHIFT] = 16
    return io


io = board_io()
ref = board_io()
rp2_regs._IO = io
CALS = ((10000, -50, 65535, 4167, 8000), (5000, 500, 65535, 65535, 5000),
        (12000, 0, 4095, 16384, 10000))
n = 0
for fs, off, cmax, top1, ceil in CALS:
    for a in (io, ref):
        a[R.DAC_FS], a[R.DAC_OFF], a[R.DAC_MAX], a[R.TOP1] = fs, off, cmax, top1
        a[R.DAC_CEIL] = ceil
    for ua in (0, 1, 100, 499, 501, 2500, ceil - 1, ceil, ceil + 1, -1, -100, 10**6):
        for sync in (1, 0):
            for a in (io, ref):
                a[5] = a[R.CODE] = -7
                a[R.DAC_UA] = 4321
            regs[GIN], regs[CC] = sync << 4, 0x1234
            want_cc = None
            if 0 <= ua <= ceil:  # the Python path: its checks, value_ua, then set_ua(io, ua)
                rp2_regs.set_ua(ref, ua)
                ref[R.DAC_UA] = ua
                want_cc = regs[CC]
                regs[GIN], regs[CC] = sync << 4, 0x1234
            err = None
            if want_cc is not None:  # (a refusal allocates its error: in the tick's hard
                micropython.heap_lock()  # IRQ a MemoryError, the tick's fault, as before)
            try:
                rp2_regs.dac_set_ua(ua)
            except TvnsError as e:
                err = e
            finally:
                if want_cc is not None:
                    micropython.heap_unlock()
            if want_cc is None:  # refused, nothing changed
                assert err is not None, (ua, ceil)
                assert err.code == (OUT_OF_RANGE if ua < 0 else ABOVE_CEILING), (ua, err.code)
                assert err.field == "amplitude_ua"
                assert io[5] == -7 and io[R.CODE] == -7 and io[R.DAC_UA] == 4321
                assert regs[CC] == 0x1234
            else:
                assert err is None, (ua, err)
                assert list(io) == list(ref), (fs, ua, sync, list(io), list(ref))
                assert regs[CC] == want_cc, (ua, sync, hex(regs[CC]), hex(want_cc))
                n += 1
assert n > 40, n

# The engine's gate: recorded, then GPIO_OUT_SET (on) or GPIO_OUT_CLR (off) written with the
# gate's bit, as Pin.value writes it; nothing written while an MCP4725 transfer holds it.
SET, CLR = 8, 9
io[R.A_GPIO_SET] = base + 4 * SET  # GPIO_OUT_CLR follows it
io[R.GATE_BIT] = 11
for held in (0, 1):
    for on in (True, False, 1, 0):
        regs[SET] = regs[CLR] = 0
        io[R.HELD] = held
        io[R.GATE_ON] = 7
        micropython.heap_lock()
        try:
            rp2_regs.engine_gate(on)
        finally:
            micropython.heap_unlock()
        assert io[R.GATE_ON] == (1 if on else 0) and io[R.HELD] == held
        if held:
            assert regs[SET] == regs[CLR] == 0
        else:
            assert (regs[SET], regs[CLR]) == ((1 << 11, 0) if on else (0, 1 << 11)), (on, held)
print("OK")
"""


def test_the_chips_set_ua_is_the_checked_python_path_in_one_call():
    mp = require(numerics_binary(), "the 32-bit board-numerics MicroPython")
    env = dict(os.environ, MICROPYPATH="firmware")
    r = subprocess.run(
        [mp, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0 and r.stdout.strip() == "OK", r.stdout + r.stderr


def test_the_rp2_dacs_and_engines_state_lives_in_the_array():
    """The DAC's ceiling_ua and value_ua and the engine's commanded gate and hold are words of
    the tick's array (their only home): the Python paths and the chip's dac_set_ua and
    engine_gate check and record the same ones."""
    from rp2_support import build_board
    from tvns.board import rp2_io as R

    board = build_board()[0]

    dac = board.dac
    io = dac._io
    assert io[R.DAC_CEIL] == dac.ceiling_ua == board.ceiling_ua
    dac.set_ua(700)
    assert io[R.DAC_UA] == dac.value_ua == 700
    eng = board.engine
    assert eng.io is io and io[R.GATE_ON] == 0 and not eng.gated
    eng.gate(True)
    assert io[R.GATE_ON] == 1 and eng.gated
    eng.hold(True)
    assert io[R.HELD] == 1
    eng.gate(False)
    eng.hold(False)
    assert io[R.HELD] == 0 and io[R.GATE_ON] == 0 and not eng.gated
