# One error type for the whole firmware: a stable code, the field it concerns
# (or None) and a message that states the limit. Codes are listed in
# docs/PROTOCOL-FORMAT.md and never renamed.


class TvnsError(Exception):
    def __init__(self, code, message, field=None):
        super().__init__(message)
        self.code = code
        self.field = field
        self.message = message

    def as_dict(self):
        return {"field": self.field, "code": self.code, "message": self.message}


# Validation error codes (stable).
JSON = "json"  # not JSON, or not a JSON object
EMPTY = "empty"  # nothing to parse
TOO_LARGE = "too_large"  # input longer than limits.PROTOCOL_MAX_BYTES
MISSING = "missing"  # required field absent
UNKNOWN_FIELD = "unknown_field"  # a field the schema does not know (typos must not pass)
TYPE = "type"  # wrong JSON type (string or boolean for a number, ...)
NOT_FINITE = "not_finite"  # NaN or infinity
OUT_OF_RANGE = "out_of_range"  # outside the hard limit
RESOLUTION = "resolution"  # finer than the unit the firmware works in
SCHEMA = "schema"  # unsupported schema version
CHARGE = "charge"  # charge per phase above the limit
SHANNON = "shannon"  # Shannon k at or above the limit
DENSITY = "density"  # r.m.s. current density above the limit
PULSE_FIT = "pulse_fit"  # the biphasic pulse does not fit in the period
RAMP_FIT = "ramp_fit"  # ramps longer than the session
RAMP_RATE = "ramp_rate"  # a ramp too short for one 0.1 mA step per pulse period
ABOVE_CEILING = "above_ceiling"  # amplitude above the board's or investigator's ceiling

VALIDATION_CODES = (
    JSON,
    EMPTY,
    TOO_LARGE,
    MISSING,
    UNKNOWN_FIELD,
    TYPE,
    NOT_FINITE,
    OUT_OF_RANGE,
    RESOLUTION,
    SCHEMA,
    CHARGE,
    SHANNON,
    DENSITY,
    PULSE_FIT,
    RAMP_FIT,
    RAMP_RATE,
    ABOVE_CEILING,
)

# Session command error codes (stable).
BUSY = "busy"  # refused while stimulating (policy: stop and status are always served)
BAD_STATE = "bad_state"  # the command makes no sense in the current state
NO_PROTOCOL = "no_protocol"  # arm or start without a valid protocol loaded

SESSION_CODES = (BUSY, BAD_STATE, NO_PROTOCOL)
