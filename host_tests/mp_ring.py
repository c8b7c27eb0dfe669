"""tvns/ring.py's EventRing (put in viper over one array) against the ring it replaced
(OldRing below, main 3f4e9bb, word for word), for test_ring_viper.py: runs under CPython and
both MicroPython runtimes alike. Each case is a ring size and a list of operations: a put
(time, kind) or a drain; both rings get the same ones. Prints one JSON line per case: "ok",
or the first operation after which the drained pairs, `lost`, `pending()`, head or tail
differed. The new put runs under heap_lock on MicroPython (the tick calls it).
Usage: MICROPYPATH=firmware micropython host_tests/mp_ring.py FILE"""

import json
import sys
from array import array

from tvns.ring import EventRing

try:
    from micropython import heap_lock, heap_unlock
except ImportError:  # CPython

    def heap_lock():
        pass

    def heap_unlock():
        pass


_WRAP = 0x3FFFFFFF


class OldRing:
    def __init__(self, size, names):
        self._t = array("i", [0] * size)
        self._k = bytearray(size)
        self._size = size
        self._span = 2 * size
        self._names = names
        self.head = 0
        self.tail = 0
        self.lost = 0

    def put(self, t, kind):
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
        while self.tail != self.head:
            i = self.tail % self._size
            out.append((self._t[i], self._names[self._k[i]]))
            self.tail = (self.tail + 1) % self._span
        return out


NAMES = tuple("K%d" % i for i in range(256))


def judge(case):
    old = OldRing(case["size"], NAMES)
    new = EventRing(case["size"], NAMES)
    if "lost" in case:  # near the counter's wrap
        old.lost = case["lost"]
        new._w[2] = case["lost"]
    for j, op in enumerate(case["ops"]):
        if op is None:
            a = old.drain([])
            b = new.drain([])
        else:
            old.put(op[0], op[1])
            heap_lock()
            try:
                new.put(op[0], op[1])
            finally:
                heap_unlock()
            a = b = None
        if a != b or (old.lost, old.head, old.tail) != (new.lost, new.head, new.tail):
            return [j, a, b, old.lost, new.lost]
        if old.pending() != new.pending():
            return [j, "pending"]
    return "ok"


def main(path):
    with open(path) as f:
        for line in f:
            print(json.dumps(judge(json.loads(line))))


if __name__ == "__main__":
    main(sys.argv[1])
