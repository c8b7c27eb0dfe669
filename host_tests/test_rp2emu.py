"""The firmware on the real MicroPython rp2 port (v1.28.0, RPI_PICO), on an emulated Pico
(rp2040py) with a virtual output stage (docs/EMULATOR.md), first file of two: the real `tvns
deploy` onto a blank board, then on that board a session to DONE against the model engine,
`tvns logs pull` while the watchdog runs, and the hardware kill path. The watchdog and reset
tests, the monitors and the trigger run on a second board in test_rp2emu_faults.py.

Slow (the emulator runs ~15-35x slower than silicon), so ONE board serves this file, its
tests in file order, each starting from whatever the last one left (`idle` clears the
stage's faults and a latched FAULT). Emulated stretches are a few hundred ms. The board runs
in lockstep (docs/EMULATOR.md): its clock moves only while the host waits on it, and every
wait here is in emulated time, so a loaded host gives the same run. `make test` runs both
files with `-n 2 --dist loadfile` (each file on one worker, its own board; `--dist
loadgroup` does not group with pytest 9.2 / xdist 3.8); `make test-rp2emu` runs the tier
alone (`-m rp2emu`).
"""

import json
import os
import pathlib
import signal
import subprocess
import sys

import pytest
from rp2emu_tier import (
    CONFIG,
    GAP_NS,
    INPUT_SLOP_NS,
    KILL_WITHIN_NS,
    LOOP_MS,
    NS_PER_MS,
    PERIOD_NS,
    PHASES,
    PULL_WALL_S,
    SHORT,
    WDT_MS,
    WIDTH_NS,
    clear_refused_while,
    idle,
    latched,
    next_pulse_ns,
    rises_after,
    running,
    timed,
)
from tvns.console import limits_digest
from tvns_tools import deploy
from tvns_tools.firmware import FIRMWARE
from tvns_tools.rp2emu import capture, harness, image
from tvns_tools.rp2emu.emulator import EmuPico

pytestmark = pytest.mark.rp2emu


@pytest.fixture(scope="module")
def deployed(uf2, tmp_path_factory):
    """The real `tvns deploy` onto a blank emulated Pico, which then runs every test of this
    file. TVNS_RP2EMU_IMAGE=FILE boots a saved image instead (iterating on one test; the
    deploy test then skips)."""
    work = tmp_path_factory.mktemp("rp2emu-deploy")
    reuse = os.environ.get("TVNS_RP2EMU_IMAGE")
    if reuse:
        board = harness.EmuBoard(reuse, "2k", uf2=uf2, lockstep=True).start()
        board.wait_boot()
        yield {"board": board, "image": pathlib.Path(reuse), "output": None, "work": work}
        board.close()
        return
    board, img, out = harness.deploy_blank(work, uf2, lockstep=True)
    yield {"board": board, "image": img, "output": out, "work": work}
    board.close()


@pytest.fixture
def board(deployed, request):
    """This file's one board (per-test figures: rp2emu_tier.timed)."""
    yield from timed(deployed["board"], request)


# ---- the emulator itself ----
FIFO_PROBE = """
import rp2
@rp2.asm_pio()
def p():
    pull()
sm = rp2.StateMachine(0, p)
sm.put(1)
sm.put(2)
before = sm.tx_fifo()
sm.init(p)
print("fifo", before, sm.tx_fifo())
"""


def test_state_machine_init_clears_the_fifos_as_on_silicon(uf2):
    """rp2040py 0.3.6 keeps TX FIFO words across StateMachine.init(), whose pico-sdk
    pio_sm_init clears them (toggling SHIFTCTRL.FJOIN_RX: "FIFOs are flushed when this bit is
    changed", RP2040 datasheet). The engine's second load then blocked in sm.put() and `start`
    never answered. The harness flushes them (pio_timing); the bare emulator still does not
    (when it does, the workaround can go)."""
    exe = pathlib.Path(sys.executable).parent / "rp2040py"
    bare = subprocess.run(
        [str(exe), "micropython", "--image", str(uf2), "-c", FIFO_PROBE],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "fifo 2 2" in bare.stdout, bare.stdout + bare.stderr  # the emulator's gap
    emu = EmuPico(uf2=uf2).start()
    try:
        out, err = emu.exec_raw(FIFO_PROBE)
    finally:
        emu.stop()
    assert b"fifo 2 0" in out, out + err  # as silicon: init() cleared the two words


# A state machine waits for an input to fall, then raises an output, while the CPU sleeps
# (WFI): the kill machine's case, an injection landing in an idle stretch.
EDGE_PROBE = """
import rp2, time
from machine import Pin
@rp2.asm_pio(set_init=rp2.PIO.OUT_LOW)
def p():
    wait(0, pin, 0)
    set(pins, 1)
    label("hold")
    jmp("hold")
armed = Pin(%(armed)d, Pin.OUT, value=0)
sm = rp2.StateMachine(0, p, freq=125_000_000, in_base=Pin(%(inp)d, Pin.IN), set_base=Pin(%(out)d))
sm.active(1)
armed.value(1)
time.sleep_ms(%(sleep_ms)d)
sm.active(0)
print("slept")
"""


def test_an_input_the_host_drives_while_the_cpu_sleeps_is_seen_when_it_changes(uf2):
    """rp2040py fires the alarm that ends an idle jump before it runs the jump's PIO cycles:
    an input the host changed in it was seen by a machine waiting on it from the jump's start,
    and its edge stamped up to the jump's length early (the kill tests failed by ~20 us on
    the data-only USB host, whose CPU idles up to 1 ms at a time). The harness runs the
    machines up to the present before it drives an input (EmuPico.drive, pio_timing
    catch_up): the output rises a few cycles after the input fell, never before."""
    from rp2040py.gpio_pin import GPIOPinState

    inp, out, armed = 20, 21, 22
    emu = EmuPico(uf2=uf2, data_only_usb=True).start()
    seen = {}

    def on_out(value, _old):
        if value == GPIOPinState.HIGH and "edge" not in seen:
            seen["edge"] = emu.edge_ns()

    def fall():
        seen["drive"] = emu.now_ns
        emu.drive(inp, False)

    def on_armed(value, _old):
        if value == GPIOPinState.HIGH and "armed" not in seen:
            seen["armed"] = emu.now_ns
            emu.clock.create_alarm(fall).schedule(2_300_000)  # in the sleep, off any ms

    def wire():
        emu.drive(inp, True)
        emu.mcu.gpio[out].add_listener(on_out)
        emu.mcu.gpio[armed].add_listener(on_armed)

    try:
        emu.call(wire)
        code = EDGE_PROBE % {"armed": armed, "inp": inp, "out": out, "sleep_ms": 10}
        stdout, err = emu.exec_raw(code)
    finally:
        emu.stop()
    assert b"slept" in stdout, stdout + err
    assert "drive" in seen and "edge" in seen, seen
    # The input's two synchroniser flops, `wait`, then `set`: a few 8-ns cycles.
    assert 0 <= seen["edge"] - seen["drive"] <= 100, seen


# ---- deploy, then the tick under the real hard IRQ and a hung main loop ----
def test_deploy_onto_a_blank_board_and_hello(deployed):

    out = deployed["output"]
    if out is None:
        pytest.skip("TVNS_RP2EMU_IMAGE set: booted a saved image, no deploy")
    n = len(deploy.firmware_files(board="rp2")) + 1  # + board.json
    assert "deployed %d files to %s (rp2, armv6m)" % (n, deployed["board"].port) in out
    assert "hello: version %s on pico" % deploy.firmware_version() in out
    files = image.read(deployed["image"])
    assert files["main.py"] == (FIRMWARE / "main.py").read_bytes()
    assert json.loads(files["board.json"]) == CONFIG
    assert files["tvns/scheduler.mpy"][:1] == b"M" and "tvns/board/sim.mpy" not in files
    assert not any("esp32" in name for name in files)
    # deploy reset the board (mpremote reset: machine.reset) and it answers on the console
    assert [c for _t, c in deployed["board"].emu.resets] == ["software"]

    hello = deployed["board"].dev.request("hello")
    assert hello["limits_crc"] == limits_digest() and hello["board"] == "pico"


# ---- a whole session, and its log ----
def test_session_to_done_matches_the_model_engine(board):
    idle(board)
    t0 = board.start_session(SHORT)
    t_end, end = board.wait_event("session_end", t0, emu_ms=3500)
    assert end["state"] == "DONE", end
    assert board.state() == "DONE"
    edges = board.edges(t0)
    assert capture.overlaps(edges) == []  # A and B never high together
    pulses = capture.pulses(edges)
    amps = [ua for t, ua, _set in board.stage.pulses if t >= t0]
    assert len(amps) == len(pulses) > 100
    gate = [(t, lv) for t, n, lv in edges if n == "gate"]
    problems = harness.compare_with_model(SHORT, pulses, amps, gate)
    assert problems == []
    # nothing after the session: gate and both phases low, no pulse since DONE
    assert board.output_off_ns(t0) is not None
    assert pulses[-1]["end_ns"] < t0 + round(SHORT["session_s"] * 1000 + 50) * NS_PER_MS
    # every pulse inside its train's SYNC marker
    sync = capture.intervals(edges, "sync")
    assert all(any(s <= p["t_ns"] and p["end_ns"] <= e for s, e in sync) for p in pulses)


def test_logs_pull_after_a_session_while_the_watchdog_runs(board, tmp_path):
    board.release_port()  # the pull has the console to itself, as on a bench
    before = len(board.emu.resets)
    cmd = [sys.executable, "-m", "tvns_tools.cli", "logs", "pull", "--port", board.port]
    proc = subprocess.Popen(
        cmd + ["--out", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # one group to stop
    )
    try:
        # the pull has the console: the clock runs from its first byte on
        with board.emu.free_running(after_input=True):
            _out, err = proc.communicate(timeout=PULL_WALL_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        err = "no result within %d s (wall)" % PULL_WALL_S
    board.emu.run_for_ms(WDT_MS + 2 * LOOP_MS)
    assert board.emu.resets[before:] == []  # the board did not reset under the pull
    assert proc.returncode == 0, err
    records = json.loads((tmp_path / "session-log.json").read_text())["records"]
    kinds = [rec["kind"] for rec in records]
    assert "session_start" in kinds and "session_end" in kinds


# ---- the hardware kill path: the PIO's kill machine, within 1 us (issue 16) ----
def test_kill_mid_phase_a_overcurrent_cuts_within_1us_and_latches(board):
    """OS-1's overcurrent comparator trips in the middle of phase A and holds (the source
    keeps failing): OC_OK (GP17) and KILL_n (GP7) fall; the kill machine takes A, B and SYNC
    low within 1 us, the pulse gets no phase B, FAULT latches `overcurrent` (the kill's
    snapshot: OC_OK low), and `clear` is refused until the comparator lets go."""
    running(board)
    t_a = next_pulse_ns(board)
    board.stage.inject_at(t_a + WIDTH_NS // 2, "overcurrent")
    board.emu.wait_for(lambda: "overcurrent" in board.stage.faults, 30, what="the injection")
    t_kill = board.stage.faults["overcurrent"]
    board.emu.run_until(t_kill + 2 * PERIOD_NS)
    edges = board.edges(t_a - WIDTH_NS)
    a = capture.intervals(edges, "phase_a")
    assert a and a[0][0] < t_kill <= a[0][1] + INPUT_SLOP_NS, (a, t_kill)  # mid phase A
    assert a[0][1] - t_kill <= KILL_WITHIN_NS, (a[0], t_kill)
    assert a[0][1] - a[0][0] <= WIDTH_NS // 2 + KILL_WITHIN_NS, a[0]  # cut short
    for name in PHASES + ("sync",):
        falls = [t for t, n, lv in edges if n == name and not lv and t >= t_kill]
        assert capture.level_at(edges, name, float("inf")) == 0
        assert all(t - t_kill <= KILL_WITHIN_NS for t in falls), (name, falls)
    assert rises_after(board, t_kill) == []  # no phase B, no pulse since
    latched(board, "overcurrent", t_kill)
    clear_refused_while(board, "overcurrent", "overcurrent")


def test_kill_in_the_off_time_estop_holds_the_next_pulse_back(board):
    """E-stop pressed 1 us before a pulse is due, in the off time: GP16 and KILL_n fall, and
    the pulse never starts (the tick would have been up to 1 ms too late for it); FAULT
    latches `estop`, `clear` is refused while the button is down."""
    running(board)
    t_due = next_pulse_ns(board)
    board.stage.inject_at(t_due - KILL_WITHIN_NS, "estop")
    board.emu.wait_for(lambda: "estop" in board.stage.faults, 30, what="the injection")
    t_kill = board.stage.faults["estop"]
    assert t_kill < t_due and capture.level_at(board.edges(), "phase_a", t_kill) == 0
    board.emu.run_until(t_due + 2 * PERIOD_NS)
    assert rises_after(board, t_kill) == []  # the pulse due 1 us later did not start
    latched(board, "estop", t_kill)
    clear_refused_while(board, "estop", "e-stop")


def test_estop_cable_cut_mid_phase_b_cuts_within_1us_and_latches(board):
    """The e-stop cable cut in the middle of phase B: the loop opens (KILL_n low) and GP16
    floats to its pull-down (pressed), so the cause reads `estop`."""
    running(board)
    t_a = next_pulse_ns(board)
    t_cut = t_a + WIDTH_NS + GAP_NS + WIDTH_NS // 2
    board.stage.inject_at(t_cut, "estop_cut")
    board.emu.wait_for(lambda: "estop_cut" in board.stage.faults, 30, what="the injection")
    t_kill = board.stage.faults["estop_cut"]
    board.emu.run_until(t_kill + 2 * PERIOD_NS)
    b = capture.intervals(board.edges(t_a), "phase_b")
    assert b and b[0][0] < t_kill <= b[0][1] + INPUT_SLOP_NS, (b, t_kill)  # mid phase B
    assert b[0][1] - t_kill <= KILL_WITHIN_NS and b[0][1] - b[0][0] <= WIDTH_NS // 2 + 1000, b
    assert rises_after(board, t_kill) == []
    latched(board, "estop", t_kill)
    clear_refused_while(board, "estop_cut", "e-stop")


def test_overcurrent_from_a_shorted_source_cuts_within_1us_of_the_phase(board):
    """The stage fails past its current control between pulses (the sink shorted: only the
    29.2 V compliance into 2 kohm limits it, 14.6 mA): the next phase A trips OS-1's
    comparator at once, the kill machine cuts it within 1 us, FAULT latches `overcurrent`."""
    running(board)
    t_due = next_pulse_ns(board, 5 * NS_PER_MS)
    board.stage.inject_at(t_due - 4 * NS_PER_MS, "short")
    board.emu.run_until(t_due + 2 * PERIOD_NS)
    t_seen, ua, setpoint = next(p for p in board.stage.pulses if p[0] >= t_due - 1000)
    assert ua > 14000 and ua > 10 * setpoint
    a = capture.intervals(board.edges(t_seen), "phase_a")
    assert a[0][0] == t_seen and a[0][1] - t_seen <= KILL_WITHIN_NS, (a[0], t_seen)
    assert rises_after(board, t_seen + 1) == []
    latched(board, "overcurrent", t_seen)
    board.stage.clear("short")
    assert board.dev.request("clear")["state"] == "IDLE"  # the comparator let go
