"""`tvns board check FILE`: the firmware's own pin-map checks (tvns/board/config.py, the ones
a board runs at boot) on a board map, on the host, before anything reaches a board. Exit 0
when the map is fit, 2 with every problem named by its field. `tvns deploy` runs the same
check before it compiles or copies anything."""

import json

from tvns_tools.firmware import ToolError, import_firmware


class InvalidBoardMap(ToolError):
    def __init__(self, path, errors):
        lines = ["%s: %s (%s)" % (e["field"] or "map", e["message"], e["code"]) for e in errors]
        super().__init__("invalid board map %s\n  %s" % (path, "\n  ".join(lines)), exit_code=2)
        self.errors = errors


# The physical header pin of each GPIO on a module, by the map's `name` (a person wires by
# pin number). Raspberry Pi Pico datasheet, pinout: GND is 3, 8, 13, 18, 23, 28, 33 and 38;
# RUN 30, ADC_VREF 35, 3V3(OUT) 36, 3V3_EN 37, VSYS 39, VBUS 40; GP23-25 and GP29 are not on
# the header. The ESP32 map names its DevKitC header as "J3-9" (checked for form in
# test_esp32_board.py).
PICO_PHYSICAL = {0: 1, 1: 2, 2: 4, 3: 5, 4: 6, 5: 7, 6: 9, 7: 10, 8: 11, 9: 12, 10: 14, 11: 15}
PICO_PHYSICAL.update({12: 16, 13: 17, 14: 19, 15: 20, 16: 21, 17: 22, 18: 24, 19: 25})
PICO_PHYSICAL.update({20: 26, 21: 27, 22: 29, 26: 31, 27: 32, 28: 34})
HEADERS = {"pico": PICO_PHYSICAL}


def header_errors(config):
    """Each pins.X.header of a module whose pinout is known must be the physical pin of
    pins.X.gpio ([] when they agree, or the module is not in HEADERS). The firmware never
    reads `header`, so the board does not check it at boot; the host does, before a person
    wires from it (`tvns board check`, `tvns deploy`)."""
    pinout = HEADERS.get(config.get("name")) if isinstance(config, dict) else None
    pins = config.get("pins") if pinout else None
    errs = []
    for name in sorted(pins) if isinstance(pins, dict) else ():
        spec = pins[name]
        if not isinstance(spec, dict) or "header" not in spec or type(spec.get("gpio")) is not int:
            continue
        g, header = spec["gpio"], spec["header"]
        want = pinout.get(g)
        if header != want:
            where = "physical pin %d" % want if want else "not on the header"
            errs.append(
                {
                    "field": "pins.%s.header" % name,
                    "code": "out_of_range",
                    "message": "pins.%s.header: %r is wrong: GPIO%d is %s of the %s"
                    % (name, header, g, where, config["name"]),
                }
            )
    return errs


def check_file(path):
    """The map at path as a dict; InvalidBoardMap (exit 2) listing every problem."""
    try:
        with open(path, "rb") as f:
            config = json.loads(f.read(64 * 1024))
    except OSError as exc:
        raise ToolError("cannot read %s: %s" % (path, exc.strerror), exit_code=2) from exc
    except ValueError as exc:
        raise InvalidBoardMap(path, [{"field": None, "code": "json", "message": str(exc)}]) from exc
    import_firmware()
    from tvns.board import config as C

    errs = [e.as_dict() for e in C.check_map(config)] + header_errors(config)
    if errs:
        raise InvalidBoardMap(path, errs)
    return config


def cmd_board(args):
    try:
        config = check_file(args.file)
    except InvalidBoardMap as exc:
        if args.json:
            print(json.dumps({"valid": False, "errors": exc.errors}, indent=2))
            return 2
        raise
    if args.json:
        print(json.dumps({"valid": True, "errors": [], "mcu": config["mcu"]}, indent=2))
    else:
        print(
            "%s: fit for the %s (%d pins, ceiling %s mA, tick %d ms, watchdog %d ms)"
            % (
                args.file,
                config["mcu"],
                len(config["pins"]),
                config["ceiling_ua"] / 1000,
                config["tick_ms"],
                config["wdt_timeout_ms"],
            )
        )
    return 0
