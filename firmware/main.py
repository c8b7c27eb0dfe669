# main.py: build the board from its config and run the app; whatever happens, output off.
# On a board this waits, output off, for an explicit operator command (the console).
# On the host (MicroPython unix port) `micropython main.py --simulate PROTOCOL.json
# [--duration-ms N]` runs one session on the sim board and prints the result as JSON.
import sys


def build_board():
    if sys.platform == "rp2":
        from tvns.board import rp2

        return rp2.build()
    from tvns.board.sim import SimBoard

    return SimBoard()


def _simulate(argv):
    import json

    from tvns.board import simrun
    from tvns.errors import TvnsError

    path = argv[argv.index("--simulate") + 1]
    duration_ms = None
    if "--duration-ms" in argv:
        duration_ms = int(argv[argv.index("--duration-ms") + 1])

    def progress(t_ms, total_ms):
        sys.stderr.write('{"progress_ms": %d, "total_ms": %d}\n' % (t_ms, total_ms))

    with open(path, "rb") as f:
        text = f.read()
    try:
        result = simrun.simulate(text, duration_ms, progress)
    except TvnsError as exc:
        result = simrun.error_result(exc)
    sys.stdout.write(json.dumps(result))
    sys.stdout.write("\n")
    return 0 if "error" not in result else 2


def main(argv):
    if "--simulate" in argv:
        return _simulate(argv)
    from tvns.app import LOOP_MS, App

    board = build_board()
    try:
        app = App(board)
        while True:  # output stays off until a command arrives (console: issue #5)
            app.service()
            board.idle_ms(LOOP_MS)
    finally:
        board.safe_off()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
