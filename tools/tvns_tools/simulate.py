# Longer than ~300 lines: one command over two runtimes and three engines (model, pio, rmt),
# with the trigger trace passed to each; the PIO replay and the ESP32 map checks sit beside it.
"""`tvns simulate`: run the firmware on the sim board in virtual time, under CPython or the
MicroPython runtime (or replay a stretch through the PIO emulator); simout.py writes its
report, VCD trace and plot."""

import json
import pathlib
import subprocess
import sys
import threading
import time

from tvns_tools.firmware import (
    FIRMWARE,
    ToolError,
    import_firmware,
    micropython_binary,
    micropython_env,
)


class InvalidProtocol(ToolError):
    def __init__(self, errors):
        lines = []
        for e in errors:
            line = "%s: %s (%s)" % (e["field"] or "protocol", e["message"], e["code"])
            if e.get("hint"):
                line += "\n      hint: %s" % e["hint"]
            lines.append(line)
        super().__init__("invalid protocol\n  " + "\n  ".join(lines), exit_code=2)
        self.errors = errors


def _with_hints(errors, path):
    """The firmware's errors with the host's hints (unit, range, unit slips, did you mean)."""
    from tvns_tools import protofile

    try:
        doc = json.loads(protofile.read_bytes(path))
    except (ToolError, ValueError, RecursionError):
        doc = None
    out = protofile.teach(errors, doc)
    for e in out:
        if e.get("code") == "no_allocation":
            e["hint"] = (
                "a blinded protocol takes its arm from the device: add --arm active or "
                "--arm sham to simulate one"
            )
    return out


INJECT_KINDS = ("overcurrent", "lead_off", "estop", "stall", "reset", "host_loss")


def parse_inject(spec):
    """'KIND@SECONDS' -> (kind, at_ms), to the microsecond; ToolError naming the problem
    otherwise."""
    kind, sep, at = spec.partition("@")
    if not sep or kind not in INJECT_KINDS:
        raise ToolError(
            "--inject %r: expected KIND@SECONDS with KIND one of %s"
            % (spec, ", ".join(INJECT_KINDS))
        )
    try:
        at_s = float(at)
    except ValueError:
        raise ToolError("--inject %r: SECONDS must be a number" % spec) from None
    if not 0 <= at_s <= 3600:
        raise ToolError("--inject %r: SECONDS must be 0..3600" % spec)
    return kind, round(at_s * 1e6) / 1000  # ms, to the microsecond (a kill mid-phase)


def run(
    path,
    runtime="micropython",
    duration_s=None,
    progress=None,
    inject=(),
    jitter_ms=0,
    log_path=None,
    allocation=None,
    esp32=None,
    trigger=None,
):
    """Simulate the protocol file at path. progress(t_ms, total_ms) is called on the way.
    inject: (kind, at_ms) pairs; jitter_ms: control-tick lateness up to this many ms;
    log_path: where the firmware writes its session log (tvns.log); esp32: an ESP32 pin map
    file to run the firmware's ESP32 board (RMT engine) on the silicon model instead.
    trigger: the trigger input as [(t_s, level)] (trigtrace.read)."""
    duration_ms = None if duration_s is None else int(round(duration_s * 1000))
    if not 0 <= jitter_ms <= 100:
        raise ToolError("--jitter-ms must be 0..100")
    args = (path, duration_ms, progress, inject, jitter_ms, log_path, allocation, esp32, trigger)
    if runtime == "cpython":
        result = _run_cpython(*args)
    elif runtime == "micropython":
        result = _run_micropython(*args)
    else:
        raise ToolError("unknown runtime %r (cpython or micropython)" % runtime)
    if "error" in result:
        raise InvalidProtocol(_with_hints(result["error"], path))
    result["runtime"] = runtime
    return result


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read(64 * 1024)
    except OSError as exc:
        raise ToolError("cannot read %s: %s" % (path, exc.strerror)) from exc


def _run_cpython(
    path, duration_ms, progress, inject, jitter_ms, log_path, allocation, esp32, trigger
):
    import_firmware()
    from tvns.board import simrun
    from tvns.errors import TvnsError

    text = _read(path)
    try:
        board = None
        if esp32 is not None:
            from tvns.board import simesp32

            board = simesp32.SimEsp32Board(simesp32.load_config(str(esp32)), jitter_ms=jitter_ms)
            board.engine.keep_frames = True
        return simrun.simulate(
            text,
            duration_ms,
            progress,
            board=board,
            inject=inject,
            jitter_ms=jitter_ms,
            log_path=None if log_path is None else str(log_path),
            allocation=allocation,
            trigger=trigger,
        )
    except TvnsError as exc:
        return simrun.error_result(exc)


def _run_micropython(
    path, duration_ms, progress, inject, jitter_ms, log_path, allocation, esp32, trigger
):
    _read(path)  # unreadable: one clear line here, not a MicroPython traceback from main.py
    path = pathlib.Path(path).resolve()
    cmd = [micropython_binary(), str(FIRMWARE / "main.py"), "--simulate", str(path)]
    if esp32 is not None:
        cmd += ["--esp32", str(pathlib.Path(esp32).resolve())]
    if duration_ms is not None:
        cmd += ["--duration-ms", str(duration_ms)]
    for kind, at_ms in inject:
        cmd += ["--inject", "%s@%.3f" % (kind, at_ms)]
    if jitter_ms:
        cmd += ["--jitter-ms", str(jitter_ms)]
    if log_path is not None:
        cmd += ["--log", str(pathlib.Path(log_path).resolve())]
    if allocation is not None:
        cmd += ["--arm", allocation]
    trace_file = None
    if trigger:
        import tempfile

        # One "t_us level" pair per line: parsed on the host, read back without floats.
        trace_file = tempfile.NamedTemporaryFile("w", suffix=".trig", delete=False)
        with trace_file:
            for t, level in trigger:
                trace_file.write("%d %d\n" % (round(t * 1e6), level))
        cmd += ["--trigger", trace_file.name]
    try:
        return _spawn(cmd, progress)
    finally:
        if trace_file is not None:
            pathlib.Path(trace_file.name).unlink()


def _spawn(cmd, progress):
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=micropython_env(),
        cwd=str(FIRMWARE),
    )
    errors = []

    def pump_stderr():
        for raw in proc.stderr:
            line = raw.decode("utf-8", "replace").strip()
            if line.startswith('{"progress_ms"'):
                if progress is not None:
                    msg = json.loads(line)
                    progress(msg["progress_ms"], msg["total_ms"])
            elif line:
                errors.append(line)

    pump = threading.Thread(target=pump_stderr, daemon=True)
    pump.start()
    out = proc.stdout.read()
    proc.wait()
    pump.join()
    if proc.returncode not in (0, 2) or not out.strip():
        # The runtime prints uncaught exceptions on stdout.
        text = out.decode("utf-8", "replace").strip().splitlines()
        detail = "\n".join((errors + text)[-20:]) or "no output"
        raise ToolError(
            "firmware under MicroPython failed (exit %d):\n%s" % (proc.returncode, detail)
        )
    result = json.loads(out)
    result["process_wall_s"] = time.perf_counter() - t0
    return result


PIO_MAX_S = 120  # the emulator runs ~3,000 periods/s: keep --engine pio to short stretches
RMT_MAX_S = 900  # --engine rmt keeps every frame (for the VCD): 15 min at most
ESP32_MAP = pathlib.Path(FIRMWARE).parent / "hardware" / "boards" / "esp32-devkitc.json"


def pio_edges(result, duration_s):
    """The same stretch through the real PIO programs (the ones rp2.py loads) in the
    cycle-exact emulator. Returns [(t_us Fraction, phase_a, phase_b)]; PIO edges trail the
    model's by the documented gate-to-first-edge latency of 2 PIO cycles (16 ns at 125 MHz;
    6 cycles when the gate is already on as the state machine starts)."""
    return [(t, a, b) for t, a, b, _s in pio_trace(result, duration_s)[0]]


def pio_trace(result, duration_s):
    """pio_edges with the SYNC pin: ([(t_us, phase_a, phase_b, sync)], the gate windows
    [(on_us, off_us)] that drove the emulated gate pin). The gate is the firmware's (the
    result's gate edges); injected faults act as on the board (pio_block.replay): a stall
    stops the tick's TX FIFO top-ups, an overcurrent or e-stop pulls KILL_n low at its
    exact time, a latched fault or a reset hands the pins back to GPIO low."""
    import_firmware()
    from tvns_tools import pio_block

    edges, gate_us, _snap = pio_block.replay(result, duration_s)
    return edges, gate_us


def _esp32_map(args):
    """The pin map for --engine rmt, checked on the host first (a map the board would refuse
    is refused here, naming the field); the run is capped at RMT_MAX_S."""
    path = pathlib.Path(args.board_config) if args.board_config else ESP32_MAP
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ToolError("--board-config %s: %s" % (path, exc)) from None
    check_esp32_map(config, path)
    if args.duration is not None and args.duration > RMT_MAX_S:
        raise ToolError("--engine rmt keeps every frame: --duration at most %d s" % RMT_MAX_S)
    if args.duration is None:
        args.duration = RMT_MAX_S  # a longer session is cut there (cut_short in the result)
    return path


def check_esp32_map(config, path):
    import_firmware()
    from tvns.board import esp32_pins, esp32_rmt
    from tvns.errors import TvnsError

    try:
        esp32_pins.check(config)
        esp32_rmt.read_config(config)
    except TvnsError as exc:
        raise ToolError("%s: %s (%s)" % (path, exc.message, exc.field)) from None


# ---- the command: `tvns simulate PROTOCOL [...]` (its arguments: cli.argparse_simulate) ----
def cmd_simulate(args):
    from tvns_tools import simout

    progress_cb, bar = _progress(args)
    try:
        inject = [parse_inject(spec) for spec in args.inject]
        if args.engine == "pio" and (
            args.jitter_ms or args.duration is None or args.duration > PIO_MAX_S
        ):
            raise ToolError(
                "--engine pio replays a short stretch: give --duration S (at most %d s) "
                "and no --jitter-ms (the board's tick runs every 1 ms)" % PIO_MAX_S
            )
        trigger = None
        if args.trigger:
            from tvns_tools import trigtrace

            trigger = trigtrace.read(args.trigger)
        esp32 = None
        if args.engine == "rmt":
            esp32 = _esp32_map(args)
        elif args.board_config:
            raise ToolError("--board-config goes with --engine rmt")
        log_path = simout.prepare_out(args.out)
        result = run(
            args.protocol,
            args.runtime,
            args.duration,
            progress_cb,
            inject,
            args.jitter_ms,
            log_path,
            args.arm,
            esp32,
            trigger,
        )
    finally:
        if bar is not None:
            bar.stop()
    edges = None
    if args.engine == "pio":
        edges = pio_trace(result, result["sim_s"])  # (edges with SYNC, gate windows)
        result["pio_edges"] = len(edges[0])
    simout.write_outputs(result, args, log_path, edges)
    simout.print_result(result, args)
    return 0


def _progress(args):
    if args.json or not sys.stderr.isatty():
        return None, None
    from rich.progress import Progress

    bar = Progress(transient=True)
    bar.start()
    task = bar.add_task("simulating (virtual s)", total=None)

    def cb(t_ms, total_ms):
        bar.update(task, completed=t_ms / 1000, total=total_ms / 1000)

    return cb, bar
