"""How the shape of the hard Timer's callback costs on the rp2 port (docs/SPEED.md "The
timer's callback"): the same body (the beat, the session's state word, the pending-DAC test:
the idle tick) as a viper closure, a module-level viper function over module globals, a
bound viper method and a bound native method (the tick's shape before: a try, a default
argument, attributes on self), each (1) called from a bytecode wrapper between two SysTick
reads, the median of 40 calls in cycles, and (2) run by a 1 kHz hard machine.Timer while the
main loop spins a fixed loop: the loop's extra time over the ticks counted is what the timer
takes from the main loop per tick, its dispatch and the IRQ's entry and exit included.
Runs the official UF2 (the stock port: the tvns UF2's C is the same) in rp2040py, ~30 s:

    .venv/bin/python -m tvns_tools.rp2emu.callshape
"""

import subprocess
import sys
import tempfile

from tvns_tools.rp2emu.image import find_firmware

# The board's side, run over the raw REPL (compiled there: viper and native on the chip).
SCRIPT = r"""import machine, micropython, time
from array import array
m32 = machine.mem32
m32[0xE000E014] = 0xFFFFFF
m32[0xE000E010] = 5
H = array('i', bytes(4 * 24))
IO = array('i', bytes(4 * 40))
IO[5] = -1

def slow(t):
    pass

# (a) closure
def make(hot, io, look):
    @micropython.viper
    def cb(t):
        h = ptr32(hot)
        b = h[20]
        h[20] = b + 1 if b < 0x3FFFFFFF else 0
        st = h[21]
        if (0x3C >> st) & 1:
            look(t)
            return
        if ptr32(io)[5] >= 0:
            look(t)
    return cb

# (b) module-level viper with globals
_H = H
_IO = IO
_LOOK = slow
@micropython.viper
def gcb(t):
    h = ptr32(_H)
    b = h[20]
    h[20] = b + 1 if b < 0x3FFFFFFF else 0
    st = h[21]
    if (0x3C >> st) & 1:
        _LOOK(t)
        return
    if ptr32(_IO)[5] >= 0:
        _LOOK(t)

# (c) bound viper method on a small object
class K:
    def __init__(self, h, io, look):
        self.h = h
        self.io = io
        self.look = look
    @micropython.viper
    def cb(self, t):
        h = ptr32(self.h)
        b = h[20]
        h[20] = b + 1 if b < 0x3FFFFFFF else 0
        st = h[21]
        if (0x3C >> st) & 1:
            self.look(t)
            return
        if ptr32(self.io)[5] >= 0:
            self.look(t)
    @micropython.native
    def ncb(self, t=None):
        h = self.h
        b = h[20]
        h[20] = b + 1 if b < 0x3FFFFFFF else 0
        try:
            if (0x3C >> h[21]) & 1:
                self.look(t)
                return
            if self.io[5] >= 0:
                self.look(t)
        except Exception:
            pass

@micropython.viper
def empty(t):
    pass

k = K(H, IO, slow)
V = (("closure viper", make(H, IO, slow)), ("module viper, globals", gcb),
     ("bound viper method", k.cb), ("bound native method (today's shape)", k.ncb),
     ("empty viper fn", empty))

def called(f):
    xs = []
    for i in range(40):
        a = m32[0xE000E018]
        f(None)
        b = m32[0xE000E018]
        xs.append((a - b) & 0xFFFFFF)
    xs.sort()
    return xs[20]

cal = called(lambda t: None)
a = m32[0xE000E018]; b = m32[0xE000E018]
reads = (a - b) & 0xFFFFFF

def busy():
    t0 = time.ticks_us()
    for i in range(15000):
        pass
    return time.ticks_diff(time.ticks_us(), t0)

base = [busy() for _ in range(2)]
print("reads", reads, "base_us", base)
for name, f in V:
    c = called(f)
    print("%s | wrapper-called median %d cycles (%.1f us, incl. 2 reads)" % (name, c, c / 125))
# the timer's whole cost per tick: the main loop's loss over the ticks counted
for name, f in V[:4]:
    b0 = H[20]
    T = machine.Timer(period=1, mode=machine.Timer.PERIODIC, callback=f, hard=True)
    us = busy()
    T.deinit()
    nt = H[20] - b0
    per = (us - base[1]) / max(nt, 1)
    print("TIMER %s: ticks %d loop %d us, per tick %.2f us" % (name, nt, us, per))
H[21] = 3
for name, f in V[:4]:
    c = called(f)
    print("RUNNING->look %s: wrapper-called median %d cycles (%.1f us)" % (name, c, c / 125))
"""


def main():
    uf2 = find_firmware()
    if uf2 is None:
        print("no MicroPython rp2 UF2 found (set TVNS_RP2_FIRMWARE)", file=sys.stderr)
        return 2
    with tempfile.NamedTemporaryFile("w", suffix=".py") as f:
        f.write(SCRIPT)
        f.flush()
        exe = [sys.executable, "-m", "rp2040py", "micropython", "--image", str(uf2), f.name]
        return subprocess.call(exe)


if __name__ == "__main__":
    sys.exit(main())
