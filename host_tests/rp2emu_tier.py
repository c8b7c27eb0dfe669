"""What the two files of the rp2emu tier share (test_rp2emu.py: the deployed board;
test_rp2emu_faults.py: a board booted from the same firmware staged on the host): the
protocols, the bounds and the helpers that bring a board back to idle and read its pins.

Each file has ONE board of its own, running its tests in file order; under xdist each file
stays on one worker (`--dist loadfile`), so `make test` runs the two boards on both cores
beside the rest of the suite (docs/EMULATOR.md). The boards run in lockstep: every wait here
is in emulated time, so a loaded host gives the same run.
"""

import os
import time

from tvns_tools import deploy, device, transport  # noqa: F401 - the harness's, imported now
from tvns_tools.firmware import import_firmware
from tvns_tools.rp2emu import harness, image
from tvns_tools.rp2emu.emulator import EmuError

# Every import before the first emulator thread runs: an import on this thread while the
# engine thread holds the GIL waits up to 5 ms (the switch interval) at each file-system call.
import_firmware()
from tvns import log as fwlog  # noqa: E402, F401 - the tests'
from tvns import safety, storefmt  # noqa: E402, F401 - the tests'
from tvns.board import simrun  # noqa: E402, F401 - harness.model_pulses's
from tvns.console import limits_digest  # noqa: E402, F401 - the tests'

NS_PER_MS = 1_000_000
CONFIG = harness.pico_config()
TICK_MS = CONFIG["tick_ms"]
WDT_MS = CONFIG["wdt_timeout_ms"]
LOOP_MS = 100  # tvns.app.LOOP_MS: the main loop feeds the watchdog once per pass
# Output off "within one tick" (the control tick's monitors): the fault is seen by the
# first tick after its cause and the tick turns the output off before it returns; that tick
# may itself start up to one period late (timer jitter while the main loop runs).
OFF_WITHIN_NS = 2 * TICK_MS * NS_PER_MS
# The hardware kill path (issue 16): both phases low within 1 us of KILL_n falling (125
# cycles at 125 MHz). The emulator's GPIO input has no 2-cycle synchroniser and its PIO
# steps are stamped to the cycle (docs/EMULATOR.md): it shows a few cycles, silicon ~2 more.
KILL_WITHIN_NS = 1000
# The emulator applies a host-driven input at a CPU instruction's end and then runs the PIO's
# owed cycles, so a PIO edge the input caused can be stamped a few cycles before the input's
# own stamp (-32..22 ns seen): comparisons of the two allow 12 cycles.
INPUT_SLOP_NS = 96
# 100 Hz so a short stretch holds many pulses; ramps at their 1 s minimum; 0.1 s on/off.
SHORT = {
    "schema": 1,
    "name": "emu-short-100hz",
    "amplitude_ma": 1.0,
    "pulse_width_us": 200,
    "interphase_gap_us": 20,
    "frequency_hz": 100,
    "on_s": 0.1,
    "off_s": 0.1,
    "ramp_up_s": 1,
    "ramp_down_s": 1,
    "session_s": 2.2,
    "electrode_area_cm2": 1.0,
    "sham": False,
}
# The fault tests: pulses every 10 ms without trains (a pulse is always due), from 25 ms on
# (main's schedule has no 0 uA pulses: the first is the ramp's first 0.1 mA step, 1 s / 40).
STEADY = dict(SHORT, name="emu-steady-100hz", amplitude_ma=4.0, on_s=2.2, off_s=0)
PERIOD_NS = 10 * NS_PER_MS
WIDTH_NS = SHORT["pulse_width_us"] * 1000
GAP_NS = SHORT["interphase_gap_us"] * 1000
PULL_WALL_S = 240  # `tvns logs pull`: log_read pages over the console, about a minute here
PHASES = ("phase_a", "phase_b")


# ---- the boards ----
def staged_board(uf2, workdir):
    """A board booted from the firmware staged on the host exactly as `tvns deploy` stages it
    (deploy.stage: mpy-cross -march=armv6m -O3, board.json from the pin map) in a littlefs
    image (image.from_stage), and answering `hello`: what a deploy leaves on the flash,
    without the ~3 min of mpremote copying (that path is test_rp2emu.py's deploy test)."""
    stage_dir = workdir / "stage"
    names = deploy.stage("rp2", stage_dir)
    img = image.from_stage(stage_dir, workdir / "staged.img")
    board = harness.EmuBoard(img, "2k", uf2=uf2, lockstep=True).start()
    try:
        board.dev.wait_boot()
    except BaseException:
        board.close()
        raise
    board.staged_names = names
    return board


def timed(board, request):
    """Yield the board; afterwards the test's emulated and wall time go to
    $TVNS_RP2EMU_TIMES (a file, when set: docs/EMULATOR.md's per-test figures)."""
    t0, w0 = board.emu.now_ns, time.monotonic()
    yield board
    out = os.environ.get("TVNS_RP2EMU_TIMES")
    if out:
        with open(out, "a") as f:
            f.write(
                "%s emulated_ms=%.0f wall_s=%.1f\n"
                % (request.node.name, (board.emu.now_ns - t0) / NS_PER_MS, time.monotonic() - w0)
            )


# ---- helpers: bring the board back to a state that can arm; what the pins did ----
def idle(board):
    """Clear the stage's faults; wait out a reboot in progress; end a session a failed test
    left running; clear a latched FAULT (refused while a cause remains: then it fails)."""
    for kind in list(board.stage.faults):
        board.stage.clear(kind)
    st = board.dev.request("status")
    if st["state"] in ("RAMP_UP", "ON", "OFF", "RAMP_DOWN"):
        t = board.emu.now_ns
        board.dev.request("stop")
        try:
            board.wait_event("session_end", t, emu_ms=1500)
        except EmuError:  # say where the session was (the gated stop: docs/EMULATOR.md)
            st = board.dev.request("status")
            raise AssertionError(("no session_end", st, board.lines[-8:])) from None
        st = board.dev.request("status")
    if st["state"] == "FAULT":
        board.dev.request("clear")


def running(board, proto=STEADY, ms=50):
    """A session started from idle and ms into its pulses; returns its start (ns)."""
    idle(board)
    t0 = board.start_session(proto)
    board.emu.run_until(t0 + ms * NS_PER_MS)
    st = board.dev.request("status")
    assert st["state"] == "RAMP_UP", (st, board.lines[-8:])
    assert len(pulses_between(board, t0)) >= 2
    return t0


def pulses_between(board, t0, t1=None):
    """Phase-A starts the stage saw in [t0, t1)."""
    return [t for t, _ua, _s in list(board.stage.pulses) if t >= t0 and (t1 is None or t < t1)]


def next_pulse_ns(board, ahead_ns=3 * NS_PER_MS):
    """When a coming pulse is due, at least ahead_ns from now (room for the host to set an
    alarm): the last phase-A start + whole periods (the PIO is cycle-exact:
    test_session_to_done_matches_the_model_engine)."""
    t = board.stage.pulses[-1][0] + PERIOD_NS
    while t - board.emu.now_ns < ahead_ns:
        t += PERIOD_NS
    return t


def rises_after(board, t_ns):
    return [(t, n) for t, n, lv in board.edges(t_ns) if n in PHASES and lv]


def wait_reset(board, since_ns, causes, emu_ms):
    def found():
        return next((t for t, c in list(board.emu.resets) if t >= since_ns and c in causes), None)

    board.emu.wait_for(lambda: found() is not None, emu_ms, what="a %s reset" % "/".join(causes))
    return found()


def latched(board, fault, since_ns):
    """The fault event (latched) after since_ns, status FAULT with that cause, and no pulse
    for several periods after (nothing comes back)."""
    # the tick latches within a few ms; the console line follows at a main-loop pass (after
    # the fault's log record): up to about two passes later (measured: 186 ms)
    _t, ev = board.wait_event("fault", since_ns, emu_ms=4 * LOOP_MS, match={"fault": fault})
    assert ev["latched"] is True
    n_pulses = len(board.stage.pulses)
    board.emu.run_for_ms(3 * PERIOD_NS // NS_PER_MS)
    assert len(board.stage.pulses) == n_pulses
    st = board.dev.request("status")
    assert st["state"] == "FAULT" and st["fault"] == fault, st


def clear_refused_while(board, kind, cause_text):
    """`clear` is refused while the stage still holds the cause; accepted once it lets go."""
    r = board.dev.request("clear", check=False)
    assert r["ok"] is False and r["error"]["code"] == "fault_present", r
    assert cause_text in r["error"]["message"], r
    board.stage.clear(kind)
    assert board.dev.request("clear")["state"] == "IDLE"


def after_reboot_nothing_resumes(board, t_reset, fault):
    board.dev.wait_boot()  # boot output before the host listens again is lost, as on USB
    st = board.dev.request("status")
    assert st["state"] == "FAULT" and st["fault"] == fault, st
    records = board.dev.logs()[0]
    assert any(r.get("event") == "fault" and r["fault"] == fault and r["latched"] for r in records)
    board.emu.run_for_ms(100)
    assert pulses_between(board, t_reset) == []
    assert board.output_off_ns(t_reset) is not None
