# A ring of (time, kind) events written in the control tick (a hard IRQ on rp2) and drained
# by the main loop: the session's state changes (session.py) and the trigger's events
# (trigger.py). Preallocated; put() is integer-only and allocation-free. When full, the
# oldest entry gives way (the newest matter most) and `lost` counts it. head and tail stay
# within 0 .. 2 * size - 1 (small ints forever): their distance modulo 2 * size is the fill.
# put() may run while drain() is between two entries: the ring is only full when the main
# loop has missed many passes, and then an entry may be skipped or read twice, never more.
# put() is viper over one array (head, tail, lost, size, span, then the times) and the kinds'
# bytes: two attribute loads instead of a dozen, machine-word arithmetic (a state change's
# tick on the rp2 port, docs/SPEED.md). Every word it reads is >= 0 (a 64-bit host runtime's
# viper reads a ptr32 word zero-extended); a time may be any int32, written, never read.
import sys
from array import array

import micropython
from micropython import const

if sys.implementation.name != "micropython":  # the viper casts, for CPython (the host)

    def ptr32(b):
        return memoryview(b).cast("B").cast("i")

    def ptr8(b):
        return b


# ptr32/ptr8 are builtins of the viper emitter (not Python names) on a board.
# ruff: noqa: F821

_WRAP = const(0x3FFFFFFF)
_HEAD = const(0)  # the words of EventRing._w
_TAIL = const(1)
_LOST = const(2)
_SIZE = const(3)
_SPAN = const(4)
_T = const(5)  # the times, one word per entry


class EventRing:
    def __init__(self, size, names):
        w = array("i", bytes(4 * (_T + size)))
        w[_SIZE] = size
        w[_SPAN] = 2 * size
        self._w = w
        self._k = bytearray(size)
        self._size = size
        self._span = 2 * size
        self._names = names  # kind -> the name drain() gives

    # head, tail and lost (entries overwritten before they were drained) under their names
    @property
    def head(self):
        return self._w[_HEAD]

    @property
    def tail(self):
        return self._w[_TAIL]

    @property
    def lost(self):
        return self._w[_LOST]

    @micropython.viper
    def put(self, t: int, kind: int):
        """Record an event (the tick): no allocation, machine words only."""
        w = ptr32(self._w)
        k = ptr8(self._k)
        size = w[_SIZE]
        span = w[_SPAN]
        h = w[_HEAD]
        i = h % size
        w[_T + i] = t
        k[i] = kind
        h = (h + 1) % span
        w[_HEAD] = h
        if (h - w[_TAIL]) % span > size:
            w[_TAIL] = (w[_TAIL] + 1) % span
            n = w[_LOST]
            if n < _WRAP:
                w[_LOST] = n + 1

    def words(self):
        """(the words, the kinds' bytes, put bound): put()'s arrays, for a writer in the tick
        that puts an entry in machine words itself, as put() does (tvns/tickedge.py), and
        put for one that calls it (main loop, once: a bound method is an allocation)."""
        return self._w, self._k, self.put

    def pending(self):
        w = self._w
        return w[_TAIL] != w[_HEAD]

    def drain(self, out):
        """Append (time, name) pairs not yet drained to list out (main loop only)."""
        w = self._w
        while w[_TAIL] != w[_HEAD]:
            i = w[_TAIL] % self._size
            out.append((w[_T + i], self._names[self._k[i]]))
            w[_TAIL] = (w[_TAIL] + 1) % self._span
        return out
