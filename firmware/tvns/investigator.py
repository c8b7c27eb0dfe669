# What only the investigator may do (docs/BLINDING.md): set or change the PIN, allocate
# the blinded arm, unblind, raise the per-participant ceiling, clear the daily exposure.
# Each takes the App and the PIN from the request; tvns/lock.py checks it and rate-limits
# wrong ones. Main loop only; the console refuses the configuring ones while stimulating.
from tvns import errors as E

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
    if ceiling_ua > app.scheduler.ceiling_ua:
        app.lock.check(pin)
    app.scheduler.ceiling_ua = ceiling_ua
    app.store.put("ceiling_ua", ceiling_ua if ceiling_ua < top else None)


def clear_exposure(app, pin):
    """Forget today's exposure (a new participant on the same board, say). Needs a PIN to
    exist and to be given: it overrides the 4 h daily cap."""
    app.lock.check(pin, always=True)
    app.store.put("exposure", [app.day, 0])
