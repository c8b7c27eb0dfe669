# The protocol's optional `trigger` block (docs/PROTOCOL-FORMAT.md, docs/GATING.md):
# checked here, in integer units, with the same rules as every other field (exact decimal
# text, one verdict on every runtime). protocol.py calls check() after the top-level fields;
# a valid block becomes a TriggerSpec. Load time only: the tick reads the spec's ints.
from tvns import errors as E
from tvns import limits as L
from tvns import units as U
from tvns.checks import check_number
from tvns.checks import err as _err

# Modes, as the tick and the engines see them (small ints).
NONE = 0
GATE = 1  # stimulate only while the input is active (the engine ANDs it with its gate)
START = 2  # a rising edge starts the armed session (session time 0 = the edge)
TRAIN = 3  # each rising edge starts one train of on_s
MODES = ("none", "gate", "start", "train")

# field -> (kind, places, lo, hi, unit, zero_means, default in units). `mode` is required
# in the block, every other field has the safe default given here; max_stim_s defaults to
# the protocol's own stim_s (the input can never give more stimulation than the protocol
# validated without it).
FIELDS = (
    ("mode", "str", 0, 0, 0, "", None, None),
    ("polarity", "str", 0, 0, 0, "", None, "high"),
    ("debounce_s", "num", 3, 0, L.TRIGGER_DEBOUNCE_MAX_MS, "1 ms", None, 5),
    ("min_gap_s", "num", 3, 0, L.TRIGGER_GAP_MAX_MS, "1 ms", None, 200),
    ("max_trains_per_min", "int", 0, 1, L.TRIGGER_TRAINS_MAX_PER_MIN, "1", None, 30),
    ("max_stim_s", "num", 3, L.TRIGGER_STIM_MIN_MS, L.TRAIN_MAX_MS, "1 ms", None, None),
    (
        "missing_s",
        "num",
        3,
        L.TRIGGER_MISSING_MIN_MS,
        L.TRIGGER_MISSING_MAX_MS,
        "1 ms",
        "off",
        10000,
    ),
)
NAMES = tuple(f[0] for f in FIELDS)
POLARITIES = ("high", "low")


class TriggerSpec:
    """A valid trigger block in the firmware's units (ms, counts)."""

    def __init__(self, u):
        self.mode = MODES.index(u["mode"])
        self.active = 1 if u["polarity"] == "high" else 0  # the input level that is active
        self.polarity = u["polarity"]
        self.debounce_ms = u["debounce_s"]
        self.min_gap_ms = u["min_gap_s"]
        self.max_trains_per_min = u["max_trains_per_min"]
        self.max_stim_ms = u["max_stim_s"]
        self.missing_ms = u["missing_s"]

    def doc(self):
        """The block as plain JSON values (every field, defaults filled in), for the log."""
        return {
            "mode": MODES[self.mode],
            "polarity": self.polarity,
            "debounce_s": self.debounce_ms / 1000,
            "min_gap_s": self.min_gap_ms / 1000,
            "max_trains_per_min": self.max_trains_per_min,
            "max_stim_s": self.max_stim_ms / 1000,
            "missing_s": self.missing_ms / 1000,
        }


def check(errs, block, jsonscan):
    """block: the decoded `trigger` value (a dict of jsonscan values). Appends TvnsError to
    errs (fields named `trigger.<name>`); returns {name: value in units} (max_stim_s may be
    None: the protocol's stim_s, filled in by protocol.py) or None when invalid."""
    n0 = len(errs)
    for key in sorted(block, key=repr):
        if key not in NAMES:
            shown = key if isinstance(key, str) else repr(key)
            _err(errs, "trigger." + shown, E.UNKNOWN_FIELD, "unknown field %r in trigger" % shown)
    u = {}
    for name, kind, places, lo, hi, unit, zero_means, default in FIELDS:
        field = "trigger." + name
        if name not in block:
            if default is None and name == "mode":
                _err(errs, field, E.MISSING, "trigger.mode is required (gate, start or train)")
            u[name] = default
            continue
        v = block[name]
        if kind == "str":
            allowed = MODES[1:] if name == "mode" else POLARITIES
            if type(v) is not str:
                _err(errs, field, E.TYPE, "%s must be a string: %s" % (field, " or ".join(allowed)))
            elif v not in allowed:
                msg = "%s must be %s (got %s)" % (field, " or ".join(allowed), U.excerpt(v))
                _err(errs, field, E.OUT_OF_RANGE, msg)
            else:
                u[name] = v
            continue
        if type(v) is not jsonscan.Num or v.text in U.NOT_FINITE_TEXTS:
            what = "an integer" if kind == "int" else "a number"
            code = E.NOT_FINITE if type(v) is jsonscan.Num else E.TYPE
            _err(errs, field, code, "%s must be %s" % (field, what))
            continue
        x = check_number(errs, field, v.text, places, lo, hi, unit, zero_means)
        if x is not None:
            u[name] = x
    if len(errs) != n0:
        return None
    return u


def check_combined(errs, t, u):
    """The block against the protocol's own fields (u: the valid fields in units)."""
    if t["mode"] == "train" and u.get("off_s", 0) != 0:
        msg = (
            "trigger.mode train: each edge starts one train of on_s, so off_s must be 0 (got %s s)"
        )
        _err(errs, "off_s", E.OUT_OF_RANGE, msg % U.show(u["off_s"], 3))
