"""tools/tvns_tools/rp2emu/heapmap.py's reading of a heap (docs/SPEED.md "Heap"): the gc
area found in .bss, live blocks marked from the roots and from live blocks, garbage and
free blocks counted as free (a synthetic SRAM laid out as the rp2 port's gc_init lays it)."""

import struct

from tvns_tools.rp2emu import heapmap as H

N = 0x800  # allocation table bytes: 4 blocks each
ATB = H.HEAP_END - 64 * N - N - N // 2  # the table, the finaliser table, then the pool
POOL = ATB + N + N // 2
BLOCKS = 4 * N


def _sram(blocks, roots=(), links=()):
    """blocks: {block: 1 head / 2 tail}; roots: addresses stored in .bss; links: (from
    block, to address) stored in a block's first word."""
    sram = bytearray(H.STACKS_END - H.SRAM)

    def put(addr, word):
        sram[addr - H.SRAM : addr - H.SRAM + 4] = struct.pack("<I", word)

    area = 0x20001000  # mp_state_mem_area_t: atb, atb_len, ftb, pool_start, pool_end
    for i, w in enumerate((ATB, N, ATB + N, POOL, H.HEAP_END)):
        put(area + 4 * i, w)
    for b, kind in blocks.items():
        sram[ATB - H.SRAM + b // 4] |= kind << (2 * (b % 4))
    for i, addr in enumerate(roots):
        put(0x20000100 + 4 * i, addr)
    for b, addr in links:
        put(POOL + 16 * b, addr)
    return sram


def block(b):
    return POOL + 16 * b


def test_live_blocks_are_marked_from_roots_and_through_live_blocks():
    heads = {0: 1, 1: 2, 2: 1, 5: 1, 9: 1}  # 0+1 live from a root, 5 through 0, 9 from a reg
    sram = _sram(heads, roots=[block(0), block(1)], links=[(0, block(5)), (2, block(7))])
    r = H.layout(sram, [block(9)])
    # block 1 is a tail (an interior pointer marks nothing); 2 is garbage (its link to 7,
    # which is free, marks nothing either)
    assert r["live_kb"] == round(4 * 16 / 1024, 1)
    assert r["holes"] == 3  # 2-4, 6-8, 10-
    assert r["largest_blocks"] == BLOCKS - 10
    assert r["free_kb"] == round((BLOCKS - 4) * 16 / 1024, 1)


def test_no_gc_area_is_an_error():
    import pytest

    with pytest.raises(RuntimeError, match="gc area"):
        H.layout(bytearray(H.STACKS_END - H.SRAM), [])
