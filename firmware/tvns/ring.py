# A ring of (time, kind) events written in the control tick (a hard IRQ on rp2) and drained
# by the main loop: the session's state changes (session.py) and the trigger's events
# (trigger.py). Preallocated; put() is integer-only and allocation-free. When full, the
# oldest entry gives way (the newest matter most) and `lost` counts it. head and tail stay
# within 0 .. 2 * size - 1 (small ints forever): their distance modulo 2 * size is the fill.
# put() may run while drain() is between two entries: the ring is only full when the main
# loop has missed many passes, and then an entry may be skipped or read twice, never more.
from array import array

from micropython import const

_WRAP = const(0x3FFFFFFF)


class EventRing:
    def __init__(self, size, names):
        self._t = array("i", [0] * size)
        self._k = bytearray(size)
        self._size = size
        self._span = 2 * size
        self._names = names  # kind -> the name drain() gives
        self.head = 0
        self.tail = 0
        self.lost = 0  # entries overwritten before they were drained

    def put(self, t, kind):
        """Record an event (the tick): no allocation, small ints only."""
        h = self.head
        i = h % self._size
        self._t[i] = t
        self._k[i] = kind
        h = (h + 1) % self._span
        self.head = h
        if (h - self.tail) % self._span > self._size:
            self.tail = (self.tail + 1) % self._span
            n = self.lost
            self.lost = n + 1 if n < _WRAP else n

    def pending(self):
        return self.tail != self.head

    def drain(self, out):
        """Append (time, name) pairs not yet drained to list out (main loop only)."""
        while self.tail != self.head:
            i = self.tail % self._size
            out.append((self._t[i], self._names[self._k[i]]))
            self.tail = (self.tail + 1) % self._span
        return out
