# The App's books: what it writes to the store and the session log, and when (main loop
# only, never the control tick). Flash writes never happen while output may be on: a flash
# erase or program masks interrupts on the RP2040 (SAFETY.md H41), so log records and store
# changes wait in RAM and are written outside a session, or in an OFF phase with time to
# spare, the watchdog fed right before. The marker and the exposure go in one store write.
from tvns import VERSION
from tvns import errors as E
from tvns import safety as F
from tvns import session as S

FLUSH_MARGIN_MS = 500  # an OFF phase must have this long left before a flash write


def boot_check(app):
    cause = app.board.reset_cause() if hasattr(app.board, "reset_cause") else None
    if app.store.damaged:
        # Nothing in it is trusted: arm refused, exposure at the cap (exposure.py).
        app._log("store", {"action": "damaged", "why": app.store.damaged})
        app._event({"event": "store", "ok": False, "damaged": app.store.damaged})
        if cause == "watchdog":
            app._record_fault(F.WATCHDOG, 0, latched=False)
        return
    active = app.store.get("active")
    if active is None:
        if cause == "watchdog":
            app._record_fault(F.WATCHDOG, 0, latched=False)
        return
    # A session was cut by a reset: count it as fully delivered, latch, never resume.
    store_update(app, {"exposure": app.exposure.add(active["session_ms"]), "active": None})
    code = F.WATCHDOG if cause == "watchdog" else F.INTERRUPTED
    app.scheduler.fault(code)
    app._fault_seen = code
    app._record_fault(code, 0, latched=True, session=active["name"])
    # The session's end was never written: close it in the log, duration unknown.
    app._log("session_end", {"t_s": None, "state": "FAULT", "reason": F.name(code)})


def start_record(app):
    p = app.protocol
    rec = {
        "protocol": p.doc,
        "derived": p.derived(),
        "firmware_version": VERSION,
        "board": app.board.name,
        "calibration": getattr(app.board, "calibration", None),
        "unix_s": app.host_unix_s(),
        "unix_s_confirmed": app.exposure.confirmed_unix_s(),
        "output_mode": "constant_current",
        "exposure_before_s": app.exposure_used_ms() / 1000,
    }
    if app.meta is not None:
        rec["meta"] = app.meta  # docs/META.md: what only a person knows
    return rec


def store_update(app, changes):
    """A store write from the bookkeeping: a failure damages (locks) the store and is
    announced; it never stops the main loop."""
    try:
        app.store.update(changes)
        return True
    except E.TvnsError:
        app._event({"event": "store", "ok": False, "damaged": app.store.damaged})
        return False


def may_write(app):
    """May the main loop write to flash now? Not while output may be on: a flash write
    masks interrupts on the RP2040. Outside a session, or in OFF with time to spare."""
    s = app.session.state
    if S.RUNNING[s] == 0:
        return True
    sch = app.scheduler
    if s != S.OFF or sch.gate_on or sch.stop_requested:
        return False
    clock = app.board.clock
    return clock.ticks_diff(sch.due_ms, clock.ticks_ms()) >= FLUSH_MARGIN_MS


def flush(app):
    journal = app.journal
    if not journal.queue and not app.store.dirty:
        return
    if app.scheduler.beats != app._last_beats or not app.session.running():
        app.board.wdt.feed()  # a write may take a while; the tick is alive
    if (
        journal.queue
        and not journal.flush(app.keepalive)
        and journal.errors != app._log_errors_seen
    ):
        app._log_errors_seen = journal.errors
        if app.session.state > S.ARMED:
            ev = {"event": "log_error", "error": journal.failed, "t_ms": app.scheduler.elapsed_ms}
        else:
            ev = {"event": "log_error", "error": journal.failed, "t_s": None}
        app._event(ev)
    if app.store.dirty and not app.store.flush():
        app._event({"event": "store", "ok": False, "damaged": app.store.damaged})


def close_books(app, reason, event=False):
    """A session is over: its exposure counted and the marker cleared in one write, its
    end logged (and, for the console, announced). Output is off by now."""
    app._was_running = False
    sch = app.scheduler
    app.store.hold = False
    store_update(app, {"exposure": app.exposure.add(sch.elapsed_ms), "active": None})
    # integer ms in the pending event (Console.event writes t_s); seconds in the log record
    end = {"state": app.state_name, "t_ms": sch.elapsed_ms, "reason": reason}
    if event:
        app._event(dict(end, event="session_end"))
    end = {"state": end["state"], "t_s": sch.elapsed_ms / 1000, "reason": reason}
    end["duration_s"] = sch.elapsed_ms / 1000
    end["pulses"] = app._pulses()
    end["charge_uc"] = app._charge_uc()
    app.journal.append("session_end", end)
    flush(app)
