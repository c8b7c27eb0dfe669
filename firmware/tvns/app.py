# The application: one protocol, one session, one scheduler on one board.
# Every command goes through here; the board is injected, never created.
# Longer than ~300 lines on purpose: App is the one door every command and the main loop
# go through (the busy policy, the all-or-nothing start and the abort path rely on that);
# what needs none of its state lives beside it (session, scheduler, investigator, lock,
# exposure, journal, store).
#
# Persistent state (board.store, tvns/store.py: checksummed, written atomically; a damaged
# store locks the device until the investigator re-provisions it):
#   "active":   set before output starts, cleared when the session ends. Found at boot, it
#               means a reset or power loss cut the session: FAULT latched, never resumed,
#               the session counted in full.
#   "exposure": the daily exposure window in device time (tvns/exposure.py).
#   "allocation": "active" | "sham", the investigator's arm for blinded protocols; never
#               written to the log, told only by `unblind` (docs/BLINDING.md).
#   "ceiling_ua": the investigator's per-participant ceiling (tvns/investigator.py).
#   "pin", "pin_fails": the investigator lock (tvns/lock.py).
# Flash writes (store and log) never happen while output may be on: they are held in RAM
# and written outside a session or in an OFF phase (tvns/journal.py, SAFETY.md H41).
from tvns import books
from tvns import errors as E
from tvns import limits as L
from tvns import protocol as P
from tvns import safety as F
from tvns import session as S
from tvns.exposure import CAP_MS, Exposure
from tvns.journal import Journal
from tvns.lock import PinLock
from tvns.scheduler import Scheduler
from tvns.uptime import Uptime

LOOP_MS = 100  # main-loop period: WDT feed, history, console
_EVENTS_MAX = 256  # pending events kept for the console; the oldest go first
_FAULTS_MAX = 16  # faults kept in RAM for reports (all of them are in the log); oldest go first


class App:
    def __init__(self, board, log=None):
        """log: a tvns.log.Log for the power-cut-safe session log (None: no log). Written
        here, from commands and the main loop only, never from the control tick."""
        self.board = board
        self.log = log
        self.journal = Journal(log)
        self.store = board.store
        self.store.hold = False
        self.store.verify()
        self.uptime = Uptime(board.clock)
        self.exposure = Exposure(self.store, self.uptime)
        self.session = S.Session()
        self.scheduler = Scheduler(board, self.session)
        self.lock = PinLock(self.store, self.uptime)
        self.board_ceiling_ua = self.scheduler.ceiling_ua  # the investigator's may be lower
        mine = self.store.get("ceiling_ua")
        if mine is not None and mine < self.board_ceiling_ua:
            self.scheduler.ceiling_ua = mine
        self.protocol = None
        self.states = []  # (elapsed_ms, state name) drained from the ring by the last pass
        self.faults = []  # dicts: the last _FAULTS_MAX faults, time as integer t_ms
        self.faults_total = 0  # faults recorded since boot (how many faults[] has seen)
        self.events = []  # pending event dicts for the console
        self.events_dropped = 0
        self.host_clock = None  # (unix_s, uptime s) from set_time: information for the log
        self.repl_open = False  # the investigator opened the REPL for this boot (`repl`)
        self.meta = None  # the study metadata of the session being started (start's meta)
        self.titration = None  # the perception-threshold titration (tvns/titration.py)
        self._last_beats = -1
        self._was_running = False
        self._fault_seen = F.NONE
        self._pulses0 = 0  # the engine's counters at this session's start
        self._charge0 = 0.0
        self._log_errors_seen = 0
        self._boot_check()

    # ---- start-up ----
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
        if not self.store.damaged:  # damaged: no PIN to check, and arm is refused anyway
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
        proto.figures()  # the figures the reply and the log need, before anything changes
        self.scheduler.load(proto)
        self.protocol = proto
        if self.session.state == S.ARMED:
            self.session.fire(S.EV_DISARM, 0)  # a new protocol needs a new arm
        return proto

    def _store_ok(self):
        if self.store.damaged:
            msg = "the store is damaged (%s): the investigator must re-provision (reset_store)"
            raise E.TvnsError(E.STORE_DAMAGED, msg % self.store.damaged)

    def _log_ok(self):
        self._flush()  # what is queued goes first: the log must be empty of old news
        why = self.journal.ready() or (self.journal.queue and "records still queued")
        if why:
            raise E.TvnsError(E.LOG_UNAVAILABLE, "the session log cannot take a record: " + why)

    def arm(self):
        if self.protocol is None:
            raise E.TvnsError(E.NO_PROTOCOL, "arm needs a valid protocol loaded")
        if not self.session.allowed(S.EV_ARM):
            raise E.TvnsError(E.BAD_STATE, "cannot arm in state %s" % self.state_name)
        self._store_ok()
        if self.protocol.amplitude_ua > self.scheduler.ceiling_ua:
            msg = "amplitude_ma=%g is above the ceiling of %g mA" % (
                self.protocol.amplitude_ua / 1000,
                self.scheduler.ceiling_ua / 1000,
            )
            raise E.TvnsError(E.ABOVE_CEILING, msg, "amplitude_ma")
        if self.protocol.blinded and self.store.get("allocation") is None:
            raise E.TvnsError(E.NO_ALLOCATION, "blinded protocol: no arm allocated on this device")
        self._log_ok()
        problem = self._self_test()
        if problem:
            raise E.TvnsError(E.SELF_TEST, "arm refused: %s" % problem)
        used = self.exposure_used_ms()
        if used + self.protocol.session_ms > CAP_MS:
            msg = "session_s=%g would exceed the daily exposure cap: %g of %g s used" % (
                self.protocol.session_ms / 1000,
                used / 1000,
                L.DAILY_EXPOSURE_MAX_S,
            )
            raise E.TvnsError(E.EXPOSURE_CAP, msg, "session_s")
        self.session.fire(S.EV_ARM, 0)

    def start(self, meta=None):
        """All or nothing: every step that can fail runs before anything is written, the
        marker before the log, and a refusal at any step leaves the device as it was
        (ARMED, no marker, no exposure, no record). meta: the study metadata the host sent
        with start (commands._meta checked it), logged in session_start."""
        self.meta = meta
        if self.session.state != S.ARMED:
            raise E.TvnsError(E.BAD_STATE, "start needs an ARMED session")
        self._store_ok()
        self._log_ok()
        p = self.protocol
        sch = self.scheduler
        prev_sched = sch.sched
        try:
            if p.blinded:
                arm = self.store.get("allocation")
                if arm is None:
                    raise E.TvnsError(E.NO_ALLOCATION, "blinded protocol: no arm allocated")
                sch.use_arm(arm == "sham")  # the arm, known from here on
            self.board.engine.load(p.width_us, p.gap_us, p.period_us)  # can the board?
            # Written before any output: a reset from here on is found at the next boot.
            self.store.put("active", {"name": p.name, "session_ms": p.session_ms})
        except BaseException:
            sch.sched = prev_sched
            raise
        journal = self.journal  # empty: _log_ok saw to it
        journal.append("session_start", books.start_record(self))
        if p.amplitude_ua > sch.ceiling_ua:  # lowered in ARMED: the tick clamps to it
            rec = {"t_s": 0.0, "amplitude_ma": sch.ceiling_ua / 1000, "source": "ceiling"}
            journal.append("amplitude", rec)
        journal.flush()
        if journal.queue and journal.queue[0][0] == "session_start":
            # session_start did not reach the flash: take it back, and the marker
            journal.queue.clear()
            sch.sched = prev_sched
            self._store_update({"active": None})
            raise E.TvnsError(E.LOG_UNAVAILABLE, "session_start could not be logged")
        self._pulses0 = self._count("pulses", 0)
        self._charge0 = self._count("charge_uc", 0.0)
        self.store.hold = True  # from here, store writes wait for a safe moment
        try:
            sch.start()
            self.board.ticker.start(sch)
        except BaseException:
            self.board.safe_off()
            if self.session.state == S.ARMED:  # refused before START: nothing ran
                self.store.hold = False
                self._store_update({"active": None})
                end = {"t_s": 0.0, "duration_s": 0.0, "pulses": 0, "charge_uc": 0.0}
                end["state"] = "ARMED"
                end["reason"] = "start_failed"
                self._log("session_end", end)
            else:
                sch.fault(F.EXCEPTION)
                self._was_running = True  # the next pass closes the books (0 s, FAULT)
            raise
        self._was_running = True

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

    def set_time(self, unix_s, pin=None):
        """The host's wall clock: information for the log, never authority over the
        exposure window. With the investigator PIN it is a confirmation: device time moves
        forward by what passed since the last confirmation (tvns/exposure.py)."""
        if type(unix_s) not in (int, float) or not 1e9 <= unix_s < 1e10:
            raise E.TvnsError(E.OUT_OF_RANGE, "unix_s must be seconds since 1970", "unix_s")
        unix_s = int(unix_s)
        self.host_clock = (unix_s, self.uptime.update())
        if pin is None:
            return {"confirmed": False}
        if self.session.running():
            raise E.TvnsError(E.BUSY, "the clock is confirmed outside a session only")
        self.lock.check(pin, always=True)
        gap = self.exposure.confirm(unix_s)
        self._store_update({"exposure": self.exposure.record()})
        return {"confirmed": True, "advanced_s": gap}

    def host_unix_s(self):
        if self.host_clock is None:
            return None
        return self.host_clock[0] + self.uptime.update() - self.host_clock[1]

    def host_seen(self):
        self.scheduler.host_ms = self.board.clock.ticks_ms()

    def ctrl_c_allowed(self):
        """Ctrl-C (0x03) opens the REPL, from which the flash can be read: refused while an
        investigator PIN is set (docs/BLINDING.md), unless the investigator opened it."""
        if self.store.damaged:
            return not self.store.references
        return self.repl_open or not self.lock.is_set()

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
        return self.exposure.used_ms()

    # ---- the books (tvns/books.py) ----
    def _boot_check(self):
        books.boot_check(self)

    def _store_update(self, changes):
        return books.store_update(self, changes)

    def _may_write(self):
        return books.may_write(self)

    def _flush(self):
        books.flush(self)

    def _close_books(self, reason, event=False):
        books.close_books(self, reason, event)

    def _record_fault(self, code, t_ms, latched=True, session=None):
        # Times stay integer ms in RAM (a float is a heap object on a board): seconds only
        # where a record is written out (_secs here for the log, Console.event for the link).
        rec = {"fault": F.name(code), "t_ms": t_ms, "latched": latched}
        if session:
            rec["session"] = session
        if len(self.faults) >= _FAULTS_MAX:
            self.faults.pop(0)
        self.faults.append(rec)
        self.faults_total += 1
        self._event(dict(rec, event="fault"))
        self._log("fault", _secs(rec))

    def _log(self, kind, fields):
        self.journal.append(kind, fields)
        if self._may_write():
            self._flush()

    def _event(self, ev):
        if len(self.events) >= _EVENTS_MAX:
            self.events.pop(0)
            self.events_dropped += 1
        self.events.append(ev)

    def keepalive(self):
        """Feed the watchdog only if the tick is alive. The main loop's pass does, and so do
        the console after each request and the journal after each record written (books.py):
        on the rp2 port load + arm + start sent together, and a session's records written at
        its end, each outlasted the 300 ms watchdog in one pass (emulated Pico,
        docs/EMULATOR.md). A request or a write that hangs still starves it."""
        sch = self.scheduler
        # Outside a session the tick has nothing to do (and a board may not run it).
        alive = sch.beats != self._last_beats or not self.session.running()
        if alive and not sch.off_failed:  # output-off failed in the tick: let the WDT reset
            self.board.wdt.feed()
            self._last_beats = sch.beats

    def service(self):
        """One main-loop pass: feed the watchdog only if the tick is alive, drain history,
        turn state changes and faults into events, close a finished session's books, write
        what waited for a safe moment. Allocates nothing on a pass without changes."""
        sch = self.scheduler
        self.uptime.update()
        self.keepalive()
        # states holds this pass's changes only (bounded; the simulator reads it after each
        # pass). Nothing is allocated on a pass without changes: the loop runs every 100 ms.
        buf = self.states
        if buf:
            buf.clear()
        self.session.drain(buf)
        if buf:
            for t_ms, name in buf:
                self._event({"event": "state", "state": name, "t_ms": t_ms})
                self._log("state", {"t_s": t_ms / 1000, "state": name})
        trg = sch.trigger
        if trg is not None and trg.events.pending():  # nothing allocated without news
            for t_ms, what in trg.events.drain([]):
                self._event({"event": "trigger", "trigger": what, "t_ms": t_ms})
                self._log("trigger", {"t_s": t_ms / 1000, "event": what})
        if sch.fault_code != F.NONE and sch.fault_code != self._fault_seen:
            self._fault_seen = sch.fault_code
            self._record_fault(sch.fault_code, sch.fault_ms)
        if self._was_running and not self.session.running():
            reason = F.name(sch.stop_reason) if sch.stop_reason else None
            if reason:
                self._record_fault(sch.stop_reason, sch.stop_ms, latched=False)
            self._close_books(reason or self.state_name.lower(), event=True)
        if (self.journal.queue or self.store.dirty) and self._may_write():
            self._flush()

    def pop_events(self):
        out = self.events
        self.events = []
        return out

    def _count(self, name, zero):
        fn = getattr(self.board.engine, name, None)
        return fn() if fn is not None else zero

    def _pulses(self):
        """Pulses delivered in this session; None when blinded (the count would tell the
        arm). The engine counts since boot: this session's start is subtracted."""
        pulses = getattr(self.board.engine, "pulses", None)
        return pulses() - self._pulses0 if pulses is not None and not self.blinded else None

    def _charge_uc(self):
        """Phase charge delivered in this session (uC) where the engine counts it (the sim
        board; a board engine does not yet); None when blinded."""
        charge = getattr(self.board.engine, "charge_uc", None)
        if charge is None or self.blinded:
            return None
        return round((charge() - self._charge0) * 1e6) / 1e6

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
            "exposure_used_s": self.exposure_used_ms() / 1000,
            "store": {"ok": not self.store.damaged, "damaged": self.store.damaged},
            "log": self.journal.health(),
            "trigger": self._trigger_status(),
        }

    def _trigger_status(self):
        """The trigger input's state (docs/GATING.md), or None for an untriggered protocol:
        `missing` is the visible state of an input that stopped giving edges."""
        trg = self.scheduler.trigger
        if trg is None:
            return None
        return trg.status()

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


def _secs(rec):
    """A copy of rec with its integer t_ms as t_s in seconds: for a record written out."""
    out = dict(rec)
    out["t_s"] = out.pop("t_ms") / 1000
    return out
