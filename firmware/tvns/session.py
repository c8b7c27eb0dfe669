# The session state machine: one transition table, no nested ifs.
# Allocation-free: states and events are small ints, the table is bytes, and the
# history is a preallocated ring (tvns/ring.py) that the main loop drains (never the tick).
# The state is one word of an array('i'): the Scheduler built over a session moves it into its
# hot state (bind), where the timer's viper callback reads it without a lookup (tvns/tickfast.py,
# docs/SPEED.md): the word is the state's only home, no mirror to go stale.
from array import array

from micropython import const

from tvns.ring import EventRing

IDLE = const(0)
ARMED = const(1)
RAMP_UP = const(2)
ON = const(3)
OFF = const(4)
RAMP_DOWN = const(5)
DONE = const(6)
STOPPED = const(7)
FAULT = const(8)
NAMES = ("IDLE", "ARMED", "RAMP_UP", "ON", "OFF", "RAMP_DOWN", "DONE", "STOPPED", "FAULT")

# May the output stage be enabled in this state? (invariant 4 of docs/ARCHITECTURE.md:
# only RAMP_UP, ON, RAMP_DOWN)
OUTPUT_ALLOWED = b"\x00\x00\x01\x01\x00\x01\x00\x00\x00"
# Does the control tick advance the session in this state?
RUNNING = b"\x00\x00\x01\x01\x01\x01\x00\x00\x00"

EV_ARM = const(0)  # protocol valid, board self-test passed
EV_DISARM = const(1)
EV_START = const(2)  # the explicit operator command
EV_TRAIN_ON = const(3)  # the schedule says: train on
EV_TRAIN_OFF = const(4)  # the schedule says: train off (duty cycle)
EV_RAMP_DOWN = const(5)  # the schedule says: final ramp down
EV_END = const(6)  # the schedule says: session over
EV_STOP = const(7)  # operator or host stop: ramp down fast
EV_STOPPED = const(8)  # the fast ramp down reached 0
EV_FAULT = const(9)  # from anywhere; output is already off
EV_CLEAR = const(10)  # explicit clear of a fault whose cause is gone
EV_RESET = const(11)  # back to IDLE after DONE or STOPPED
EVENT_NAMES = (
    "ARM",
    "DISARM",
    "START",
    "TRAIN_ON",
    "TRAIN_OFF",
    "RAMP_DOWN",
    "END",
    "STOP",
    "STOPPED",
    "FAULT",
    "CLEAR",
    "RESET",
)
_N_EVENTS = const(12)
_X = const(255)  # refused

# TABLE[state * _N_EVENTS + event] -> next state, or _X when the event is refused there.
# Late ticks may skip a phase (e.g. ON straight to DONE), so phase events accept any
# running state. STOP is always accepted: outside a session it changes nothing.
# fmt: off
_ROWS = (
    # ARM  DISARM START  T_ON   T_OFF  R_DOWN END   STOP   STOPPED FAULT CLEAR  RESET
    (ARMED, _X,   _X,    _X,    _X,    _X,    _X,   IDLE,   _X,   FAULT, _X,   IDLE),  # IDLE
    (_X,   IDLE,  RAMP_UP, _X,  _X,    _X,    _X,   IDLE,   _X,   FAULT, _X,   _X),    # ARMED
    (_X,   _X,    _X,    ON,    OFF,   RAMP_DOWN, DONE, RAMP_DOWN, _X, FAULT, _X,  _X),   # RAMP_UP
    (_X,   _X,    _X,    ON,    OFF,   RAMP_DOWN, DONE, RAMP_DOWN, _X, FAULT, _X,  _X),   # ON
    (_X,   _X,    _X,    ON,    OFF,   RAMP_DOWN, DONE, STOPPED, _X, FAULT, _X,  _X),     # OFF
    (_X,   _X,    _X,    _X,    _X,    RAMP_DOWN, DONE, RAMP_DOWN, STOPPED, FAULT, _X, _X),  # RAMP_DOWN
    (ARMED, _X,   _X,    _X,    _X,    _X,    _X,   DONE,   _X,   FAULT, _X,   IDLE),  # DONE
    (ARMED, _X,   _X,    _X,    _X,    _X,    _X,   STOPPED, _X,  FAULT, _X,   IDLE),  # STOPPED
    (_X,   _X,    _X,    _X,    _X,    _X,    _X,   FAULT,  _X,   FAULT, IDLE, _X),    # FAULT
)
# fmt: on
TABLE = bytes(s for row in _ROWS for s in row)
N_EVENTS = _N_EVENTS  # TABLE's row length (tvns/tickedge.py indexes it in machine words)
NO_EVENT = _X  # TABLE's "refused"; also EVENT_FOR_PHASE's "no event enters this state"
# The event that moves the session into each schedule phase, indexed by state (the step,
# tvns/tickstep.py, and the fast edge, tvns/tickedge.py, fire it when the phase changes).
EVENT_FOR_PHASE = bytes((_X, _X, _X, EV_TRAIN_ON, EV_TRAIN_OFF, EV_RAMP_DOWN, EV_END, _X, _X))

STATE_WORD = const(21)  # the state's word in the Scheduler's hot state (tickfast.py _STATE)
_HISTORY = const(64)  # ring entries; the main loop drains it far more often than it fills


class Session:
    def __init__(self):
        # The state (IDLE: 0) in its word; its own array until a Scheduler binds it.
        self._w = array("i", bytes(4 * (STATE_WORD + 1)))
        self._bound = False
        # (time_ms, state) for every change; filled in the tick, drained outside it.
        self._hist = EventRing(_HISTORY, NAMES)

    @property
    def state(self):
        return self._w[STATE_WORD]

    @state.setter
    def state(self, st):
        self._w[STATE_WORD] = st

    def bind(self, words):
        """From now on the state lives in words[STATE_WORD] (the Scheduler's hot state: main
        loop, once, before its timer runs). A second binding is refused: the first
        scheduler's callback would go on reading a word nothing writes any more."""
        if self._bound:
            raise ValueError("this session already drives a scheduler")
        words[STATE_WORD] = self._w[STATE_WORD]
        self._w = words
        self._bound = True

    def allowed(self, event):
        return TABLE[self._w[STATE_WORD] * _N_EVENTS + event] != _X

    def fire(self, event, now_ms):
        """Apply event; returns True if the table accepts it. Allocation-free."""
        w = self._w
        st = w[STATE_WORD]
        nxt = TABLE[st * _N_EVENTS + event]
        if nxt == _X:
            return False
        if nxt != st:
            w[STATE_WORD] = nxt
            self._hist.put(now_ms, nxt)
        return True

    def ring_words(self):
        """The history ring's two arrays and its put (tvns/ring.py EventRing.words): the fast
        edge (tvns/tickedge.py) writes a state change into them as fire() does (main loop,
        once, when a Scheduler is built over this session)."""
        return self._hist.words()

    def running(self):
        return RUNNING[self._w[STATE_WORD]] == 1

    def drain(self, out):
        """Append (time_ms, state_name) pairs not yet drained to list out (main loop only)."""
        return self._hist.drain(out)

    @property
    def history_lost(self):
        """State changes overwritten before the main loop drained them."""
        return self._hist.lost
