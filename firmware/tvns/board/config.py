# Board config readers and the pin-map checks: values from a board's pin map
# (hardware/boards/*.json), checked against their range, with a TvnsError that names the
# field (`dac.full_scale_ua`). Shared by every board; reading a dict touches no hardware.
#
# check_map() holds the rules the hazard table (SAFETY.md) depends on, as data per MCU: each
# GPIO in one role and on a pin that exists and is free to use, outputs on pins that can
# drive, inputs and the sense ADC and DAC on capable pins, the output stage's pins low at
# boot, the tick and watchdog within what the latency claims assume, the ceiling within the
# hard limit. The firmware runs it at boot (rp2.build) and the host before anything is
# copied (`tvns deploy`, `tvns board check FILE`).
from tvns import limits as L
from tvns.errors import MISSING, OUT_OF_RANGE, TYPE, TvnsError


def need(cfg, key, field):
    """cfg[key]; TvnsError(MISSING) naming field when it is absent."""
    if key not in cfg:
        raise TvnsError(MISSING, "board config needs " + field, field)
    return cfg[key]


def num(cfg, key, field, lo, hi, default=None):
    """A number from the board config within [lo, hi]; TvnsError names the field."""
    if default is not None and key not in cfg:
        return default
    v = need(cfg, key, field)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TvnsError(TYPE, field + " must be a number", field)
    if not lo <= v <= hi:
        raise TvnsError(OUT_OF_RANGE, "%s = %s outside %s..%s" % (field, v, lo, hi), field)
    return v


def gpio(config, name, gpio_max):
    """The GPIO number of pins.<name>, 0..gpio_max (the chip's highest GPIO)."""
    pins = need(config, "pins", "pins")
    spec = need(pins, name, "pins." + name)
    return int(num(spec, "gpio", "pins.%s.gpio" % name, 0, gpio_max))


# Inputs that must read as their fault when the wire is cut (the pull pulls towards it): the
# level that means the fault, fixed or from the map (section, key, default).
FAIL_SAFE = {
    "estop": ("estop", "active", 0),  # pressed
    "compliance": ("sense", "compliance_active", 1),  # out of headroom
    "kill": 0,  # KILL_n low: kill
    "overcurrent": 0,  # OC_OK low: tripped
    "latch_q": 1,  # the kill latch has cut the bridge
}

# ---- what each MCU's GPIOs can do (datasheets: RP2040 1.4, ESP32 2.2 and 4.1) ----
# gpio_max; absent (no such GPIO); reserved {gpio: why}; no_out (input-only); adc; dac;
# roles {name: (dir, safe level or None, required)}; sideset (consecutive GPIOs, in order).
_RP2040 = {
    "gpio_max": 29,
    "absent": (),
    # The Pico's own wiring, not on its header (Pico datasheet 4.4): refused by name "pico".
    "reserved_on": {"pico": {23: "SMPS mode", 24: "VBUS sense", 25: "LED", 29: "VSYS sense"}},
    "reserved": {},
    "no_out": (),
    "adc": (26, 27, 28, 29),
    "dac": (),
    "roles": {
        "phase_a": ("out", 0, True),
        "phase_b": ("out", 0, True),
        "sync": ("out", 0, True),
        "gate": ("out", 0, True),
        "dac_pwm": ("out", 0, False),
        "i2c_sda": ("io", None, False),
        "i2c_scl": ("io", None, False),
        "compliance": ("in", None, False),
        "estop": ("in", None, True),
        "sense_adc": ("in", None, True),
        "kill": ("in", None, False),
        "overcurrent": ("in", None, False),
        "trigger": ("in", None, False),  # the trigger/gate input (docs/GATING.md)
        "marker": ("out", 0, False),  # train onsets, for EEG/fMRI logs
    },
    "sideset": ("phase_a", "phase_b", "sync"),  # one PIO side-set group
    "wdt_max_ms": 8388,
    "dac_kinds": {"pwm": "dac_pwm", "mcp4725": None},  # kind -> the pin it needs
}
_ESP32 = {
    "gpio_max": 39,
    "absent": (20, 24, 28, 29, 30, 31),
    "reserved_on": {},
    "reserved": {
        1: "UART0 TX (the console)",
        3: "UART0 RX (the console)",
        6: "SPI flash",
        7: "SPI flash",
        8: "SPI flash",
        9: "SPI flash",
        10: "SPI flash",
        11: "SPI flash",
        0: "strapping (boot mode)",
        2: "strapping (boot mode)",
        5: "strapping (SDIO timing)",
        12: "strapping (flash voltage)",
        15: "strapping (boot log)",
    },
    "no_out": (34, 35, 36, 37, 38, 39),  # input-only, no pulls
    "adc": (32, 33, 34, 35, 36, 37, 38, 39),  # ADC1: ADC2 is the radio's
    "dac": (25, 26),
    "roles": {
        "phase_a": ("out", 0, True),
        "phase_b": ("out", 0, True),
        "sync": ("out", 0, False),
        "gate": ("out", 0, True),
        "latch_reset": ("out", 1, False),
        "dac": ("out", 0, False),
        "i2c_sda": ("io", None, False),
        "i2c_scl": ("io", None, False),
        "estop": ("in", None, True),
        "compliance": ("in", None, False),
        "overcurrent": ("in", None, False),
        "latch_q": ("in", None, False),
        "sense_adc": ("in", None, True),
        "trigger": ("in", None, False),  # the trigger/gate input (docs/GATING.md)
        "marker": ("out", 0, False),  # train onsets, for EEG/fMRI logs
    },
    "sideset": (),
    "wdt_max_ms": 60000,
    "dac_kinds": {"dac": "dac", "mcp4725": None},
}
MCUS = {"rp2040": _RP2040, "esp32": _ESP32}


def check_map(config):
    """Every problem of a pin map, as a list of TvnsError naming the field ([] when fit)."""
    errs = []
    if not isinstance(config, dict):
        return [TvnsError(TYPE, "a board map is a JSON object", None)]
    mcu = MCUS.get(config.get("mcu"))
    if mcu is None:
        msg = "mcu must be one of %s (got %r)" % (", ".join(sorted(MCUS)), config.get("mcu"))
        return [TvnsError(OUT_OF_RANGE if "mcu" in config else MISSING, msg, "mcu")]
    _scalars(errs, config, mcu)
    pins = config.get("pins")
    if not isinstance(pins, dict):
        errs.append(TvnsError(MISSING, "board config needs pins (an object)", "pins"))
        return errs
    _pins(errs, config, pins, mcu)
    return errs


def check_or_raise(config):
    """check_map(); the first problem raised (with .errors holding all), for the boot."""
    errs = check_map(config)
    if errs:
        first = errs[0]
        first.errors = errs
        raise first


def _bad(errs, field, message, code=OUT_OF_RANGE):
    errs.append(TvnsError(code, "%s: %s" % (field, message), field))


def _int_in(errs, config, key, lo, hi, why):
    v = config.get(key)
    if v is None:
        _bad(errs, key, "required (%s)" % why, MISSING)
    elif type(v) is not int:
        _bad(errs, key, "must be a whole number (%s)" % why, TYPE)
    elif not lo <= v <= hi:
        _bad(errs, key, "%d is outside %d..%d (%s)" % (v, lo, hi, why))


def _scalars(errs, config, mcu):
    _int_in(errs, config, "ceiling_ua", 1, L.CURRENT_MAX_UA, "uA; the hard limit is 10 mA")
    why = "ms; every monitor runs once a tick: SAFETY.md's latencies assume %d ms"
    _int_in(errs, config, "tick_ms", 1, L.TICK_MAX_MS, why % L.TICK_MAX_MS)
    hi = L.WDT_MAX_MS if L.WDT_MAX_MS < mcu["wdt_max_ms"] else mcu["wdt_max_ms"]
    why = "ms; at least two main-loop passes, at most what the stall bound assumes"
    _int_in(errs, config, "wdt_timeout_ms", L.WDT_MIN_MS, hi, why)


def _pins(errs, config, pins, mcu):
    roles = mcu["roles"]
    reserved = dict(mcu["reserved"])
    reserved.update(mcu["reserved_on"].get(config.get("name"), {}))
    seen = {}
    for name in sorted(pins):
        spec = pins[name]
        field = "pins." + name
        if name not in roles:
            _bad(errs, field, "not a role this board knows (%s)" % ", ".join(sorted(roles)))
            continue
        if not isinstance(spec, dict):
            _bad(errs, field, "must be an object with gpio, dir and safe", TYPE)
            continue
        g = spec.get("gpio")
        if type(g) is not int or not 0 <= g <= mcu["gpio_max"] or g in mcu["absent"]:
            _bad(errs, field + ".gpio", "%r is not a GPIO of the %s" % (g, config["mcu"]))
            continue
        if g in reserved:
            _bad(errs, field + ".gpio", "GPIO%d is taken: %s" % (g, reserved[g]))
        if g in seen:
            _bad(
                errs, field + ".gpio", "GPIO%d is already pins.%s: one role per GPIO" % (g, seen[g])
            )
        seen[g] = name
        _role(errs, field, spec, g, roles[name], mcu)
    for name in sorted(roles):
        if roles[name][2] and name not in pins:
            _bad(errs, "pins." + name, "required", MISSING)
    _fail_safe(errs, config, pins)
    _needs(errs, config, pins, mcu)


def _role(errs, field, spec, g, role, mcu):
    direction, safe, _required = role
    if spec.get("dir") != direction:
        _bad(errs, field + ".dir", "must be %r" % direction)
    if direction != "in" and g in mcu["no_out"]:
        _bad(errs, field + ".gpio", "GPIO%d is input-only: it cannot drive an output" % g)
    if safe is not None and spec.get("safe") != safe:
        _bad(
            errs, field + ".safe", "must be %d: boot.py drives it there before anything runs" % safe
        )
    if field.endswith("_adc") and g not in mcu["adc"]:
        adc = ", ".join("GPIO%d" % p for p in mcu["adc"])
        _bad(errs, field + ".gpio", "GPIO%d has no ADC (use one of %s)" % (g, adc))
    pull = spec.get("pull")
    if pull not in (None, "up", "down"):
        _bad(errs, field + ".pull", "must be up, down or null")
    elif pull is not None and g in mcu["no_out"]:
        _bad(errs, field + ".pull", "GPIO%d has no internal pull (say external_pull)" % g)


def _fail_safe(errs, config, pins):
    """A cut wire must read as the fault: the pull (internal, or external_pull on a pin that
    has none) pulls towards the fault's level (SAFETY.md, the e-stop and kill rows)."""
    for name in sorted(FAIL_SAFE):
        spec = pins.get(name)
        if not isinstance(spec, dict):
            continue
        level = FAIL_SAFE[name]
        if type(level) is tuple:
            section = config.get(level[0])
            level = section.get(level[1], level[2]) if isinstance(section, dict) else level[2]
        want = "up" if level == 1 else "down"
        pull = spec.get("pull") or spec.get("external_pull")
        if pull != want:
            msg = "must be %r: a cut wire then reads as the fault (active level %s)" % (want, level)
            _bad(errs, "pins.%s.pull" % name, msg)


def _needs(errs, config, pins, mcu):
    group = mcu["sideset"]
    if group and all(n in pins and type(pins[n].get("gpio")) is int for n in group):
        base = pins[group[0]]["gpio"]
        for i, n in enumerate(group):
            if pins[n]["gpio"] != base + i:
                msg = "must be %s + %d: %s are one PIO side-set group" % (
                    group[0],
                    i,
                    "/".join(group),
                )
                _bad(errs, "pins.%s.gpio" % n, msg)
    dac = config.get("dac")
    kind = dac.get("kind") if isinstance(dac, dict) else None
    kinds = mcu["dac_kinds"]
    if kind not in kinds:
        shown = ", ".join(sorted(kinds))
        _bad(
            errs, "dac.kind", "must be one of %s on the %s (got %r)" % (shown, config["mcu"], kind)
        )
    elif kind == "mcp4725":
        for role in ("i2c_sda", "i2c_scl"):
            if role not in pins:
                _bad(errs, "pins." + role, "required by dac.kind = mcp4725", MISSING)
    elif kinds[kind] not in pins:
        _bad(errs, "pins." + kinds[kind], "required by dac.kind = %s" % kind, MISSING)
    elif mcu["dac"] and pins[kinds[kind]].get("gpio") not in mcu["dac"]:
        pins_text = " or ".join("GPIO%d" % g for g in mcu["dac"])
        _bad(errs, "pins.%s.gpio" % kinds[kind], "the DAC is on %s only" % pins_text)
