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

    errs = C.check_map(config)
    if errs:
        raise InvalidBoardMap(path, [e.as_dict() for e in errs])
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
