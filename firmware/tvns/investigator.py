# What only the investigator may do (docs/BLINDING.md): set or change the PIN, allocate
# the blinded arm, unblind, raise the per-participant ceiling, clear the daily exposure,
# re-provision a damaged store, open the REPL. Each takes the App and the PIN from the
# request; tvns/lock.py checks it and rate-limits wrong ones. Main loop only; the console
# refuses the configuring ones while stimulating.
from tvns import errors as E
from tvns.exposure import CAP_MS
from tvns.lock import pin_record

ARMS = ("active", "sham")


def set_pin(app, new_pin, pin):
    app.lock.set_pin(new_pin, pin)


def allocate(app, arm, pin):
    """Store the blinded arm. Needs a PIN to exist and to be given."""
    if arm not in ARMS:
        raise E.TvnsError(E.BAD_FIELD, 'arm must be "active" or "sham"', "arm")
    app.lock.check(pin, always=True)
    app.store.put("allocation", arm)


def unblind(app, pin):
    """The allocation ("active", "sham" or None), for the investigator only."""
    app.lock.check(pin, always=True)
    return app.store.get("allocation")


def set_ceiling(app, ceiling_ua, pin):
    """Lower freely; raising needs the PIN (when one is set); never above the board's."""
    top = app.board_ceiling_ua
    if not 1 <= ceiling_ua <= top:
        msg = "ceiling_ma must be 0.001..%g mA (this board's ceiling)" % (top / 1000)
        raise E.TvnsError(E.OUT_OF_RANGE, msg, "ceiling_ma")
    lower = ceiling_ua <= app.scheduler.ceiling_ua
    if lower:
        app.scheduler.ceiling_ua = ceiling_ua  # in force at once, even if it cannot be stored
    else:
        app.lock.check(pin)
    app.store.put("ceiling_ua", ceiling_ua if ceiling_ua < top else None)
    app.scheduler.ceiling_ua = ceiling_ua  # a raise: only once it is stored


def clear_exposure(app, pin):
    """Forget the exposure window (a new participant on the same board, say). Needs a PIN
    to exist and to be given: it overrides the 4 h daily cap."""
    app.lock.check(pin, always=True)
    app.store.put("exposure", app.exposure.clear())


def reset_store(app, pin):
    """Re-provision a damaged store. The PIN is checked against every PIN record still
    readable (the backup, or what the damaged or version-1 file shows); with none readable,
    no PIN was ever set and none is asked. The new store keeps that PIN (re-hashed with
    PBKDF2) and starts the exposure window full (the cap used now: the damaged store may
    have held a day's sessions); allocation and ceiling are set again by the investigator.
    Logged as a `store` record. Returns {"pin_kept"}."""
    store = app.store
    if not store.damaged:
        raise E.TvnsError(E.BAD_STATE, "reset_store: the store is not damaged")
    refs = store.references
    if refs:
        if pin is None:
            raise E.TvnsError(E.PIN_REQUIRED, "reset_store needs the investigator PIN", "pin")
        app.lock.verify(refs, pin, legacy=True)
    why = store.damaged
    app.exposure.entries = [[app.exposure.dev_s(), CAP_MS]]
    data = {"exposure": app.exposure.record()}
    if refs:
        data["pin"] = pin_record(pin)
    store.reset(data)
    app.lock.fails = 0
    app.scheduler.ceiling_ua = app.board_ceiling_ua
    app._log("store", {"action": "reset", "why": why, "pin_kept": bool(refs)})
    return {"pin_kept": bool(refs)}


def open_repl(app, pin):
    """Let Ctrl-C reach the REPL until the next boot (`tvns deploy` needs it). Needs a PIN
    to exist and to be given."""
    app.lock.check(pin, always=True)
    app.repl_open = True
