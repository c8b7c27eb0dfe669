"""The RP2040 output-priority rule the kill path relies on, on the emulated Pico: the official
MicroPython v1.28 rp2 port running in rp2040py, with the firmware's own kill program
(assembled on the host by the rp2 fake, handed to the real port's rp2.StateMachine).

A driver machine side-sets A, B and SYNC high on every cycle; the kill machine, whose
KILL_n input floats (rp2040py models no pulls: a floating line reads low, as the Pico's
pull-down makes it), writes them low on every cycle. The PIO block's resolved output
(DBG_PADOUT) is low when the kill machine is the higher-numbered one and high when it is
the lower one: the rule pio_block.combine models (datasheet 3.5.6.1). The snapshot the
firmware reads arrives in the RX FIFO."""

import importlib.util
import os
import pathlib
import subprocess
import sys

from tiers import require
from tvns.board import rp2_pio
from tvns_tools import pio_sim

ROOT = pathlib.Path(__file__).resolve().parent.parent
UF2 = "firmware-RPI_PICO-v1.28.0.uf2"


def _firmware():
    """$TVNS_RP2_FIRMWARE, then shared/rp2/ beside the project root or one of its parents
    (a worktree sits a level deeper), as the rp2 emulation tier looks for it."""
    cands = [os.environ.get("TVNS_RP2_FIRMWARE")]
    cands += [parent / "shared" / "rp2" / UF2 for parent in list(ROOT.parents)[:3]]
    for cand in cands:
        if cand and pathlib.Path(cand).is_file():
            return pathlib.Path(cand)
    return None


def _prog_literal(prog):
    """A host-assembled program as the Python literal the real port's StateMachine takes."""
    ops = ", ".join(str(op) for op in prog[0])
    return "[array('H', [%s]), %s]" % (ops, ", ".join(repr(v) for v in prog[1:]))


SCRIPT = """
import rp2, machine
from array import array
KILL = %(kill)s
DRIVE = %(drive)s
PADOUT = 0x5020003C  # PIO0 DBG_PADOUT: the block's resolved output levels
def trial(drive_id, kill_id):
    ks = rp2.StateMachine(kill_id, KILL, in_base=machine.Pin(7), set_base=machine.Pin(2))
    ds = rp2.StateMachine(drive_id, DRIVE, sideset_base=machine.Pin(2))
    ks.active(1)
    ds.active(1)
    for _ in range(300):
        pass
    out = machine.mem32[PADOUT] >> 2 & 7
    rx = ks.rx_fifo()
    snap = ks.get() if rx else -1
    ks.active(0)
    ds.active(0)
    rp2.PIO(0).remove_program()
    return out, rx, snap
print("above", trial(0, 1))
print("below", trial(2, 1))
"""


def test_the_higher_numbered_kill_machine_wins_on_the_emulated_pico():
    require(importlib.util.find_spec("rp2040py"), "rp2040py (the rp2 emulation tier)")
    uf2 = require(_firmware(), "the MicroPython rp2 firmware " + UF2)
    rp2 = pio_sim.fake_rp2()
    kill = rp2_pio.assemble_kill(rp2, 11)
    lo = rp2.PIO.OUT_LOW

    @rp2.asm_pio(sideset_init=(lo, lo, lo))
    def drive():
        wrap_target()  # noqa: F821 - the assembler's names
        nop().side(7)  # noqa: F821
        wrap()  # noqa: F821

    script = SCRIPT % {"kill": _prog_literal(kill), "drive": _prog_literal(drive)}
    exe = pathlib.Path(sys.executable).parent / "rp2040py"
    r = subprocess.run(
        [str(exe), "micropython", "--image", str(uf2), "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = dict(
        line.split(" ", 1) for line in r.stdout.splitlines() if line[:5] in ("above", "below")
    )
    assert set(lines) == {"above", "below"}, r.stdout + r.stderr
    out, rx, snap = eval(lines["above"])  # noqa: S307 - our own script's tuple
    assert out == 0  # kill machine (SM1) above the driver (SM0): A, B, SYNC low
    assert rx == 1 and snap & 1 == 0  # fired on the floating KILL_n, snapshot pushed
    out, rx, _snap = eval(lines["below"])  # noqa: S307
    assert out == 0b111  # kill machine (SM1) below the driver (SM2): the driver wins
    assert rx == 1
