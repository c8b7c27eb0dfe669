# Perception-threshold titration on the device (PROTOCOL.md "Titration", docs/GATING.md's
# sibling in the docs): the staircase (tvns/staircase.py) runs here; each trial is a short
# protocol built from the titration's parameters and run through the ordinary path (the
# validator and its hard limits, the ceiling, arm's self-test and exposure check, start, the
# tick's ramp and monitors, the log, and the daily exposure, which counts every trial).
# A trial: ramp up by the ramp rule (>= 1 s, one 0.1 mA step per pulse period at most), then
# `pulses` pulses at the trial amplitude, then nothing (its ramp down begins in an OFF
# phase, so it delivers nothing: docs/PROTOCOL-FORMAT.md). The operator answers felt / not
# felt; the result (threshold, every trial) is logged as `titration` records.
# Main loop only (console commands).
from tvns import checks as C
from tvns import errors as E
from tvns import limits as L
from tvns import protocol as P
from tvns import session as S
from tvns.staircase import Staircase

# name -> (places, default, lo, hi, resolution): values in units of 10**-places of the
# field's own unit (uA for _ma, 0.01 cm2 for the area), judged by the protocol's one exact
# rule (checks.check_number) so a board with single floats gives the host's verdict.
PARAMS = (
    ("start_ma", 3, 200, 100, 5000, "0.001 mA"),
    ("rise_ma", 3, 200, 50, 500, "0.001 mA"),
    ("up_ma", 3, 100, 10, 500, "0.001 mA"),
    ("down_ma", 3, 300, 10, 1000, "0.001 mA"),
    ("cap_ma", 3, 3000, 100, L.TITRATION_CAP_MAX_UA, "0.001 mA"),
    ("reversals", 0, 8, 2, L.TITRATION_REVERSALS_MAX, "1"),
    ("pulses", 0, 15, 1, 100, "1"),
    ("pulse_width_us", 0, 200, L.WIDTH_MIN_US, L.WIDTH_MAX_US, "1 us"),
    ("frequency_hz", 0, 25, L.FREQ_MIN_HZ, L.FREQ_MAX_HZ, "1 Hz"),
    ("electrode_area_cm2", 2, 100, L.AREA_MIN_CM2_X100, L.AREA_MAX_CM2_X100, "0.01 cm2"),
)
_PLACES = {p[0]: p[1] for p in PARAMS}


def read_params(given):
    """The request's params (dict or None) with defaults, in units (see PARAMS); TvnsError
    naming the first bad field (params.<name>), with the others on its .errors."""
    given = given or {}
    if not isinstance(given, dict):
        raise E.TvnsError(E.BAD_FIELD, "params must be an object", "params")
    errs = []
    for k in given:
        if k not in _PLACES:
            msg = "params.%s: unknown (known: %s)" % (k, ", ".join(p[0] for p in PARAMS))
            errs.append(E.TvnsError(E.BAD_FIELD, msg, "params." + str(k)))
    out = {}
    for name, places, default, lo, hi, unit in PARAMS:
        if name not in given:
            out[name] = default
            continue
        v = given[name]
        field = "params." + name
        if type(v) is not int and type(v) is not float:
            errs.append(E.TvnsError(E.TYPE, "%s must be a number" % field, field))
            continue
        text = str(v) if type(v) is int else P._float_text(v)  # the text a person typed
        x = C.check_number(errs, field, text, places, lo, hi, unit)
        if x is not None:
            out[name] = x
    if errs:
        errs[0].errors = errs
        raise errs[0]
    return out


class Titration:
    def __init__(self, params, ceiling_ua):
        cap = params["cap_ma"] if params["cap_ma"] < ceiling_ua else ceiling_ua
        self.params = params
        self.stair = Staircase(
            params["start_ma"],
            params["rise_ma"],
            params["up_ma"],
            params["down_ma"],
            params["reversals"],
            cap,
        )
        self.trial_n = 0
        self.awaiting = False  # a trial ran: the next step is the operator's answer
        self.aborted = None

    def trial_doc(self, amp_ua):
        """The trial as a protocol (validated like any other before it runs)."""
        p = self.params
        period_ms = -(-1000 // p["frequency_hz"])
        on_ms = p["pulses"] * 1000 // p["frequency_hz"]
        if on_ms < L.TRAIN_MIN_MS:
            on_ms = L.TRAIN_MIN_MS
        steps = -(-amp_ua // L.RAMP_STEP_MAX_UA)
        up_ms = steps * (period_ms + 1) + 1
        if up_ms < L.RAMP_UP_MIN_MS:
            up_ms = L.RAMP_UP_MIN_MS
        off_ms = 1000
        # the ramp down begins where the OFF phase does: nothing after the train
        return {
            "schema": 1,
            "name": "titration-%d" % self.trial_n,
            "amplitude_ma": amp_ua / 1000,
            "pulse_width_us": p["pulse_width_us"],
            "interphase_gap_us": 0,
            "frequency_hz": p["frequency_hz"],
            "on_s": on_ms / 1000,
            "off_s": off_ms / 1000,
            "ramp_up_s": up_ms / 1000,
            "ramp_down_s": off_ms / 1000,
            "session_s": (up_ms + on_ms + off_ms) / 1000,
            "electrode_area_cm2": p["electrode_area_cm2"] / 100,
            "sham": False,
        }

    def status(self):
        s = self.stair
        return {
            "trials": len(s.trials),
            "next_ma": None if s.done else s.amp_ua / 1000,
            "reversals": len(s.reversal_ua),
            "awaiting_answer": self.awaiting,
            "done": s.done or self.aborted is not None,
            "outcome": self.aborted or s.outcome,
            "threshold_ma": None if s.threshold_ua() is None else s.threshold_ua() / 1000,
        }

    def result(self):
        s = self.stair
        th = s.threshold_ua()
        return {
            "event": "result",
            "outcome": self.aborted or s.outcome,
            "threshold_ma": None if th is None else th / 1000,
            "trials": [[a / 1000, f] for a, f in s.trials],
            "reversals_ma": [a / 1000 for a in s.reversal_ua],
            "params": _shown(self.params),
        }


def _shown(params):
    """params in their documented units (mA, cm2), as the request spelled them."""
    return {k: (v / 10 ** _PLACES[k] if _PLACES[k] else v) for k, v in params.items()}


# ---- the commands (console; app: the App) ----
def start(app, params, pin):
    if app.session.running():
        raise E.TvnsError(E.BUSY, "titrate refused while stimulating; stop first")
    if not app.store.damaged:
        app.lock.check(pin)  # as load: with a PIN set, only the investigator titrates
    t = Titration(read_params(params), app.scheduler.ceiling_ua)
    app.titration = t
    app._log("titration", {"event": "start", "params": _shown(t.params)})
    return t.status()


def trial(app):
    """Run the next trial: its protocol loaded, armed, started. Returns its amplitude."""
    t = _need(app)
    if t.awaiting:
        raise E.TvnsError(E.BAD_STATE, "answer the last trial first (felt or not)")
    if t.stair.done or t.aborted:
        raise E.TvnsError(E.BAD_STATE, "the titration is over: titrate starts a new one")
    if app.session.running():
        raise E.TvnsError(E.BUSY, "a session is running")
    amp = t.stair.amp_ua
    t.trial_n += 1
    proto, errs = P.validate(t.trial_doc(amp), app.scheduler.ceiling_ua)
    if proto is None:
        first = errs[0]
        first.errors = errs
        raise first
    proto.derived()
    if app.session.state != S.IDLE and app.session.allowed(S.EV_RESET):
        app.session.fire(S.EV_RESET, 0)
    app.scheduler.load(proto)
    app.protocol = proto
    if app.session.state == S.ARMED:
        app.session.fire(S.EV_DISARM, 0)
    app.arm()
    app.start({"titration_trial": str(t.trial_n)})
    t.awaiting = True
    return {"trial": t.trial_n, "amplitude_ma": amp / 1000}


def answer(app, felt):
    t = _need(app)
    if not t.awaiting:
        raise E.TvnsError(E.BAD_STATE, "no trial to answer: run one first")
    if app.session.running():
        raise E.TvnsError(E.BUSY, "the trial is still running")
    if not isinstance(felt, bool):
        raise E.TvnsError(E.BAD_FIELD, "felt must be true or false", "felt")
    t.awaiting = False
    rec = {"event": "trial", "trial": t.trial_n, "amplitude_ma": t.stair.amp_ua / 1000}
    if app.session.state != S.DONE:
        # stopped, faulted: the answer would not be about this stimulus; the run ends here
        t.aborted = "trial_" + S.NAMES[app.session.state].lower()
        rec["felt"] = None
        rec["state"] = S.NAMES[app.session.state]
        app._log("titration", rec)
        app._log("titration", t.result())
        return t.status()
    rec["felt"] = felt
    app._log("titration", rec)
    if t.stair.answer(felt):
        app._log("titration", t.result())
    return t.status()


def abort(app):
    t = _need(app)
    if t.aborted is None and not t.stair.done:
        t.aborted = "aborted"
        app._log("titration", t.result())
    return t.status()


def _need(app):
    t = getattr(app, "titration", None)
    if t is None:
        raise E.TvnsError(E.BAD_STATE, "no titration: send titrate first")
    return t
