# Board config readers: values from a board's pin map (hardware/boards/*.json), checked
# against their range, with a TvnsError that names the field (`dac.full_scale_ua`). Shared
# by every board (rp2 now, esp32 next); reading a dict touches no hardware.
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
