"""Helpers the sim-board tests share: the default protocol, doc(**changes), loop() (the
main loop in virtual time) and started() (a board with a session running).

Plain Python over firmware modules only, so it imports under CPython and under the
MicroPython unix runtime alike (mp_runner.py runs test_firmware_core, mp_log_checks and
mp_only_alloc there with host_tests/ on MICROPYPATH). Not a test module: pytest collects
nothing here."""

from tvns.app import App
from tvns.board.sim import SimBoard

DEFAULT = {
    "schema": 1,
    "name": "t",
    "amplitude_ma": 1.0,
    "pulse_width_us": 250,
    "interphase_gap_us": 20,
    "frequency_hz": 25,
    "on_s": 30,
    "off_s": 30,
    "ramp_up_s": 5,
    "ramp_down_s": 5,
    "session_s": 600,
    "electrode_area_cm2": 1.0,
    "sham": False,
}


def doc(**changes):
    d = dict(DEFAULT)
    for k in changes:
        d[k] = changes[k]
    return d


def gated(mode="gate", **trig):
    """A 60 s continuous protocol (off_s 0) with the trigger block."""
    t = {"mode": mode}
    t.update(trig)
    return doc(session_s=60, on_s=30, off_s=0, trigger=t)


def pulse_starts_us(result):
    """Every pulse's start, us, from simulate()'s segments."""
    out = []
    for start, period, count, _amp, _w, _g in result["segments"]:
        out += [start + k * period for k in range(count)]
    return out


def loop(app, ms):
    """Run the main loop (as main.py does) for ms of virtual time: idle, then service, which
    feeds the watchdog. Driving the board without it lets the watchdog reset the board."""
    board = app.board
    end_us = board.clock.now_us + ms * 1000
    while board.clock.now_us < end_us:
        board.idle_ms(min(100, (end_us - board.clock.now_us + 999) // 1000))
        app.service()


def started(d, make=SimBoard, **board_kw):
    """A sim board (make(**board_kw): SimBoard, or the ESP32 model) with the protocol d
    loaded, armed and started: (board, app)."""
    board = make(**board_kw)
    app = App(board)
    app.load(d)
    app.arm()
    app.start()
    return board, app
