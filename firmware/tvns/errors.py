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
BLINDED_SHAM = "blinded_sham"  # blinded and sham together: a blinded arm comes from the device
DUPLICATE_FIELD = "duplicate_field"  # a key given twice: a reader and the device could differ

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
    BLINDED_SHAM,
    DUPLICATE_FIELD,
)

# Session command error codes (stable).
BUSY = "busy"  # refused while stimulating (policy: stop and status are always served)
BAD_STATE = "bad_state"  # the command makes no sense in the current state
NO_PROTOCOL = "no_protocol"  # arm or start without a valid protocol loaded
EXPOSURE_CAP = "exposure_cap"  # the session would exceed the daily exposure cap
SELF_TEST = "self_test"  # arm refused: e-stop asserted or the output stage self-test failed
FAULT_PRESENT = "fault_present"  # clear refused: the cause of the fault is still there
NO_ALLOCATION = "no_allocation"  # arm of a blinded protocol before the investigator allocated
PIN_REQUIRED = "pin_required"  # needs the investigator PIN (or a PIN to be set first)
BAD_PIN = "bad_pin"  # wrong investigator PIN (counts towards the lock-out)
PIN_LOCKED_OUT = "pin_locked_out"  # too many wrong PINs: every PIN check refused for a while
STORE_DAMAGED = "store_damaged"  # the persistent store is unreadable or ill-typed: re-provision
LOG_UNAVAILABLE = "log_unavailable"  # the session log cannot take a record (full, failing)

SESSION_CODES = (
    BUSY,
    BAD_STATE,
    NO_PROTOCOL,
    EXPOSURE_CAP,
    SELF_TEST,
    FAULT_PRESENT,
    NO_ALLOCATION,
    PIN_REQUIRED,
    BAD_PIN,
    PIN_LOCKED_OUT,
    STORE_DAMAGED,
    LOG_UNAVAILABLE,
)

# Console (command link) error codes (stable), see PROTOCOL.md.
BAD_JSON = "bad_json"  # a request line that is not JSON
BAD_UTF8 = "bad_utf8"  # a request line that is not valid UTF-8
NOT_OBJECT = "not_object"  # JSON, but not an object
LINE_TOO_LONG = "line_too_long"  # over the line cap; the rest up to the newline is discarded
UNKNOWN_CMD = "unknown_cmd"  # cmd missing or not a command the console knows
BAD_FIELD = "bad_field"  # a request field missing or of the wrong type (the field is named)
INTERNAL = "internal"  # a bug caught by the console; it keeps serving

CONSOLE_CODES = (BAD_JSON, BAD_UTF8, NOT_OBJECT, LINE_TOO_LONG, UNKNOWN_CMD, BAD_FIELD, INTERNAL)
