"""The firmware's protocol validator over a batch of protocol texts, for test_numerics.py:
runs under CPython and both MicroPython runtimes alike. Reads a file of JSON lines (each a
JSON string: one protocol's text), prints one JSON line per protocol:
[valid, [[field, code], ...], [[figure, value], ...] or null].
Usage: MICROPYPATH=firmware micropython host_tests/mp_verdicts.py FILE"""

import json
import sys

from tvns import protocol


def verdict(text):
    p, errs = protocol.parse(text)
    codes = [[e.field, e.code] for e in errs]
    if p is None:
        return [False, codes, None]
    d = p.derived()
    return [True, codes, [[k, d[k]] for k in sorted(d)]]


def main(path):
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                print(json.dumps(verdict(json.loads(line))))


if __name__ == "__main__":
    main(sys.argv[1])
