# Fault codes and the monitor thresholds. The monitors themselves run inside the control
# tick (scheduler.py) so that detection and "output off" happen in the same tick; this
# module holds what they compare against and the stable names. Codes are never renumbered
# (SAFETY.md lists them with their hazards and tests).
from micropython import const

NONE = const(0)
OVERCURRENT = const(1)  # measured > 110% of setpoint (+ sense floor) or > ceiling
LEAD_OFF = const(2)  # compliance reached or the setpoint cannot be driven into the load
ESTOP = const(3)  # emergency stop asserted
WATCHDOG = const(4)  # control loop stalled: the hardware watchdog reset the chip
HOST_LOSS = const(5)  # keep-alive missed: ramp down fast, end STOPPED (not a latch)
SESSION_CAP = const(6)  # session ran past its length or the 60 min cap (defence in depth)
INTERRUPTED = const(7)  # a reset/power loss cut a session: found at the next boot
EXCEPTION = const(8)  # an exception or Ctrl-C in the application (the tick included)
KILL = const(
    9
)  # the hardware kill input fired with neither cause readable (stage power-on, cut wire)

NAMES = (
    None,
    "overcurrent",
    "lead_off",
    "estop",
    "watchdog",
    "host_loss",
    "session_cap",
    "interrupted",
    "exception",
    "kill",
)

# Overcurrent: 110% of the setpoint plus the sense floor (ADC noise and offset; a
# reading of a few tens of uA at a 0 uA ramp step must not trip).
SENSE_FLOOR_UA = const(50)
# Overcurrent at the ceiling: a reading may exceed the ceiling by this many steps of the
# board's sense ADC (sense.step_ua) before it counts: rounding and one LSB of noise put a
# protocol at exactly the ceiling one step over (8002 uA at an 8000 uA ceiling on the
# emulated Pico, one step = 8.06 uA).
CEILING_MARGIN_STEPS = const(2)
# Dead-man pulse engine: the control tick grants the engine at most this many pulses beyond
# the last tick that ran (one TX FIFO word per pulse on the PIO), so a hung CPU lets at most
# this many pulses out, at any frequency, before the watchdog resets the chip.
DEADMAN_PULSES = const(2)
# Lead-off by under-current: at or above this setpoint, reading under half of it means the
# current source cannot drive the load (open or > ~10 kohm at the compliance voltage).
LEAD_OFF_MIN_SETPOINT_UA = const(200)
# A session may overrun its nominal end by at most this much (late ticks) before the
# session-cap monitor latches a fault. Also the guard by which the gate closes early.
END_GUARD_MS = const(50)


def name(code):
    return NAMES[code] if 0 <= code < len(NAMES) else "unknown"


def code_of(fault_name):
    for i in range(1, len(NAMES)):
        if NAMES[i] == fault_name:
            return i
    return NONE
