"""Where the control tick's cycles go, by C function, on the emulated Pico (docs/SPEED.md):
the program counter sampled every 997 ns of emulated time for 210 ms while the board's hard
Timer IRQ (the tick) runs, with no hooks on the board (the bench's SysTick wrapper is Python
with attribute lookups of its own: docs/SPEED.md "Why the two UF2s' idle ticks differ in the
bench"), named from the firmware's ELF (a tvns UF2's is in its build dir; the stock UF2's,
from a build of v1.28.0 with the board's own manifest). The samples in IRQ handler mode are
counted per exception number (19: TIMER_IRQ_3, where the port's alarm pool runs the tick).

    .venv/bin/python -m tvns_tools.rp2emu.pcprof UF2 ELF [--mpy] [--running]

--mpy: the whole package deployed as .mpy (on a tvns UF2 a /tvns folder shadows the frozen
one: the same C binary, the other code path); --running: sampled in a session's ramp (else
after it stopped: idle ticks). Each sample costs the host a Python call: ~20 s of wall time.
"""

import bisect
import collections
import pathlib
import subprocess
import sys
import tempfile

NS_PER_MS = 1_000_000


def symbols(elf):
    out = []
    nm = subprocess.run(["nm", "-n", "-S", str(elf)], capture_output=True, text=True, check=True)
    for line in nm.stdout.splitlines():
        p = line.split()
        if len(p) == 4 and p[2] in "tTdDrRbBwW":
            out.append((int(p[0], 16), int(p[1], 16), p[3]))
        elif len(p) == 3 and p[1] in "tTwW" and not p[2].startswith("$"):
            out.append((int(p[0], 16), 0, p[2]))  # an unsized label (__wrap___aeabi_uidiv)
    out.sort()
    return out


def namer(syms):
    addrs = [s[0] for s in syms]

    def name(pc):
        if 0x20000000 <= pc < 0x20042000:
            return "(code in RAM: .mpy machine code, RAM functions)"
        i = bisect.bisect_right(addrs, pc) - 1
        if i >= 0 and pc < syms[i][0] + max(syms[i][1], 1):
            return syms[i][2]
        # unsized labels (the SDK's divider wrappers): the nearest symbol below
        return syms[i][2] + "+" if i >= 0 else "?%x" % pc

    return name


def sample(uf2, elf, mpy=False, running=False, n=200_000, say=print):
    """{exception number: Counter(function: samples)} of n samples, 997 ns apart."""
    from tvns_tools import deploy
    from tvns_tools.rp2emu import frozen_uf2, harness, image

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "host_tests"))
    import rp2emu_tier as T

    name = namer(symbols(elf))
    with tempfile.TemporaryDirectory(prefix="tvns-pcprof-") as d:
        d = pathlib.Path(d)
        if mpy:
            deploy.stage("rp2", d / "stage")
        else:
            frozen_uf2.stage(d / "stage")
        img = image.from_stage(d / "stage", d / "p.img")
        with harness.EmuBoard(img, "2k", uf2=uf2, lockstep=True) as board:
            board.dev.wait_boot()
            board.emu.run_for_ms(300)
            t0 = board.start_session(T.SHORT)
            board.emu.run_until(t0 + 300 * NS_PER_MS)
            if not running:
                board.dev.request("stop")
                board.wait_event("session_end", t0, emu_ms=1500)
                board.emu.run_for_ms(20)
            emu = board.emu
            core = emu.mcu.core
            out = collections.defaultdict(collections.Counter)
            left = [n]

            def cb():
                ip = core.ipsr
                if ip:
                    out[ip][name(core.registers[15])] += 1
                left[0] -= 1
                if left[0] > 0:
                    alarm.schedule(997)

            alarm = emu.call(emu.clock.create_alarm, cb)
            emu.call(alarm.schedule, 1000)
            emu.run_for_ms(n * 997 // NS_PER_MS + 5)
    return out


def main(argv=None):
    import argparse

    p = argparse.ArgumentParser(prog="python -m tvns_tools.rp2emu.pcprof", description=__doc__)
    p.add_argument("uf2")
    p.add_argument("elf")
    p.add_argument("--mpy", action="store_true")
    p.add_argument("--running", action="store_true")
    p.add_argument("--top", type=int, default=30)
    args = p.parse_args(argv)
    out = sample(args.uf2, args.elf, args.mpy, args.running)
    for ip, counts in sorted(out.items()):
        print("exception %d: %d samples" % (ip, sum(counts.values())))
        for fn, c in counts.most_common(args.top):
            print("  %7d  %s" % (c, fn))
    return 0


if __name__ == "__main__":
    sys.exit(main())
