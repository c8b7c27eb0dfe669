# main.py: build the board from its config and run the app; whatever happens, output off.
# On a board this waits, output off, for an explicit operator command on the console
# (JSON lines on the USB serial link, PROTOCOL.md). On the host (MicroPython unix port):
#   micropython main.py --simulate PROTOCOL.json [--duration-ms N] [--inject KIND@MS]...
#                       [--jitter-ms N] [--log FILE] [--arm active|sham]
#                                                       one session, JSON result
#   micropython main.py --console [--speed N] [--log FILE]  the console on stdin/stdout, sim board,
#                                              virtual time paced at N x real time
import sys

BOARD_CONFIG = "board.json"  # written next to main.py by `tvns deploy`
LOG_FILE = "log.jsonl"  # the session log on the board's flash (`tvns logs pull`)
HOST_PLATFORMS = ("linux", "darwin", "win32")


def build_board():
    if sys.platform == "rp2":
        from tvns.board import rp2

        return rp2.build_from_file(BOARD_CONFIG)
    if sys.platform not in HOST_PLATFORMS:
        raise OSError("no board support for %s" % sys.platform)
    from tvns.board.sim import SimBoard  # host only: never deployed

    return SimBoard()


def _simulate(argv):
    import json

    from tvns.board import simrun
    from tvns.errors import TvnsError

    path = argv[argv.index("--simulate") + 1]
    duration_ms = None
    if "--duration-ms" in argv:
        duration_ms = int(argv[argv.index("--duration-ms") + 1])
    # --inject KIND@MS (repeatable), --jitter-ms N: fault injection on the sim board
    inject = [
        (argv[i + 1].split("@")[0], int(argv[i + 1].split("@")[1]))
        for i in range(len(argv) - 1)
        if argv[i] == "--inject"
    ]
    jitter_ms = int(argv[argv.index("--jitter-ms") + 1]) if "--jitter-ms" in argv else 0

    def progress(t_ms, total_ms):
        sys.stderr.write('{"progress_ms": %d, "total_ms": %d}\n' % (t_ms, total_ms))

    with open(path, "rb") as f:
        text = f.read()
    try:
        result = simrun.simulate(
            text,
            duration_ms,
            progress,
            inject=inject,
            jitter_ms=jitter_ms,
            log_path=_arg(argv, "--log", None),
            allocation=_arg(argv, "--arm", None),
        )
    except TvnsError as exc:
        result = simrun.error_result(exc)
    sys.stdout.write(json.dumps(result))
    sys.stdout.write("\n")
    return 0 if "error" not in result else 2


def _arg(argv, name, default):
    return argv[argv.index(name) + 1] if name in argv else default


class _RealPacer:
    """On a board the tick runs on its own timer: the loop just sleeps, waking on input."""

    def __init__(self, reader):
        self._reader = reader

    def wait(self, ms):
        self._reader.wait(ms)


class _SimPacer:
    """Sim board: advance virtual time ms (the tick runs at its deadlines inside), then let
    real time catch up to virtual / speed, waking early on input so replies stay prompt."""

    def __init__(self, board, reader, speed):
        import time

        self._time = time
        self._board = board
        self._reader = reader
        self._speed = speed
        self._due_us = time.ticks_us()

    def wait(self, ms):
        t = self._time
        self._board.idle_ms(ms)
        self._due_us = t.ticks_add(self._due_us, int(ms * 1000 / self._speed))
        lag_us = t.ticks_diff(self._due_us, t.ticks_us())
        if lag_us < -1000000:
            self._due_us = t.ticks_us()  # far behind: run flat out, do not build up debt
        elif lag_us >= 1000:
            self._reader.wait(lag_us // 1000)


def _write(text):
    sys.stdout.write(text)


def main(argv):
    if "--simulate" in argv:
        return _simulate(argv)
    from tvns.app import App
    from tvns.console import Console
    from tvns.console_io import PollReader

    board = build_board()
    con = app = None
    reason = "exception"
    try:
        # The power-cut-safe session log: on a board always (log.jsonl on its flash); on the
        # sim board where --log says (tvns_tools' local transport passes one).
        log_path = _arg(argv, "--log", None if board.name == "sim" else LOG_FILE)
        log = None
        if log_path is not None:
            from tvns.log import Log

            log = Log(log_path)
        app = App(board, log)
        stdin = getattr(sys.stdin, "buffer", sys.stdin)
        reader = PollReader(getattr(stdin, "raw", stdin))  # CPython: unbuffered
        con = Console(app, _write)
        if board.name == "sim":
            pacer = _SimPacer(board, reader, float(_arg(argv, "--speed", "1")))
        else:
            pacer = _RealPacer(reader)
        con.event(_boot(con))

        def poll():
            con.service()  # events first: what happened before a reply is sent before it
            con.feed(reader.read())
            return not reader.eof

        # Output stays off until a command arrives; an exception latches FAULT (App).
        app.run_forever(poll, pacer.wait)
        reason = "eof"
        return 0
    except BaseException as exc:
        reason = "interrupt" if isinstance(exc, KeyboardInterrupt) else "exception"
        raise
    finally:
        board.safe_off()  # the one abort path, whatever ended the loop
        if con is not None:
            _abort_event(con, board, app, reason)


def _boot(con):
    ev = con.hello()
    ev["event"] = "boot"
    return ev


def _abort_event(con, board, app, reason):
    # Logged after safe_off: what the output looks like now, and the state it was cut in.
    ev = {"event": "abort", "reason": reason, "output": "off"}
    ev["state"] = app.status()["state"] if app is not None else None
    ev["amplitude_ua"] = getattr(board.dac, "value_ua", None)
    ev["gated"] = getattr(board.engine, "gated", None)
    try:
        con.event(ev)
    except Exception:  # noqa: BLE001 - the link may be gone; the output is off already
        pass


if __name__ == "__main__":
    sys.exit(main(sys.argv))
