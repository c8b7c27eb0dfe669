# boot.py: the first code after every reset. Drive every output-stage pin to its safe
# level before anything else runs (pull-downs on the bridge inputs hold them low until
# here; this makes it explicit). Only on the rp2 port: on the unix port and CPython
# (host runs, tests) it does nothing.
import sys

# Fallback when no pin map can be read: the pico.json output-stage pins, all safe low
# (phase A, phase B, sync, gate, DAC PWM).
_RP2_SAFE_LOW = (2, 3, 4, 5, 6)
# Where the deployed pin map may live on the board's file system, first match wins.
_PIN_MAPS = ("board.json", "pico.json", "hardware/boards/pico.json")


def safe_pins(pin_map):
    """[(gpio, level)] for every pin of a pin map that declares a safe level."""
    out = []
    for spec in pin_map.get("pins", {}).values():
        level = spec.get("safe")
        if level is not None:
            out.append((spec["gpio"], 1 if level else 0))
    return out


def drive_safe(machine, pins):
    for gpio, level in pins:
        # value= sets the output latch before the pin becomes an output: no glitch.
        machine.Pin(gpio, machine.Pin.OUT, value=level)


def _read_pin_map():
    import json

    for path in _PIN_MAPS:
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError):
            pass
    return None


def main(platform=None, machine=None):
    if (platform or sys.platform) != "rp2":
        return None
    if machine is None:
        import machine
    pins = None
    try:
        pin_map = _read_pin_map()
        if pin_map is not None:
            pins = safe_pins(pin_map)
    except Exception:  # noqa: BLE001 - a damaged map must not stop the safe state
        pins = None
    if not pins:
        pins = [(gpio, 0) for gpio in _RP2_SAFE_LOW]
    drive_safe(machine, pins)
    return pins


main()
