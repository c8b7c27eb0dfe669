# boot.py: the first code after every reset. Drive every output-stage pin to its safe
# level before anything else runs (pull-downs on the bridge inputs hold them low until
# here; this makes it explicit). Only on the rp2 and esp32 ports: on the unix port and
# CPython (host runs, tests) it does nothing. On the ESP32 nothing here (or anywhere on the
# device) imports network or bluetooth: the radio stays off from reset (docs/ESP32.md).
import sys

# Fallback when no pin map can be read: each board's output-stage pins at their safe
# levels. Pico: phase A, phase B, sync, gate, DAC PWM, all low. ESP32 DevKitC: phase A,
# phase B, sync, gate, DAC low; the kill latch's reset line (LRST_n) high, so it holds.
_SAFE = {
    "rp2": ((2, 0), (3, 0), (4, 0), (5, 0), (6, 0), (11, 0)),
    "esp32": ((18, 0), (19, 0), (21, 0), (22, 0), (25, 0), (23, 1), (17, 0)),
}
# Where the deployed pin map may live on the board's file system, first match wins.
_PIN_MAPS = ("board.json", "pico.json", "hardware/boards/pico.json")
# The map parsed from board.json, left for main.py (boot.py and main.py run in the same
# __main__ globals): the firmware builds the board from it instead of reading and parsing
# the same file again (~23 ms of the rp2 boot, docs/SPEED.md). tvns/board/mainloop.py takes
# it once and clears it; without it (another boot.py, a map read from elsewhere) the
# firmware reads board.json itself.
BOOT_PIN_MAP = None


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
    """(path, parsed map) of the first pin map that reads, or (None, None)."""
    import json

    for path in _PIN_MAPS:
        try:
            with open(path) as f:
                # One read, then parse from RAM: json.load(f) reads the stream byte by byte
                # (28 vs 23 ms for the 3.3 KB map on the emulated Pico, docs/SPEED.md).
                return path, json.loads(f.read())
        except (OSError, ValueError):
            pass
    return None, None


def main(platform=None, machine=None):
    platform = platform or sys.platform
    if platform not in _SAFE:
        return None
    if machine is None:
        import machine
    global BOOT_PIN_MAP
    pins = None
    try:
        path, pin_map = _read_pin_map()
        if pin_map is not None:
            pins = safe_pins(pin_map)
            if path == _PIN_MAPS[0]:
                BOOT_PIN_MAP = pin_map
    except Exception:  # noqa: BLE001 - a damaged map must not stop the safe state
        pins = None
    if not pins:
        pins = list(_SAFE[platform])
    drive_safe(machine, pins)
    return pins


main()
