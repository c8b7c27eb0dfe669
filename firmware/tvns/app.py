# The application: one protocol, one session, one scheduler on one board.
# Every command goes through here; the board is injected, never created.
# Longer than ~300 lines on purpose: App is the one door every command and the main loop
# go through (the busy policy and the abort path rely on that); what needs none of its
# state already lives beside it (session, scheduler, investigator, lock).
#
# Persistent state (board.store, a tiny key-value store that survives resets):
#   "active":   set before output starts, cleared when the session ends. Found at boot, it
#               means a reset or power loss cut the session: FAULT latched, never resumed.
#   "exposure": [day, used_ms], the daily exposure (4 h cap) across sessions and reboots.
#               day is from the host's set_time; -1 = unknown, and then it never resets by
#               itself (the conservative side).
#   "allocation": "active" | "sham", the investigator's arm for blinded protocols; never
#               written to the log, told only by `unblind` (docs/BLINDING.md).
#   "ceiling_ua": the investigator's per-participant ceiling (tvns/investigator.py).
#   "pin", "pin_fails": the investigator lock (tvns/lock.py).
from tvns import VERSION
from tvns import errors as E
from tvns import limits as L
from tvns import protocol as P
from tvns import safety as F
from tvns import session as S
from tvns.lock import PinLock
from tvns.scheduler import Scheduler

LOOP_MS = 100  # main-loop period: WDT feed, history, console
_EVENTS_MAX = 256  # pending events kept for the console; the oldest go first


class App:
    def __init__(self, board, log=None):
        """log: a tvns.log.Log for the power-cut-safe session log (None: no log). Written
        here, from commands and the main loop only, never from the control tick."""
        self.board = board
        self.log = log
        self.store = board.store
        self.session = S.Session()
        self.scheduler = Scheduler(board, self.session)
        self.lock = PinLock(self.store, board.clock)
        self.board_ceiling_ua = self.scheduler.ceiling_ua  # the investigator's may be lower
        mine = self.store.get("ceiling_ua")
        if mine is not None and mine < self.board_ceiling_ua:
            self.scheduler.ceiling_ua = mine
        self.protocol = None
        self.states = []  # (elapsed_ms, state name) drained from the ring by the last pass
        self.faults = []  # dicts: every fault with its time, kept for reports
        self.events = []  # pending event dicts for the console
        self.events_dropped = 0
        self.day = -1  # days since 1970 from set_time; -1 unknown
        self._last_beats = -1
        self._was_running = False
        self._fault_seen = F.NONE
        self._boot_check()

    # ---- start-up ----
    def _boot_check(self):
        cause = self.board.reset_cause() if hasattr(self.board, "reset_cause") else None
        active = self.store.get("active")
        if active is None:
            if cause == "watchdog":
                self._record_fault(F.WATCHDOG, 0, latched=False)
            return
        # A session was cut by a reset: count it as fully delivered, latch, never resume.
        self._add_exposure(active.get("session_ms", 0), active.get("day", -1))
        self.store.put("active", None)
        code = F.WATCHDOG if cause == "watchdog" else F.INTERRUPTED
        self.scheduler.fault(code)
        self._fault_seen = code
        self._record_fault(code, 0, latched=True, session=active.get("name"))
        # The session's end was never written: close it in the log, duration unknown.
        self._log("session_end", {"t_s": None, "state": "FAULT", "reason": F.name(code)})

    # ---- commands ----
    @property
    def state_name(self):
        return S.NAMES[self.session.state]

    @property
    def blinded(self):
        return self.protocol is not None and self.protocol.blinded

    def load(self, source, pin=None):
        """source: protocol text/bytes or a decoded dict. Raises TvnsError (the first problem)
        with .errors holding all of them; nothing changes unless the protocol is valid.
        With an investigator PIN set, pin must be it."""
        if self.session.running():
            raise E.TvnsError(E.BUSY, "load refused while stimulating; stop first")
        self.lock.check(pin)
        ceiling = self.scheduler.ceiling_ua
        if isinstance(source, dict):
            proto, errs = P.validate(source, ceiling)
        else:
            proto, errs = P.parse(source, ceiling)
        if proto is None:
            first = errs[0]
            first.errors = errs
            raise first
        self.scheduler.load(proto)
        self.protocol = proto
        if self.session.state == S.ARMED:
            self.session.fire(S.EV_DISARM, 0)  # a new protocol needs a new arm
        return proto

    def arm(self):
        if self.protocol is None:
            raise E.TvnsError(E.NO_PROTOCOL, "arm needs a valid protocol loaded")
        if not self.session.allowed(S.EV_ARM):
            raise E.TvnsError(E.BAD_STATE, "cannot arm in state %s" % self.state_name)
        if self.protocol.amplitude_ua > self.scheduler.ceiling_ua:
            msg = "amplitude_ma=%g is above the ceiling of %g mA" % (
                self.protocol.amplitude_ua / 1000,
                self.scheduler.ceiling_ua / 1000,
            )
            raise E.TvnsError(E.ABOVE_CEILING, msg, "amplitude_ma")
        if self.protocol.blinded and self.store.get("allocation") is None:
            raise E.TvnsError(E.NO_ALLOCATION, "blinded protocol: no arm allocated on this device")
        problem = self._self_test()
        if problem:
            raise E.TvnsError(E.SELF_TEST, "arm refused: %s" % problem)
        used = self.exposure_used_ms()
        if used + self.protocol.session_ms > L.DAILY_EXPOSURE_MAX_S * 1000:
            msg = "session_s=%g would exceed the daily exposure cap: %g of %g s used" % (
                self.protocol.session_ms / 1000,
                used / 1000,
                L.DAILY_EXPOSURE_MAX_S,
            )
            raise E.TvnsError(E.EXPOSURE_CAP, msg, "session_s")
        self.session.fire(S.EV_ARM, 0)

    def start(self):
        if self.session.state != S.ARMED:
            raise E.TvnsError(E.BAD_STATE, "start needs an ARMED session")
        if self.protocol.blinded:
            arm = self.store.get("allocation")
            if arm is None:
                raise E.TvnsError(E.NO_ALLOCATION, "blinded protocol: no arm allocated")
            self.scheduler.use_arm(arm == "sham")  # the arm, known from here on
        # Written before any output: a reset from here on is found at the next boot.
        self.store.put(
            "active",
            {"name": self.protocol.name, "session_ms": self.protocol.session_ms, "day": self.day},
        )
        self._was_running = True
        self._log(
            "session_start",
            {
                "protocol": self.protocol.doc,
                "derived": self.protocol.derived(),
                "firmware_version": VERSION,
                "board": self.board.name,
                "calibration": getattr(self.board, "calibration", None),
                "unix_day": self.day if self.day >= 0 else None,
                "output_mode": "constant_current",
                "exposure_before_s": self.exposure_used_ms() / 1000,
            },
        )
        self.scheduler.start()
        self.board.ticker.start(self.scheduler)

    def stop(self):
        self.scheduler.stop()

    def clear(self):
        if self.session.state != S.FAULT:
            raise E.TvnsError(E.BAD_STATE, "clear: no fault latched (state %s)" % self.state_name)
        problem = self._self_test()
        if problem:
            raise E.TvnsError(E.FAULT_PRESENT, "clear refused: %s" % problem)
        self.session.fire(S.EV_CLEAR, self.scheduler.elapsed_ms)
        self.scheduler.fault_code = F.NONE
        self._fault_seen = F.NONE

    def abandon(self, reason):
        """End a running session where it stands (the simulator's --duration): output off
        at once, the books closed, the reason logged. Not a fault."""
        if not self.session.running():
            return
        self.board.safe_off()
        self._close_books(reason)

    def set_time(self, unix_s):
        if type(unix_s) not in (int, float) or not 1e9 <= unix_s < 1e10:
            raise E.TvnsError(E.OUT_OF_RANGE, "unix_s must be seconds since 1970", "unix_s")
        self.day = int(unix_s // 86400)

    def host_seen(self):
        self.scheduler.host_ms = self.board.clock.ticks_ms()

    # ---- checks and bookkeeping (main loop only) ----
    def _self_test(self):
        """'' when the output stage may run, else what is wrong."""
        if self.board.estop.pressed():
            return "the e-stop is asserted"
        test = getattr(self.board.sense, "self_test", None)
        code = test() if test is not None else F.NONE
        if code != F.NONE:
            return "output stage self-test found %s" % F.name(code)
        return ""

    def exposure_used_ms(self):
        rec = self.store.get("exposure") or [-1, 0]
        day, used = rec[0], rec[1]
        if day >= 0 and self.day >= 0 and day != self.day:
            return 0  # a new day
        return used

    def _add_exposure(self, ms, day=None):
        day = self.day if day is None else day
        used = self.exposure_used_ms()
        self.store.put("exposure", [day if day >= 0 else self.day, used + ms])

    def _record_fault(self, code, t_ms, latched=True, session=None):
        rec = {"fault": F.name(code), "t_s": t_ms / 1000, "latched": latched}
        if session:
            rec["session"] = session
        self.faults.append(rec)
        self._event(dict(rec, event="fault"))
        self._log("fault", rec)

    def _log(self, kind, fields):
        if self.log is not None:
            self.log.try_append(kind, fields)  # a full or failing flash must not stop us

    def _event(self, ev):
        if len(self.events) >= _EVENTS_MAX:
            self.events.pop(0)
            self.events_dropped += 1
        self.events.append(ev)

    def service(self):
        """One main-loop pass: feed the watchdog only if the tick is alive, drain history,
        turn state changes and faults into events, close a finished session's books."""
        sch = self.scheduler
        # Outside a session the tick has nothing to do (and a board may not run it).
        if sch.beats != self._last_beats or not self.session.running():
            self.board.wdt.feed()
            self._last_beats = sch.beats
        # states holds this pass's changes only (bounded; the simulator reads it after each
        # pass). Nothing is allocated on a pass without changes: the loop runs every 100 ms.
        buf = self.states
        if buf:
            buf.clear()
        self.session.drain(buf)
        if buf:
            for t_ms, name in buf:
                self._event({"event": "state", "state": name, "t_s": t_ms / 1000})
                self._log("state", {"t_s": t_ms / 1000, "state": name})
        if sch.fault_code != F.NONE and sch.fault_code != self._fault_seen:
            self._fault_seen = sch.fault_code
            self._record_fault(sch.fault_code, sch.fault_ms)
        if self._was_running and not self.session.running():
            reason = F.name(sch.stop_reason) if sch.stop_reason else None
            if reason:
                self._record_fault(sch.stop_reason, sch.stop_ms, latched=False)
            self._close_books(reason or self.state_name.lower(), event=True)

    def _close_books(self, reason, event=False):
        """A session is over: its exposure counted, the marker cleared, its end logged (and,
        for the console, announced)."""
        self._was_running = False
        sch = self.scheduler
        self._add_exposure(sch.elapsed_ms)
        self.store.put("active", None)
        end = {"state": self.state_name, "t_s": sch.elapsed_ms / 1000, "reason": reason}
        if event:
            self._event(dict(end, event="session_end"))
        end["duration_s"] = sch.elapsed_ms / 1000
        end["pulses"] = self._pulses()
        end["charge_uc"] = self._charge_uc()
        self._log("session_end", end)

    def pop_events(self):
        out = self.events
        self.events = []
        return out

    def _pulses(self):
        """Pulses delivered so far; None when blinded (the count would tell the arm)."""
        pulses = getattr(self.board.engine, "pulses", None)
        return pulses() if pulses is not None and not self.blinded else None

    def _charge_uc(self):
        """Phase charge delivered (uC) where the engine counts it (the sim board; a board
        engine does not yet); None when blinded."""
        charge = getattr(self.board.engine, "charge_uc", None)
        return charge() if charge is not None and not self.blinded else None

    def status(self):
        sch = self.scheduler
        # Blinded: the nominal (active arm's) amplitude, whatever the arm delivers.
        amp_ua = sch.nom_ua if self.blinded else sch.amp_ua
        return {
            "state": self.state_name,
            "elapsed_s": sch.elapsed_ms / 1000 if self.session.state > S.ARMED else 0,
            "session_s": self.protocol.session_ms / 1000 if self.protocol else None,
            "amplitude_ma": amp_ua / 1000,
            "pulses": self._pulses(),
            "fault": F.name(sch.fault_code) if sch.fault_code else None,
            "protocol": self.protocol.name if self.protocol else None,
            "blinded": self.blinded,
        }

    def run_forever(self, poll=None, wait=None):
        """The main loop (main.py runs it): output stays off until a command starts a
        session. poll() serves the console and returns False to end the loop (link closed);
        wait(ms) paces it (default board.idle_ms). Any exception, Ctrl-C included, latches a
        fault with output off, then propagates."""
        wait = wait or self.board.idle_ms
        try:
            while True:
                self.service()
                if poll is not None and poll() is False:
                    return
                wait(LOOP_MS)
        except BaseException:
            self.scheduler.fault(F.EXCEPTION)
            raise
