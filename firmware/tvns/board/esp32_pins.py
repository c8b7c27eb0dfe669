# ESP32 pin-map rules (hardware/boards/esp32-devkitc.json): what each GPIO of the chip can
# do, as data, and the checks the board runs before it touches a pin. The host runs the
# same checks before `tvns deploy` copies anything. Reading a dict touches no hardware.
from tvns.board.config import MCUS, need, num
from tvns.errors import MISSING, OUT_OF_RANGE, TvnsError

# The chip's data lives once, in board/config.py (the rules every board shares read it too);
# the groups below keep their own names for this module's messages.
_CHIP = MCUS["esp32"]
GPIO_MAX = _CHIP["gpio_max"]
NO_PAD = _CHIP["absent"]  # no such GPIO on the ESP32
FLASH = (6, 7, 8, 9, 10, 11)  # the module's SPI flash
CONSOLE = (1, 3)  # UART0: the USB serial console the host talks to
STRAPPING = (0, 2, 5, 12, 15)  # sampled at reset: boot mode, flash voltage, boot log
INPUT_ONLY = _CHIP["no_out"]  # no output driver, no internal pull resistors
DAC_PINS = _CHIP["dac"]
ADC1_PINS = _CHIP["adc"]  # ADC2 is shared with the radio: not used
# role: (direction, safe level or None, required)
ROLES = _CHIP["roles"]
PULLS = (None, "up", "down")


def _err(msg, field):
    return TvnsError(OUT_OF_RANGE, msg, field)


def check(config):
    """TvnsError naming the first field that breaks an ESP32 rule; None when the map is
    fit for the chip."""
    pins = need(config, "pins", "pins")
    seen = {}
    for role in pins:
        if role not in ROLES:
            raise _err("pins.%s: not a role the ESP32 board knows" % role, "pins." + role)
    for role, (direction, safe, required) in ROLES.items():
        if role not in pins:
            if required:
                raise TvnsError(MISSING, "board config needs pins." + role, "pins." + role)
            continue
        spec = pins[role]
        field = "pins.%s.gpio" % role
        g = int(num(spec, "gpio", field, 0, GPIO_MAX))
        if g in NO_PAD or g in FLASH or g in CONSOLE:
            raise _err(
                "%s = %d: not usable (no pad, module flash or console UART)" % (field, g), field
            )
        if g in STRAPPING:
            raise _err(
                "%s = %d: a strapping pin (0, 2, 5, 12, 15) is sampled at reset" % (field, g), field
            )
        if g in seen:
            raise _err("%s = %d: already used by pins.%s" % (field, g, seen[g]), field)
        seen[g] = role
        if spec.get("dir") != direction:
            raise _err("pins.%s.dir must be %r" % (role, direction), "pins.%s.dir" % role)
        if direction != "in" and g in INPUT_ONLY:
            raise _err("%s = %d: GPIO34-39 are input-only" % (field, g), field)
        if safe is not None and spec.get("safe") != safe:
            raise _err("pins.%s.safe must be %d" % (role, safe), "pins.%s.safe" % role)
        pull = spec.get("pull")
        if pull not in PULLS:
            raise _err("pins.%s.pull must be up, down or null" % role, "pins.%s.pull" % role)
        if pull is not None and g in INPUT_ONLY:
            raise _err(
                "pins.%s.pull: GPIO%d has no internal pull (use an external resistor)" % (role, g),
                "pins.%s.pull" % role,
            )
    if pins["sense_adc"]["gpio"] not in ADC1_PINS:
        raise _err("pins.sense_adc.gpio must be an ADC1 pin (GPIO32-39)", "pins.sense_adc.gpio")
    kind = need(config, "dac", "dac").get("kind")
    if kind == "dac" and ("dac" not in pins or pins["dac"]["gpio"] not in DAC_PINS):
        raise _err("dac.kind = dac needs pins.dac on GPIO25 or GPIO26", "pins.dac")
    if kind == "mcp4725" and not ("i2c_sda" in pins and "i2c_scl" in pins):
        raise TvnsError(MISSING, "dac.kind = mcp4725 needs pins.i2c_sda and pins.i2c_scl", "pins")
    if ("latch_q" in pins) != ("latch_reset" in pins):
        raise TvnsError(
            MISSING, "the kill latch needs both pins.latch_q and pins.latch_reset", "pins"
        )
    # Fail-safe inputs: a cut wire must read as the fault.
    _fail_safe(pins, "estop", 1 - int(config.get("estop", {}).get("active", 0)))
    _fail_safe(pins, "latch_q", 0)
    _fail_safe(pins, "overcurrent", 1)
    _fail_safe(pins, "compliance", 1 - int(config.get("sense", {}).get("compliance_active", 1)))


def _fail_safe(pins, role, idle_level):
    """A cut wire must not read idle_level (the no-fault level): the internal pull must pull
    away from it, or, on an input-only pin, the map must say an external one does."""
    if role not in pins:
        return
    spec = pins[role]
    pull = spec.get("pull") or spec.get("external_pull")
    wrong = "up" if idle_level == 1 else "down"
    if pull is None or pull == wrong:
        raise _err(
            "pins.%s: a cut wire must read as the fault: pull %s"
            % (role, "down" if idle_level == 1 else "up"),
            "pins.%s.pull" % role,
        )
