"""Speed and memory of the firmware on the real MicroPython rp2 port (emulated Pico, 125 MHz,
flash with no wait states: silicon is slower, never faster). The figures issue 18 sets goals
for; `make bench` prints them (tools/bench.py), and after each change to the firmware:

    .venv/bin/python -m tvns_tools.rp2emu.bench [--json]

Two firmware paths: the shipped one (the tvns UF2 from firmware/dist with the package frozen
in, then the config as `tvns deploy` copies it: issue 18's keys), then the stock UF2 with
every module deployed as .mpy (the same figures under rp2emu_stock_*). A missing or stale
tvns UF2 makes the stock path the issue's keys, and rp2emu_firmware says so.

How each is measured (docs/EMULATOR.md):
- boot: emulated ms from power-on to main.py's `boot` event on the console (plain image);
- tick: what the board's own 1 kHz hard Timer calls, the scheduler's tick_cb (its viper
  callback and the full path it calls), timed in CPU cycles with SysTick (hooks.py),
  classified idle / running with nothing due / ramp step / train edge;
- CPU: the running ticks' mean cost over the tick period;
- load: emulated ms from the request's last byte entering the USB FIFO to the reply's line
  leaving it (what a host waits), default and most demanding valid protocol, plain image,
  each sent as soon as the reply before it arrived (lockstep: the chip stands while the
  host works);
- every board here with a USB host that sends OUT packets only with data (usbhost.py:
  rp2040py's zero-length packets every ~38 us took ~30 % of the emulated CPU);
- heap: gc.mem_free() after a gc.collect() (live data) after boot and, lowest, at every
  main-loop pass and console request of a session, plus what the hooks themselves hold
  (measured on the board and added back). Transient peaks inside one request are not seen.
"""

import json
import pathlib
import shutil
import statistics
import sys
import tempfile

from tvns_tools.firmware import FIRMWARE
from tvns_tools.hw.edges import pico_config
from tvns_tools.rp2emu import frozen_uf2, harness, hooks, image
from tvns_tools.rp2emu.bench_rows import GOALS, rows  # noqa: F401 - tools/bench.py uses both
from tvns_tools.rp2emu.stage import spare_gpio

CYCLES_PER_US = 125
NS_PER_MS = 1_000_000
# 1 h at 100 Hz, 0.1 s on / 0.1 s off: valid per `tvns validate`, and the most pulses and
# duty-cycle windows a protocol can ask for.
WORST = {
    "schema": 1,
    "name": "worst-1h-100hz-0.1on-0.1off",
    "amplitude_ma": 1.0,
    "pulse_width_us": 200,
    "interphase_gap_us": 20,
    "frequency_hz": 100,
    "on_s": 0.1,
    "off_s": 0.1,
    "ramp_up_s": 1,
    "ramp_down_s": 1,
    "session_s": 3600,
    "electrode_area_cm2": 1.0,
    "sham": False,
}
# The measured session: 2 mA in 1 s at 100 Hz (20 ramp steps), then 0.1 s trains, stopped
# after 1.45 s (a fast ramp down: 20 more steps), then idle ticks; a host asks its status
# three times halfway through.
SESSION = dict(WORST, name="bench-session", amplitude_ma=2.0, session_s=600)
RUN_MS = 1450
STATUS_POLLS = 3  # status requests halfway through it (the USB IRQ and the console busy)
IDLE_MS = 150


def build_images(workdir, profile=(), frozen=False):
    """(plain image, hooks image) of the working tree's firmware, staged as `tvns deploy`
    stages it (mpy-cross), without the mpremote copy; profile: methods to time as well.
    frozen: for a board running the tvns UF2 (only main.py, boot.py, the map, protocols)."""
    from tvns_tools import deploy

    workdir = pathlib.Path(workdir)
    stage = workdir / "stage"
    shutil.rmtree(stage, ignore_errors=True)
    if frozen:
        frozen_uf2.stage(stage)
    else:
        deploy.stage("rp2", stage)
    plain = image.from_stage(stage, workdir / "plain.img")
    files = hooks.overlay_files(
        (FIRMWARE / "main.py").read_bytes(), spare_gpio(pico_config()), bench=True, profile=profile
    )
    return plain, image.overlay(plain, files, workdir / "bench.img")


def _request_ms(board, cmd, **fields):
    """(reply, emulated ms from the request entering the USB FIFO to its reply leaving)."""
    n_in, n_lines = len(board.emu.input_log), len(board.lines)
    reply = board.dev.request(cmd, check=False, **fields)
    t_in = board.emu.input_log[n_in:][-1][0]
    t_out = next(t for t, o in board.lines[n_lines:] if o.get("id") == reply.get("id"))
    return reply, (t_out - t_in) / NS_PER_MS


def _us(cycles):
    return cycles / CYCLES_PER_US


def measure(uf2=None, workdir=None, progress=None, profile=()):
    """The shipped path first (the tvns UF2 from firmware/dist, then `tvns deploy` of the
    config: the figures under issue 18's keys), then the stock UF2 (uf2) with the whole
    package deployed as .mpy (the same figures as rp2emu_stock_*). When the committed tvns
    UF2 is missing or stale (it would measure other code than this tree's), the issue's keys
    are the stock path's and rp2emu_firmware says why. With a profile: one path only."""
    say = progress or (lambda msg: None)
    why = frozen_uf2.problem()
    if why is not None:
        say("tvns UF2 not measured: " + why)
        out = measure_path(uf2, workdir, progress, profile)
        out["rp2emu_firmware"] = "stock UF2 + full deploy (%s)" % why
        return out
    say("the tvns UF2 (frozen) + deploy of the config")
    out = measure_path(frozen_uf2.uf2_path(), workdir, progress, profile, frozen=True)
    out["rp2emu_firmware"] = "tvns UF2 (%s.uf2, frozen) + deploy of the config" % frozen_uf2.NAME
    if profile:
        return out
    say("the stock UF2 + full deploy (.mpy on littlefs)")
    stock = measure_path(uf2, workdir, progress)
    for key, value in stock.items():
        if key.startswith("rp2emu_") and key != "rp2emu_wall_note":
            out["rp2emu_stock_" + key[len("rp2emu_") :]] = value
    return out


def measure_path(uf2=None, workdir=None, progress=None, profile=(), frozen=False):
    """Every figure of one firmware path as a dict (the JSON keys of tools/bench.py --json,
    and more); with a profile, its methods' calls and cycles under "profile" (their timing
    slows every tick). frozen: uf2 is a tvns UF2, the image holds only the config."""
    say = progress or (lambda msg: None)
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="tvns-rp2emu-bench-")
        workdir = tmp.name
    try:
        plain, bench_img = build_images(workdir, profile, frozen)
        out = {}
        if not profile:  # the profile is the tick's
            say("boot (plain image)")
            # lockstep: the chip stands while the host works, so a request follows the reply
            # before it at once, as `tvns run`'s load, arm, start do (without it the host's own
            # load decided whether the next `load` met the idle collection the first one
            # asked for: 12.5 or 21 ms, docs/SPEED.md "`load`")
            with harness.EmuBoard(plain, uf2=uf2, lockstep=True, data_only_usb=True) as board:
                t_boot, _ev = board.wait_boot()
                out["rp2emu_boot_ms"] = round(t_boot / NS_PER_MS, 1)
                _loads(board, out)  # as deployed: the hooks' collections are not the firmware's
        say("load, session and ticks (hooks image)")
        with harness.EmuBoard(bench_img, uf2=uf2, data_only_usb=True) as board:
            board.wait_boot()
            if profile:
                _loads(board, out)
            hooks.reset_heap_min(board.emu)  # the session's heap, not a failed load's
            board.emu.run_for_ms(300)  # a few main-loop passes: garbage collected
            t0 = board.start_session(SESSION)
            board.emu.run_until(t0 + RUN_MS // 2 * NS_PER_MS)
            for _ in range(STATUS_POLLS):  # a host watching the session: the main loop busy
                board.dev.request("status")
            board.emu.run_until(t0 + RUN_MS * NS_PER_MS)
            board.dev.request("stop")
            try:
                board.wait_event("session_end", t0, emu_ms=1500)
            except harness.EmuError:
                if not profile:
                    raise
                out["profile_lines"] = [o for _t, o in board.lines[-6:]]
            board.emu.run_for_ms(IDLE_MS)
            res = hooks.read_results(board.emu)
            if profile:
                out["profile"] = hooks.read_profile(board.emu, profile)
        out.update(_figures(res))
        out["rp2emu_wall_note"] = "emulated figures; silicon with flash wait states is slower"
        return out
    finally:
        if tmp is not None:
            tmp.cleanup()


def _loads(board, out):
    """`load` request to reply: the default protocol, then the most demanding valid one."""
    default = json.loads((FIRMWARE / "protocols" / "default.json").read_text())
    reply, ms = _request_ms(board, "load", protocol=default)
    out["rp2emu_load_default_ms"] = round(ms, 1)
    out["rp2emu_load_default_ok"] = bool(reply.get("ok"))
    reply, ms = _request_ms(board, "load", protocol=WORST)
    out["rp2emu_load_worst_ms"] = round(ms, 1)
    out["rp2emu_load_worst_ok"] = bool(reply.get("ok"))
    if not reply.get("ok"):
        out["rp2emu_load_worst_error"] = reply["error"]["message"]


def _figures(res):
    if res is None:
        raise RuntimeError("the bench hooks left no results on the board")
    out = {}
    t = res["ticks"]
    for name, kind in (
        ("idle", "idle"),
        ("clean", "running"),  # nothing due: rp2emu_tick_running_max_us is every kind's max
        ("ramp_step", "ramp_step"),
        ("train_edge", "train_edge"),
    ):
        k = t[kind]
        if k["samples"]:
            out["rp2emu_tick_%s_median_us" % name] = round(_us(statistics.median(k["samples"])), 1)
            out["rp2emu_tick_%s_max_us" % name] = round(_us(k["max_cycles"]), 1)
            out["rp2emu_tick_%s_n" % name] = k["n"]
    out["rp2emu_tick_idle_us"] = out.get("rp2emu_tick_idle_median_us")
    running = [t[k] for k in ("running", "ramp_step", "train_edge", "state")]
    out["rp2emu_tick_running_max_us"] = round(_us(max(k["max_cycles"] for k in running)), 1)
    n = sum(k["n"] for k in running)
    total = sum(k["sum_cycles"] for k in running)
    period_cycles = pico_config()["tick_ms"] * 1000 * CYCLES_PER_US
    out["rp2emu_tick_cpu_pct"] = round(100.0 * total / (n * period_cycles), 1) if n else None
    out["rp2emu_tick_calibration_cycles"] = res["calib_cycles"]
    if res["starts_n"]:  # how late the timer's callbacks started (hooks.py: the grid)
        on_time = res["start_offset_min_cycles"]
        late = res["start_offset_max_running_cycles"] - on_time
        out["rp2emu_tick_late_max_us"] = round(_us(late), 1)  # a session running
        late = res["start_offset_max_cycles"] - on_time
        out["rp2emu_tick_late_max_all_us"] = round(_us(late), 1)  # flash writes after it
        out["rp2emu_tick_interval_min_us"] = round(_us(res["start_interval_min_cycles"]), 1)
        out["rp2emu_tick_interval_max_us"] = round(_us(res["start_interval_max_cycles"]), 1)
    hooks_bytes = res["hooks_bytes"]
    out["rp2emu_heap_free_boot_kb"] = round((res["free_boot"] + hooks_bytes) / 1024, 1)
    out["rp2emu_heap_free_min_kb"] = round((res["free_min"] + hooks_bytes) / 1024, 1)
    out["rp2emu_hooks_bytes"] = hooks_bytes
    return out


def _profile_of(names):
    if names is None:
        return ()
    keys = [n for n in names.split(",") if n]
    return tuple(
        e for e in hooks.PROFILE if not keys or any(k in "%s.%s" % (e[1], e[2]) for k in keys)
    )


def main(argv=None):
    import argparse

    p = argparse.ArgumentParser(
        prog="python -m tvns_tools.rp2emu.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument(
        "--profile",
        nargs="?",
        const="",
        metavar="NAMES",
        help="also time the tick's callees (hooks.PROFILE, or those whose Class.method "
        "contains one of the comma-separated NAMES): calls, mean and max us each. Each "
        "timed call costs tens of us: the tick rows are not comparable, and with many "
        "methods timed the tick outgrows its period (the watchdog then resets the board: "
        "the figures are those of the calls after the reset; profile a few at a time)",
    )
    args = p.parse_args(argv)
    uf2 = image.find_firmware()
    if uf2 is None:
        print("no MicroPython rp2 UF2 found (set TVNS_RP2_FIRMWARE)", file=sys.stderr)
        return 2
    figures = measure(
        uf2,
        progress=lambda m: print("rp2emu bench: " + m, file=sys.stderr),
        profile=_profile_of(args.profile),
    )
    if args.json:
        print(json.dumps(figures, indent=1))
    else:
        for name, value, goal in rows(figures):
            print("%-48s %-44s %s" % (name, value, goal))
        for line in figures.get("profile_lines", ()):
            print("  (no session_end) %s" % line)
        for name, (n, total, mx) in figures.get("profile", {}).items():
            mean = _us(total / n) if n else 0.0
            print("  %-32s %7d calls  mean %7.1f us  max %7.1f us" % (name, n, mean, _us(mx)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
