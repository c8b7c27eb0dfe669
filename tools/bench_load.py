"""`make bench` rows for the console `load` (parse, validate, derived figures, reply) under
MicroPython: the default protocol (goal: within 15 ms on the real chip) and an hour of
0.1 s on / 0.1 s off (17,950 trains, closed-form counts), with each host runtime found
(the PyPI one and the board-numerics one). Host figures: the emulated Pico's are measured
apart (rp2 emulator); compare them as ratios."""

import json
import os
import pathlib
import subprocess
import tempfile

from tvns_tools.firmware import FIRMWARE, micropython_binary, numerics_binary

DEFAULT = FIRMWARE / "protocols" / "default.json"
# Runs under MicroPython: n console loads through Console.feed (the board's own path)
SCRIPT = """
import json, sys, time
from tvns.app import App
from tvns.board.sim import SimBoard
from tvns.console import Console
with open(sys.argv[1]) as f:
    text = f.read().strip()
n = int(sys.argv[2])
out = []
con = Console(App(SimBoard()), out.append)
line = ('{"id": 1, "cmd": "load", "protocol": %s}\\n' % text).encode()
times = []
for _ in range(n):
    t0 = time.ticks_us()
    con.feed(line)
    times.append(time.ticks_diff(time.ticks_us(), t0))
assert json.loads(out[-1])["ok"], out[-1]
times.sort()
print(json.dumps({"median_us": times[len(times) // 2], "max_us": times[-1]}))
"""


def _long_protocol():
    doc = json.loads(DEFAULT.read_text())
    doc.update(name="bench-1h-0.1on-0.1off", on_s=0.1, off_s=0.1, session_s=3600)
    return json.dumps(doc)


def _measure(binary, protocol_text, n=200):
    with tempfile.TemporaryDirectory() as tmp:
        script = pathlib.Path(tmp) / "bench_load.py"
        script.write_text(SCRIPT)
        proto = pathlib.Path(tmp) / "p.json"
        proto.write_text(json.dumps(json.loads(protocol_text)))  # one request line
        env = dict(os.environ, MICROPYPATH=str(FIRMWARE))
        out = subprocess.run(
            [binary, str(script), str(proto), str(n)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout
    return json.loads(out)


def rows():
    out = []
    runtimes = [("MicroPython (PyPI)", micropython_binary())]
    if numerics_binary():
        runtimes.append(("MicroPython (board numerics)", numerics_binary()))
    for label, binary in runtimes:
        for what, text in (
            ("default", DEFAULT.read_text()),
            ("1 h of 0.1/0.1 s", _long_protocol()),
        ):
            r = _measure(binary, text)
            out.append(
                (
                    "console load, %s protocol, %s: median (max)" % (what, label),
                    "%.2f ms (%.2f)" % (r["median_us"] / 1000, r["max_us"] / 1000),
                )
            )
    return out


if __name__ == "__main__":
    for name, value in rows():
        print("%s: %s" % (name, value))
