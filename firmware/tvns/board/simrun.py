# Host-only harness: run one protocol on the sim board in virtual time, under CPython or
# the MicroPython unix runtime, and return a JSON-ready result. Never deployed.
import time

from tvns import VERSION
from tvns.app import LOOP_MS, App
from tvns.board.sim import SimBoard

PROGRESS_EVERY_MS = 10000  # virtual time between progress callbacks


def _wall_s_since(start):
    """Wall time since start (from _wall_start()), in seconds, on either runtime."""
    if hasattr(time, "ticks_us"):  # MicroPython: wrapping microsecond ticks
        return time.ticks_diff(time.ticks_us(), start) / 1e6
    return time.perf_counter() - start


def _wall_start():
    return time.ticks_us() if hasattr(time, "ticks_us") else time.perf_counter()


def simulate(source, duration_ms=None, progress=None, board=None):
    """source: protocol text or dict. duration_ms cuts the run short (None: the whole
    session). progress(t_ms, total_ms) is called every PROGRESS_EVERY_MS of virtual time.
    Raises TvnsError (with .errors) for an invalid protocol."""
    board = board or SimBoard()
    app = App(board)
    proto = app.load(source)
    origin_us = board.clock.now_us
    total_ms = proto.session_ms if duration_ms is None else min(duration_ms, proto.session_ms)
    segments = []
    wall0 = _wall_start()
    app.arm()
    app.service()
    app.start()
    next_progress = PROGRESS_EVERY_MS
    elapsed_ms = 0
    while app.session.running():
        elapsed_ms = (board.clock.now_us - origin_us) // 1000
        if elapsed_ms >= total_ms:
            break
        step = LOOP_MS if total_ms - elapsed_ms > LOOP_MS else total_ms - elapsed_ms
        board.idle_ms(step)
        app.service()
        board.engine.drain(segments)
        if progress is not None and elapsed_ms >= next_progress:
            progress(elapsed_ms, total_ms)
            next_progress += PROGRESS_EVERY_MS
    cut_short = app.session.running()
    board.engine.drain(segments, flush=True)
    if cut_short:
        board.safe_off()  # the run was cut short: output off, as at any end
    app.service()
    wall_s = _wall_s_since(wall0)
    sim_ms = (board.clock.now_us - origin_us) // 1000
    for seg in segments:
        seg[0] -= origin_us
    pulses = 0
    for seg in segments:
        pulses += seg[2]
    return {
        "firmware_version": VERSION,
        "board": board.name,
        "protocol": proto.doc,
        "derived": proto.derived(),
        "pulses": pulses,
        "sim_s": sim_ms / 1000,
        "wall_s": wall_s,
        "final_state": app.state_name,
        "cut_short": cut_short,
        "states": [[t / 1000, name] for t, name in app.states],
        "faults": [],
        "segments": segments,
        "segment_fields": ["start_us", "period_us", "count", "amp_ua", "width_us", "gap_us"],
        "engine_lost_segments": board.engine.lost,
        "history_lost": app.session.history_lost,
        "wdt_feeds": board.wdt.feeds,
        "tick_calls": board.tick_calls,
    }


def error_result(exc):
    errs = getattr(exc, "errors", None) or [exc]
    return {"error": [e.as_dict() for e in errs]}
