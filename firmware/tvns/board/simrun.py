# Host-only harness: run one protocol on the sim board in virtual time, under CPython or
# the MicroPython unix runtime, and return a JSON-ready result. Never deployed.
# It plays the main loop of main.py (service every LOOP_MS) and the host (keep-alive), and
# boots the firmware again after a simulated chip reset, as a board would.
import time

from tvns import VERSION
from tvns.app import LOOP_MS, App
from tvns.board.sim import SimBoard
from tvns.trigger_fields import START

PROGRESS_EVERY_MS = 10000  # virtual time between progress callbacks


def _wall_s_since(start):
    """Wall time since start (from _wall_start()), in seconds, on either runtime."""
    if hasattr(time, "ticks_us"):  # MicroPython: wrapping microsecond ticks
        return time.ticks_diff(time.ticks_us(), start) / 1e6
    return time.perf_counter() - start


def _wall_start():
    return time.ticks_us() if hasattr(time, "ticks_us") else time.perf_counter()


def simulate(
    source,
    duration_ms=None,
    progress=None,
    board=None,
    inject=(),
    jitter_ms=0,
    log_path=None,
    allocation=None,
    trigger=None,
):
    """source: protocol text or dict. duration_ms cuts the run short (None: the whole
    session). progress(t_ms, total_ms) is called every PROGRESS_EVERY_MS of virtual time.
    inject: (kind, at_ms) pairs, kind in sim.INJECT_KINDS. log_path: write the session log
    (tvns.log) there. allocation: "active" or "sham" for a blinded protocol (what the
    investigator's `allocate` stores on a board). trigger: the trigger input as
    [(t_s, level 0/1)], a step function from the session's start (level 0 before the first
    row; docs/GATING.md). Raises TvnsError (with .errors) for an invalid protocol."""
    board = board or SimBoard(jitter_ms=jitter_ms)
    if allocation is not None:
        board.store.put("allocation", allocation)
    log = None
    if log_path is not None:
        from tvns.log import Log

        log = Log(log_path, sync=False)  # a host file: no flash to protect, keep it fast
    app = App(board, log)
    proto = app.load(source)
    total_ms = proto.session_ms if duration_ms is None else min(duration_ms, proto.session_ms)
    if proto.trigger is not None and proto.trigger.mode == START:  # waits for its edge
        total_ms = duration_ms if duration_ms is not None else proto.session_ms + 3600000
    segments, states, faults, gate_edges = [], [], [], []
    wall0 = _wall_start()
    app.arm()
    app.start()
    # Time 0 of the run is the session's start: the millisecond the scheduler counts from
    # (on the sim board loading costs no time; on the ESP32 model the engine's load, its
    # channels made and primed, takes some us).
    origin_us = board.clock.now_us // 1000 * 1000
    for kind, at_ms in inject:
        board.inject(kind, at_ms, origin_us)
    trigger_edges, marker_edges, trigger_events = [], [], []
    if trigger:
        board.set_trigger_trace([(origin_us + int(round(t * 1e6)), lv) for t, lv in trigger])
    offset_ms = 0  # where the present boot's times start (0 for the first)
    seen = 0
    resets = board.resets
    next_progress = PROGRESS_EVERY_MS
    while True:
        elapsed_ms = (board.clock.now_us - origin_us) // 1000
        if elapsed_ms >= total_ms or not (app.session.running() or board.stalled):
            break
        step = LOOP_MS if total_ms - elapsed_ms > LOOP_MS else total_ms - elapsed_ms
        board.idle_ms(step)
        if board.resets != resets:  # the chip reset: the firmware boots again
            resets = board.resets
            _collect(app, offset_ms, states, faults, seen, board, origin_us)
            offset_ms = (board.reset_log[-1][0] - origin_us) // 1000
            app = App(board, log)
            seen = 0
        if board.stalled:
            continue  # the main loop is hung too: no service, no host traffic
        if not board.host_lost:
            app.host_seen()
        app.service()
        seen = _collect(app, offset_ms, states, faults, seen, board, origin_us)
        board.engine.drain(segments)
        board.engine.drain_gate(gate_edges)
        _drain_trigger(app, board, marker_edges, trigger_events)
        if progress is not None and elapsed_ms >= next_progress:
            progress(elapsed_ms, total_ms)
            next_progress += PROGRESS_EVERY_MS
    cut_short = app.session.running()
    board.engine.drain(segments, flush=True)
    if cut_short:
        app.abandon("duration")  # the run was cut short: output off, as at any end
    app.service()
    _collect(app, offset_ms, states, faults, seen, board, origin_us)
    board.engine.drain_gate(gate_edges)
    _drain_trigger(app, board, marker_edges, trigger_events)
    for t, lv in trigger or ():
        if not trigger_edges or trigger_edges[-1][1] != lv:
            trigger_edges.append([int(round(t * 1e6)), lv])
    if log is not None:
        log.close()
    wall_s = _wall_s_since(wall0)
    sim_ms = (board.clock.now_us - origin_us) // 1000
    pulses = 0
    for seg in segments:
        seg[0] -= origin_us
        pulses += seg[2]
    for edge in gate_edges:
        edge[0] -= origin_us
    for edge in marker_edges:
        edge[0] -= origin_us
    extra = {}
    if hasattr(board.engine, "result"):  # the ESP32 model: its counters, the frames' edges
        extra = board.engine.result(origin_us)
    result = {
        "firmware_version": VERSION,
        "board": board.name,
        "protocol": proto.doc,
        "derived": proto.derived(),
        "pulses": pulses,
        "sim_s": sim_ms / 1000,
        "wall_s": wall_s,
        "final_state": app.state_name,
        "cut_short": cut_short,
        "states": states,
        "faults": faults,
        "injected": [[(t - origin_us) / 1e6, k] for t, k in board.injected],
        "resets": [[(t - origin_us) / 1e6, c] for t, c in board.reset_log],
        "cut_pulses": board.engine.cut_pulses,
        "segments": segments,
        "segment_fields": ["start_us", "period_us", "count", "amp_ua", "width_us", "gap_us"],
        "engine_lost_segments": board.engine.lost,
        "engine_starved": board.engine.starved,  # pulses that waited for a late feed
        "kill_path": board.kill is not None,  # the board's hardware kill input
        "gate_edges": gate_edges,  # [t_us, level]: the gate wire (engine.gate and stops)
        "gate_lost": board.engine.gate_lost,
        "trigger_edges": trigger_edges,  # [t_us, level]: the trigger input as fed
        "marker_edges": marker_edges,  # [t_us, level]: the marker output (train onsets)
        "trigger_events": trigger_events,  # [t_s, event]: the firmware's view (the log's)
        "history_lost": app.session.history_lost,
        "wdt_feeds": board.wdt.feeds,
        "tick_calls": board.tick_calls,
        "jitter_ms": board.jitter_ms,
    }
    for k in extra:
        result[k] = extra[k]
    return result


def _drain_trigger(app, board, marker_edges, trigger_events):
    marker = getattr(board, "marker", None)
    if marker is not None and hasattr(marker, "drain"):
        marker.drain(marker_edges)
    rest = []
    for ev in app.events:  # taken out as collected: the app keeps the others
        if ev.get("event") == "trigger":
            trigger_events.append([ev["t_ms"] / 1000, ev["trigger"]])
        else:
            rest.append(ev)
    app.events = rest


def _collect(app, offset_ms, states, faults, seen, board, origin_us):
    """Move the app's new states and faults into the run's timeline (times from the first
    start). Returns how many of the app's faults (faults_total) are now collected."""
    if app.states:
        for t_ms, name in app.states:
            states.append([(offset_ms + t_ms) / 1000, name])
        app.states.clear()  # collected: the next pass must not hand them over again
    new = app.faults_total - seen  # app.faults keeps only the last few: take the new ones
    if new <= 0:
        return seen
    for rec in app.faults[-new:]:
        rec = dict(rec)
        rec["t_s"] = (offset_ms + rec.pop("t_ms")) / 1000
        off_us = board.engine.last_off_us
        if board.engine.gated or off_us < 0:
            rec["output_off_s"] = None
        else:
            rec["output_off_s"] = (off_us - origin_us) / 1e6
        faults.append(rec)
    return app.faults_total


def error_result(exc):
    errs = getattr(exc, "errors", None) or [exc]
    return {"error": [e.as_dict() for e in errs]}
