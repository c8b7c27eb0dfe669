# The host side of main.py (MicroPython unix port or CPython; never deployed, like every
# board/sim* module): the argv of the host simulator and the pacing of the sim board.
#   micropython main.py --simulate PROTOCOL.json [--duration-ms N] [--inject KIND@MS]...
#                       [--jitter-ms N] [--log FILE] [--arm active|sham]
#                       [--esp32 PINMAP.json]   one session, JSON result; --esp32: on the
#                                               ESP32 board model (RMT engine, its frames)
#                       [--trigger TRACE]       the trigger input: "t_us level" lines
#   micropython main.py --console [--speed N] [--state DIR] [--log FILE]
#                              the console on stdin/stdout, sim board, virtual time paced at
#                              N x real time; --state DIR: the virtual board's flash (store
#                              DIR/state.json, log DIR/log.jsonl) kept across restarts
# main.py asks for it only when sys.platform is a host's, so a board never loads it.
import sys


def simulate(argv):
    """--simulate: one session on the sim board, its JSON result on stdout (exit 0, or 2
    for an invalid protocol)."""
    import json

    from tvns.board import simrun
    from tvns.errors import TvnsError

    path = argv[argv.index("--simulate") + 1]
    duration_ms = None
    if "--duration-ms" in argv:
        duration_ms = int(argv[argv.index("--duration-ms") + 1])
    # --inject KIND@MS (repeatable; MS to the microsecond), --jitter-ms N: fault injection
    inject = [
        (argv[i + 1].split("@")[0], float(argv[i + 1].split("@")[1]))
        for i in range(len(argv) - 1)
        if argv[i] == "--inject"
    ]
    jitter_ms = int(argv[argv.index("--jitter-ms") + 1]) if "--jitter-ms" in argv else 0

    def progress(t_ms, total_ms):
        sys.stderr.write('{"progress_ms": %d, "total_ms": %d}\n' % (t_ms, total_ms))

    with open(path, "rb") as f:
        text = f.read()
    try:
        board = None
        if "--esp32" in argv:
            from tvns.board import simesp32

            board = simesp32.SimEsp32Board(
                simesp32.load_config(_arg(argv, "--esp32", None)), jitter_ms=jitter_ms
            )
            board.engine.keep_frames = True
        result = simrun.simulate(
            text,
            duration_ms,
            progress,
            board=board,
            inject=inject,
            jitter_ms=jitter_ms,
            log_path=_arg(argv, "--log", None),
            allocation=_arg(argv, "--arm", None),
            trigger=_trace(_arg(argv, "--trigger", None)),
        )
    except TvnsError as exc:
        result = simrun.error_result(exc)
    sys.stdout.write(json.dumps(result))
    sys.stdout.write("\n")
    return 0 if "error" not in result else 2


def _trace(path):
    """--trigger FILE: "t_us level" lines (the host parsed the CSV) -> [(t_s, level)]."""
    if path is None:
        return None
    out = []
    with open(path) as f:
        for line in f:
            t_us, level = line.split()
            out.append((int(t_us) / 1e6, int(level)))
    return out


def _arg(argv, name, default):
    return argv[argv.index(name) + 1] if name in argv else default


class Host:
    """--console on the host: the sim board, its flash in --state DIR (store and log; the
    store in RAM without it), the session log where --log says (else DIR/log.jsonl, else
    none) and a pacer at --speed N x real time."""

    def __init__(self, argv):
        from tvns.board.sim import SimBoard

        self.board = SimBoard()
        self._argv = argv
        state = _arg(argv, "--state", None)
        self._state = state
        if state is not None:
            from tvns.store import FileStore

            self.board.store = FileStore(state + "/state.json")

    # Read when main() asks, inside its try: a bad value still ends in safe_off + abort.
    @property
    def log_path(self):
        default = self._state + "/log.jsonl" if self._state is not None else None
        return _arg(self._argv, "--log", default)

    def pacer(self, reader):
        return SimPacer(self.board, reader, float(_arg(self._argv, "--speed", "1")))


class SimPacer:
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
