# Hard limits: the one source of truth (see REFERENCE.md "Hard limits").
# Public names so other modules (and the host tools) can read them; on the
# board const() still inlines them inside this module.
from micropython import const

# Peak current per phase: absolute ceiling. A board or investigator ceiling may only be lower.
CURRENT_MAX_UA = const(10000)
# Pulse width per phase.
WIDTH_MIN_US = const(20)
WIDTH_MAX_US = const(1000)
# Interphase gap (engineering choice, protects the H-bridge).
GAP_MIN_US = const(0)
GAP_MAX_US = const(100)
# Pulse frequency.
FREQ_MIN_HZ = const(1)
FREQ_MAX_HZ = const(100)
# Charge per phase <= 5 uC. uA x us = pC, so the product is compared in pC.
CHARGE_MAX_PC = const(5000000)
# Shannon k = log10(Q) + log10(Q / A) must stay below 1.85 (stored x1000 to keep it an int).
SHANNON_K_MAX_X1000 = const(1850)
# r.m.s. current density <= 2 mA/cm2.
RMS_DENSITY_MAX_UA_CM2 = const(2000)
# Electrode area accepted (cm2 x 100); outside this range the figure is almost surely a typo.
AREA_MIN_CM2_X100 = const(1)
AREA_MAX_CM2_X100 = const(10000)
# Session length and daily exposure.
SESSION_MAX_S = const(3600)
SESSION_MIN_S = const(2)
DAILY_EXPOSURE_MAX_S = const(14400)
# Ramps: start at 0 mA, no step above 0.1 mA, ramp up lasts at least 1 s.
RAMP_STEP_MAX_UA = const(100)
RAMP_UP_MIN_MS = const(1000)
RAMP_DOWN_MIN_MS = const(1000)
RAMP_MAX_MS = const(600000)
# A stop (operator or host) ramps down at one 0.1 mA step per this many ms: 10 mA -> 0 in 1 s.
STOP_RAMP_STEP_MS = const(10)
# Duty cycle (engineering choice): trains of 0.1 s to 1 h; off_s = 0 means continuous.
TRAIN_MIN_MS = const(100)
TRAIN_MAX_MS = const(3600000)
# Host keep-alive (optional protocol field): off, or this range (engineering choice).
KEEPALIVE_MIN_MS = const(500)
KEEPALIVE_MAX_MS = const(60000)
# The pulse (phase A + gap + phase B) must leave at least this much off time in the period.
OFF_MIN_US = const(100)
# Protocol files larger than this are refused before parsing.
PROTOCOL_MAX_BYTES = const(4096)
NAME_MAX_CHARS = const(64)
# Board maps (tvns/board/config.py): the control tick's period that SAFETY.md's monitor
# latencies assume, and the watchdog's range: at least two main-loop passes (no false reset),
# at most 2 s, so a hung chip resets (and the next boot records it) within 2 s; the dead-man
# engine stops its pulses first. SAFETY.md "Flash writes" asks >= 1 s for no reset on a
# worst-case flash erase (engineering choice).
TICK_MAX_MS = const(1)
WDT_MIN_MS = const(200)
WDT_MAX_MS = const(2000)
# Trigger / gate input (the protocol's optional `trigger` block, docs/PROTOCOL-FORMAT.md;
# engineering choices): debounce of the firmware's view, the gap between bursts or trains,
# the trains-per-minute cap, the time without a trigger that is reported as missing.
TRIGGER_DEBOUNCE_MAX_MS = const(1000)
TRIGGER_GAP_MAX_MS = const(600000)
TRIGGER_TRAINS_MAX_PER_MIN = const(120)
TRIGGER_STIM_MIN_MS = const(100)
TRIGGER_MISSING_MIN_MS = const(1000)
TRIGGER_MISSING_MAX_MS = const(600000)
# Perception-threshold titration (tvns/titration.py; engineering choices): the staircase's
# amplitude never goes above this (taVNS perception thresholds are a few tenths of a mA to
# about 2 mA), trials per run, reversals.
TITRATION_CAP_MAX_UA = const(5000)
TITRATION_TRIALS_MAX = const(60)
TITRATION_REVERSALS_MAX = const(20)
