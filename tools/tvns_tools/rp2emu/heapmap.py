"""The heap's layout on the emulated Pico, read from the outside (docs/SPEED.md "Heap"): how
many holes the live data leaves and the largest free block, after boot and after the rp2emu
tier's sequence that once ended in a MemoryError (a lead-off fault, a stop at 25 Hz, then a
`load` of a triggered protocol), on one firmware path:

    .venv/bin/python -m tvns_tools.rp2emu.heapmap [--stock] [--uf2 FILE]

Nothing runs on the board for it (no gc.collect(), no mem_info: either would change what it
measures): between two instructions the host reads the port's allocation table out of the
emulated SRAM and marks the live blocks itself, conservatively, as the port's collector
would: every word of .data/.bss, the stacks (scratch X/Y) and the CPU's registers that
points at the head of a block marks it, and a marked block's words mark in turn. What is
left unmarked (free, or garbage the port has not collected yet) is free. A superset of the
port's roots: a block only a stale stack word points at counts as live here.
"""

import struct
import sys
import tempfile

SRAM = 0x20000000
HEAP_END = 0x20040000  # rp2 port: __GcHeapEnd, the end of SRAM0-3 (the stacks follow)
STACKS_END = 0x20042000
BLOCK = 16  # MICROPY_BYTES_PER_GC_BLOCK on a 32-bit port
AT_FREE, AT_HEAD, AT_TAIL = 0, 1, 2


def _area(words):
    """(atb_start, atb_len, pool_start, pool_end) of mp_state_mem_area_t in .bss: the field
    gc_pool_end is HEAP_END, gc_pool_start the word before; gc_alloc_table_start (the heap's
    start) and its length come first, the finaliser (and weakref) table pointers between."""
    for i in range(4, len(words)):
        if words[i] != HEAP_END:
            continue
        pool = words[i - 1]
        for k in (3, 4, 5):
            atb, n = words[i - k], words[i - k + 1]
            if SRAM < atb < pool < HEAP_END and 0 < n and atb + n <= pool:
                if (pool - atb) < 2 * n + 64 and (HEAP_END - pool) // BLOCK <= 4 * n:
                    return atb, n, pool, HEAP_END
    raise RuntimeError("the gc area was not found in the emulated SRAM")


def layout(sram, regs):
    """{free_kb, holes, largest_kb, live_kb} of a heap, from the SRAM bytes and registers."""
    words = struct.unpack("<%dI" % (len(sram) // 4), bytes(sram[: len(sram) // 4 * 4]))
    atb, atb_len, pool, end = _area(words[: (HEAP_END - SRAM) // 4])
    n_blocks = min(4 * atb_len, (end - pool) // BLOCK)
    table = sram[atb - SRAM : atb - SRAM + atb_len]
    kind = [(table[b >> 2] >> (2 * (b & 3))) & 3 for b in range(n_blocks)]
    marked = bytearray(n_blocks)
    p0 = (pool - SRAM) // 4

    def block_of(w):
        if pool <= w < end and (w - pool) % BLOCK == 0:
            b = (w - pool) // BLOCK
            if b < n_blocks and kind[b] == AT_HEAD and not marked[b]:
                return b
        return -1

    todo = []
    for w in list(words[: (atb - SRAM) // 4]) + list(words[(HEAP_END - SRAM) // 4 :]) + regs:
        b = block_of(w)
        if b >= 0:
            marked[b] = 1
            todo.append(b)
    while todo:
        b = todo.pop()
        e = b + 1
        while e < n_blocks and kind[e] == AT_TAIL:
            e += 1
        for w in words[p0 + b * 4 : p0 + e * 4]:
            c = block_of(w)
            if c >= 0:
                marked[c] = 1
                todo.append(c)
    live = [False] * n_blocks
    b = 0
    while b < n_blocks:
        if kind[b] == AT_HEAD and marked[b]:
            live[b] = True
            b += 1
            while b < n_blocks and kind[b] == AT_TAIL:
                live[b] = True
                b += 1
        else:
            b += 1
    runs = []
    run = 0
    for v in live:
        if v:
            if run:
                runs.append(run)
            run = 0
        else:
            run += 1
    if run:
        runs.append(run)
    free = sum(runs)
    return {
        "free_kb": round(free * BLOCK / 1024, 1),
        "holes": len(runs),
        "largest_kb": round(max(runs, default=0) * BLOCK / 1024, 1),
        "largest_blocks": max(runs, default=0),
        "live_kb": round((n_blocks - free) * BLOCK / 1024, 1),
    }


def read(emu):
    """The heap's layout now (the engine paused between two instructions)."""

    def _snap():
        regs = [int(r) & 0xFFFFFFFF for r in emu.mcu.core.registers]
        return bytes(emu.mcu.sram[: STACKS_END - SRAM]), regs

    sram, regs = emu.call(_snap)
    return layout(sram, regs)


def sequence(uf2, frozen, workdir, say=print):
    """[(step, layout)] after boot and after each step of the tier's sequence, on a board
    booted from the firmware as `tvns deploy` leaves it (frozen: the tvns UF2 + config)."""
    import pathlib

    from tvns_tools import deploy
    from tvns_tools.rp2emu import frozen_uf2, harness, image

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "host_tests"))
    import rp2emu_tier as T

    workdir = pathlib.Path(workdir)
    stage = workdir / "stage"
    if frozen:
        frozen_uf2.stage(stage)
    else:
        deploy.stage("rp2", stage)
    img = image.from_stage(stage, workdir / "heap.img")
    out = []
    with harness.EmuBoard(img, "2k", uf2=uf2, lockstep=True) as board:
        board.dev.wait_boot()
        board.emu.run_for_ms(300)  # the idle collection after boot, if one is due
        out.append(("boot", read(board.emu)))
        say("boot %r" % (out[-1][1],))
        T.running(board)
        t_due = T.next_pulse_ns(board, 5 * T.NS_PER_MS)
        board.stage.inject_at(t_due - 4 * T.NS_PER_MS, "open")
        board.emu.run_until(t_due + 1000)
        board.emu.run_for_ms(50)
        board.stage.clear("open")
        assert board.dev.request("clear")["state"] == "IDLE"
        board.emu.run_for_ms(300)
        out.append(("lead-off session", read(board.emu)))
        say("lead-off %r" % (out[-1][1],))
        T.idle(board)
        proto = dict(T.SHORT, name="emu-25hz", frequency_hz=25, on_s=2.2, off_s=0)
        t0 = board.start_session(proto)
        board.emu.run_until(t0 + 600 * T.NS_PER_MS)
        board.dev.request("stop")
        _t, end = board.wait_event("session_end", t0, emu_ms=1500)
        assert end["state"] == "STOPPED", end
        board.emu.run_for_ms(300)
        out.append(("25 Hz stop session", read(board.emu)))
        say("25 Hz %r" % (out[-1][1],))
        gated = dict(T.STEADY, name="emu-gated-100hz", trigger={"mode": "gate", "min_gap_s": 0.02})
        reply = board.dev.request("load", check=False, protocol=gated)
        if not reply.get("ok"):
            raise RuntimeError("triggered load failed: %r" % (reply,))
        out.append(("triggered `load` (at its reply)", read(board.emu)))
        board.emu.run_for_ms(300)
        out.append(("triggered `load`, 300 ms later", read(board.emu)))
        say("load %r" % (out[-1][1],))
    return out


def main(argv=None):
    import argparse
    import json

    from tvns_tools.rp2emu import frozen_uf2, image

    p = argparse.ArgumentParser(prog="python -m tvns_tools.rp2emu.heapmap", description=__doc__)
    p.add_argument("--stock", action="store_true", help="the stock UF2 + .mpy deploy")
    p.add_argument("--uf2", help="the UF2 (default: firmware/dist's, or with --stock the stock)")
    args = p.parse_args(argv)
    uf2 = args.uf2 or (image.find_firmware() if args.stock else frozen_uf2.uf2_path())
    with tempfile.TemporaryDirectory(prefix="tvns-heapmap-") as d:
        rows = sequence(uf2, not args.stock, d, say=lambda m: print(m, file=sys.stderr))
    print(json.dumps(rows, indent=1))
    for step, r in rows:
        print(
            "| %s | %.1f KB | %d | %.1f KB (%d blocks) | live %.1f KB |"
            % (step, r["free_kb"], r["holes"], r["largest_kb"], r["largest_blocks"], r["live_kb"])
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
