# The application: one protocol, one session, one scheduler on one board.
# Every command goes through here; the board is injected, never created.
from tvns import errors as E
from tvns import protocol as P
from tvns import session as S
from tvns.scheduler import Scheduler

LOOP_MS = 100  # main-loop period: WDT feed, draining the state history, (later) the console


class App:
    def __init__(self, board):
        self.board = board
        self.session = S.Session()
        self.scheduler = Scheduler(board, self.session)
        self.protocol = None
        self.states = []  # (elapsed_ms, state name) drained from the session ring
        self._last_beats = -1

    @property
    def state_name(self):
        return S.NAMES[self.session.state]

    def load(self, source):
        """source: protocol text/bytes or a decoded dict. Raises TvnsError (the first problem)
        with .errors holding all of them; nothing changes unless the protocol is valid."""
        if self.session.running():
            raise E.TvnsError(E.BUSY, "load refused while stimulating; stop first")
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
        if self.board.estop.pressed():
            raise E.TvnsError(E.BAD_STATE, "e-stop is asserted; release it before arming")
        if not self.session.fire(S.EV_ARM, 0):
            raise E.TvnsError(E.BAD_STATE, "cannot arm in state %s" % self.state_name)

    def start(self):
        self.scheduler.start()
        self.board.ticker.start(self.scheduler)

    def stop(self):
        self.scheduler.stop()

    def service(self):
        """One main-loop pass: feed the watchdog only if the tick is alive, drain history."""
        beats = self.scheduler.beats
        if beats != self._last_beats:
            self.board.wdt.feed()
            self._last_beats = beats
        self.session.drain(self.states)
