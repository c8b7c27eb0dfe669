"""The firmware on the real MicroPython rp2 port (v1.28.0, RPI_PICO), on an emulated Pico
(rp2040py) with a virtual output stage: deployed with the real `tvns deploy`, driven through
the real host code over a pty, output watched on the emulated GPIOs (docs/EMULATOR.md).

Slow (the emulator runs ~15-35x slower than silicon): one deploy per run, emulated stretches
of a few hundred ms, boards shared by the tests of a group (file order matters: each group's
board is booted by its first test's fixture and stopped when the next group starts).
Select or skip the tier with `-m rp2emu` / `-m "not rp2emu"`.
"""

import json
import os
import pathlib
import signal
import subprocess
import sys

import pytest
from tiers import require
from tvns_tools.firmware import FIRMWARE
from tvns_tools.rp2emu import capture, harness, hooks, image
from tvns_tools.rp2emu.stage import spare_gpio

pytestmark = pytest.mark.rp2emu

NS_PER_MS = 1_000_000
CONFIG = harness.pico_config()
TICK_MS = CONFIG["tick_ms"]
WDT_MS = CONFIG["wdt_timeout_ms"]
LOOP_MS = 100  # tvns.app.LOOP_MS: the main loop feeds the watchdog once per pass
# Output off "within one tick": the fault is seen by the first control tick after its cause
# (the timer fires every TICK_MS) and the tick turns the output off before it returns; that
# tick may itself start up to one period late (timer jitter while the main loop runs).
OFF_WITHIN_NS = 2 * TICK_MS * NS_PER_MS
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
PULL_WALL_S = 240  # `tvns logs pull` reads 4 files with mpremote: about a minute here
START_HANGS = (
    "known finding from the last rebase: on the emulated rp2 port, main's firmware (dead-man "
    "engine and kill path) does not return from `start` (Scheduler.start() hangs in the raw "
    "REPL too, engine.load alone returns); the session tests wait for that fix"
)
_probe = {}  # "start": True/False once a board has been asked
_live = []  # boards running now: only one at a time (each emulator takes a whole core)


def _exclusive(board):
    for other in _live:
        other.close()
    _live[:] = [board]
    return board


@pytest.fixture(scope="session")
def uf2():
    return require(
        image.find_firmware(), "MicroPython rp2 UF2 ($TVNS_RP2_FIRMWARE or ../shared/rp2/)"
    )


@pytest.fixture(scope="session")
def deployed(uf2, tmp_path_factory):
    """The real `tvns deploy` onto a blank emulated Pico; its flash image is what every other
    group boots from. The board itself runs on for the session group. TVNS_RP2EMU_IMAGE=FILE
    boots a saved image instead (iterating on one test; the deploy test then skips)."""
    work = tmp_path_factory.mktemp("rp2emu-deploy")
    reuse = os.environ.get("TVNS_RP2EMU_IMAGE")
    if reuse:
        board = _boot(reuse, uf2)
        yield {"board": board, "image": pathlib.Path(reuse), "output": None, "work": work}
        board.close()
        return
    board, img, out = harness.deploy_blank(work, uf2)
    _exclusive(board)
    yield {"board": board, "image": img, "output": out, "work": work}
    board.close()


@pytest.fixture(scope="session")
def hooks_image(deployed, tmp_path_factory):
    """The deployed image plus the harness hooks (tools/tvns_tools/rp2emu/hooks.py)."""
    files = hooks.overlay_files((FIRMWARE / "main.py").read_bytes(), spare_gpio(CONFIG))
    return image.overlay(deployed["image"], files, tmp_path_factory.mktemp("hooks") / "h.img")


def _boot(img, uf2):
    board = _exclusive(harness.EmuBoard(img, "2k", uf2=uf2).start())
    board.wait_boot()
    return board


def _need_start(board):
    """xfail at once (not after every host timeout) when `start` does not answer on the port."""
    if "start" not in _probe:
        dev = board.dev
        dev.request("set_time", unix_s=1_790_000_000)
        dev.request("load", protocol=dict(SHORT, name="probe"))
        dev.request("arm")
        n = len(board.lines)
        dev.send_raw(b'{"id": "probe", "cmd": "start"}')
        try:
            board.emu.wait_for(
                lambda: any(o.get("id") == "probe" for _t, o in board.lines[n:]), 500, what="start"
            )
            _probe["start"] = True
            dev.request("stop")
            board.wait_event("session_end", board.emu.now_ns - 600 * NS_PER_MS, emu_ms=1500)
        except Exception:  # noqa: BLE001 - no answer: the finding below
            _probe["start"] = False
    if not _probe["start"]:
        pytest.xfail(START_HANGS)


@pytest.fixture(scope="module")
def fault_board(deployed, uf2):
    """A freshly booted board from the deployed image for the fault tests."""
    board = _boot(deployed["image"], uf2)
    yield board
    board.close()


@pytest.fixture(scope="module")
def hooks_board(hooks_image, uf2):
    board = _boot(hooks_image, uf2)
    yield board
    board.close()


# ---- deploy and a whole session ----
def test_deploy_onto_a_blank_board_and_hello(deployed):
    from tvns_tools import deploy
    from tvns_tools.firmware import import_firmware

    out = deployed["output"]
    if out is None:
        pytest.skip("TVNS_RP2EMU_IMAGE set: booted a saved image, no deploy")
    n = len(deploy.firmware_files()) + 1  # + board.json
    assert "deployed %d files to %s (rp2, armv6m)" % (n, deployed["board"].port) in out
    assert "hello: version %s on pico" % deploy.firmware_version() in out
    files = image.read(deployed["image"])
    assert files["main.py"] == (FIRMWARE / "main.py").read_bytes()
    assert json.loads(files["board.json"]) == CONFIG
    assert files["tvns/scheduler.mpy"][:1] == b"M" and "tvns/board/sim.mpy" not in files
    # deploy reset the board (mpremote reset: machine.reset) and it answers on the console
    assert [c for _t, c in deployed["board"].emu.resets] == ["software"]
    import_firmware()
    from tvns.console import limits_digest

    hello = deployed["board"].dev.request("hello")
    assert hello["limits_crc"] == limits_digest() and hello["board"] == "pico"


def test_session_to_done_matches_the_model_engine(deployed):
    board = deployed["board"]
    _need_start(board)
    t0 = board.start_session(SHORT)
    t_end, end = board.wait_event("session_end", t0, emu_ms=3500)
    assert end["state"] == "DONE", end
    assert board.state() == "DONE"
    edges = board.edges()
    assert capture.overlaps(edges) == []  # A and B never high together
    pulses = capture.pulses(edges)
    amps = [ua for t, ua, _set in board.stage.pulses]
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


def test_logs_pull_after_a_session_while_the_watchdog_runs(deployed, tmp_path):
    board = deployed["board"]
    board.release_port()  # the pull has the console to itself, as on a bench
    before = len(board.emu.resets)
    cmd = [sys.executable, "-m", "tvns_tools.cli", "logs", "pull", "--port", board.port]
    proc = subprocess.Popen(
        cmd + ["--out", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # mpremote runs under it: one group to stop
    )
    try:
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


# ---- faults on the output stage: output off within one tick, latched ----
def _fault_session(board):
    """A session in RAMP_UP with the amplitude past 0.2 mA (the under-current lead-off floor),
    the gate open and pulses running; returns the start time (ns)."""
    _need_start(board)
    for kind in list(board.stage.faults):
        board.stage.clear(kind)
    if board.state() == "FAULT":
        board.dev.request("clear")
    t0 = board.start_session(SHORT)
    board.emu.run_until(t0 + 250 * NS_PER_MS)
    st = board.dev.request("status")
    assert st["state"] == "RAMP_UP" and st["fault"] is None, st
    assert len(_pulses_between(board, t0)) >= 20  # 100 Hz: pulses since the start
    return t0


def _inject_between_pulses(board, kind):
    """Inject in the off-time after a pulse; returns the emulated time it took effect (the
    stage's record: an alarm asked for a moment already past fires at once)."""
    last = board.stage.pulses[-1][0]
    board.stage.inject_at(last + 4 * NS_PER_MS, kind)
    board.emu.wait_for(lambda: kind in board.stage.faults, 20, what="the injection")
    return board.stage.faults[kind]


def _next_pulse(board, t_ns):
    """Start time of the first pulse at or after t_ns (the first the stage's fault shows in)."""

    def found():
        return next((t for t, _ua, _s in list(board.stage.pulses) if t >= t_ns), None)

    board.emu.wait_for(lambda: found() is not None, 50, what="the next pulse")
    return found()


def _check_cut_and_latched(board, kind, fault, t_cause_ns):
    # the fault event follows within a main-loop pass of the tick that latched it
    t_fault, ev = board.wait_event(
        "fault", t_cause_ns, emu_ms=2 * LOOP_MS + 50, match={"fault": fault}
    )
    assert ev["latched"] is True
    off = board.output_off_ns(t_cause_ns)
    assert off is not None and off - t_cause_ns <= OFF_WITHIN_NS, (off, t_cause_ns)
    n_pulses = len(board.stage.pulses)
    board.emu.run_for_ms(60)  # several periods: nothing comes back
    assert len(board.stage.pulses) == n_pulses
    assert board.output_off_ns(t_cause_ns) == off
    st = board.dev.request("status")
    assert st["state"] == "FAULT" and st["fault"] == fault
    return off


def test_overcurrent_cuts_output_within_one_tick_and_latches(fault_board):
    board = fault_board
    _fault_session(board)
    t_inj = _inject_between_pulses(board, "short")  # the stage fails to its 10 mA limiter
    t_seen = _next_pulse(board, t_inj)  # the next pulse shows it
    _t, ua, setpoint = board.stage.pulses[-1]
    assert ua > 10 * setpoint  # 7.5 mA: the limiter, then 15 V compliance into 2 kohm
    _check_cut_and_latched(board, "short", "overcurrent", t_seen)
    board.stage.clear("short")


def test_lead_off_cuts_output_within_one_tick_and_latches(fault_board):
    board = fault_board
    _fault_session(board)
    t_inj = _inject_between_pulses(board, "open")  # the electrode comes off
    t_seen = _next_pulse(board, t_inj)
    assert board.stage.pulses[-1][1] == 0  # nothing flows into an open load
    _check_cut_and_latched(board, "open", "lead_off", t_seen)
    board.stage.clear("open")


def test_estop_pressed_cuts_output_within_one_tick_and_latches(fault_board):
    board = fault_board
    _fault_session(board)
    t_inj = _inject_between_pulses(board, "estop")
    _check_cut_and_latched(board, "estop", "estop", t_inj)
    r = board.dev.request("clear", check=False)  # refused while the button is down
    assert r["ok"] is False and r["error"]["code"] == "fault_present"
    board.stage.clear("estop")
    assert board.dev.request("clear")["state"] == "IDLE"


def test_estop_cable_cut_cuts_output_within_one_tick_and_latches(fault_board):
    board = fault_board
    _fault_session(board)
    t_inj = _inject_between_pulses(board, "estop_cut")
    try:
        _check_cut_and_latched(board, "estop_cut", "estop", t_inj)
    finally:
        board.stage.clear("estop_cut")
        if board.state() not in ("FAULT", "IDLE", "DONE", "STOPPED"):
            board.dev.request("stop")
            board.wait_event("session_end", t_inj, emu_ms=1500)


@pytest.mark.xfail(
    strict=True,
    reason="the stop ramp steps 0.1 mA every 10 ms but the sense peak hold shows the last pulse: "
    "at 25 Hz up to 4 steps pass between pulses and the overcurrent check (110 % of the higher "
    "of the last two amplitudes + 50 uA) trips on the held value (known finding for the "
    "monitors: the threshold must follow what the hold can still show)",
)
def test_stop_at_25hz_ramps_down_to_stopped(fault_board):
    board = fault_board
    _need_start(board)
    for kind in list(board.stage.faults):
        board.stage.clear(kind)
    if board.state() == "FAULT":
        board.dev.request("clear")
    t0 = board.start_session(dict(SHORT, name="emu-25hz", frequency_hz=25))
    board.emu.run_until(t0 + 600 * NS_PER_MS)
    board.dev.request("stop")
    _t, end = board.wait_event("session_end", t0, emu_ms=1500)
    assert end["state"] == "STOPPED", end


HEAP_LOCK_PROOF = """
import json, machine, micropython, time
from tvns.board import rp2
from tvns.app import App
board = rp2.build_from_file("board.json")
app = App(board, None)
app.load(%(proto)r)
app.arm()
app.start()  # the board's own 1 kHz hard Timer now runs Scheduler.tick; the WDT runs
sch = app.scheduler
feed = board.wdt.feed
ticks_ms = time.ticks_ms
ticks_diff = time.ticks_diff
b0 = sch.beats
amp0 = sch.amp_ua
t0 = ticks_ms()
micropython.heap_lock()
try:
    while ticks_diff(ticks_ms(), t0) < %(lock_ms)d:
        feed()
finally:
    micropython.heap_unlock()
print(json.dumps({"beats": sch.beats - b0, "amp0": amp0, "amp": sch.amp_ua,
                  "state": app.state_name, "fault": sch.fault_code}))
board.safe_off()
"""


def test_hard_irq_tick_allocates_nothing_on_the_real_port(fault_board):
    """The control tick under the rp2 port's hard Timer IRQ with the heap locked for 300 ms of
    a ramp (ramp steps, monitors, ADC reads): an allocation would raise MemoryError in the
    IRQ, the port would print it and stop calling the tick."""
    board = fault_board
    _need_start(board)
    if board.state() == "FAULT":
        board.dev.request("clear")
    board.release_port()  # the raw REPL takes the console over
    proto = dict(SHORT, name="heap-lock")
    code = HEAP_LOCK_PROOF % {"lock_ms": 300, "proto": json.dumps(proto)}
    out, err = board.emu.exec_raw(code)
    text = out.decode(errors="replace")
    assert err == b"" and "Traceback" not in text and "MemoryError" not in text, text + repr(err)
    res = json.loads(text.strip().splitlines()[0])
    assert res["beats"] >= 250  # the tick ran every ms of the locked stretch
    assert res["state"] == "RAMP_UP" and res["fault"] == 0
    assert res["amp"] >= res["amp0"] + 200  # ramp steps were taken under the lock


# ---- the hung main loop, Ctrl-C, a power cut mid-write (the hooks image) ----
def _idle(board):
    """Back to a state that can arm, after an earlier test's fault or reset."""
    for kind in list(board.stage.faults):
        board.stage.clear(kind)
    if board.state() == "FAULT":
        board.dev.request("clear")


def _pulses_between(board, t0, t1=None):
    return [t for t, _ua, _s in list(board.stage.pulses) if t >= t0 and (t1 is None or t < t1)]


def _wait_reset(board, since_ns, causes, emu_ms):
    def found():
        return next((t for t, c in list(board.emu.resets) if t >= since_ns and c in causes), None)

    board.emu.wait_for(lambda: found() is not None, emu_ms, what="a %s reset" % "/".join(causes))
    return found()


def _after_reboot_nothing_resumes(board, t_reset, fault):
    board.dev.wait_boot()  # boot output before the host listens again is lost, as on USB
    st = board.dev.request("status")
    assert st["state"] == "FAULT" and st["fault"] == fault, st
    records = board.dev.logs()[0]
    assert any(r.get("event") == "fault" and r["fault"] == fault and r["latched"] for r in records)
    board.emu.run_for_ms(200)
    assert _pulses_between(board, t_reset) == []
    assert board.output_off_ns(t_reset) is not None


def test_hung_main_loop_watchdog_resets_and_nothing_resumes(hooks_board):
    board = hooks_board
    _need_start(board)
    _idle(board)
    board.emu.on_reset.append(lambda cause: board.stage._clear("hang"))  # the hook's line drops
    t0 = board.start_session(SHORT)
    board.emu.run_until(t0 + 200 * NS_PER_MS)
    board.stage.inject("hang")
    t_hang = board.stage.faults.get("hang") or board.stage.events[-1][0]
    # The watchdog is fed once per main-loop pass: it bites within one pass + its timeout.
    bound_ms = LOOP_MS + WDT_MS
    t_reset = _wait_reset(board, t_hang, ("watchdog",), bound_ms + 100)
    assert t_reset - t_hang <= (bound_ms + 5) * NS_PER_MS
    period_ms = 1000 / SHORT["frequency_hz"]
    assert len(_pulses_between(board, t_hang, t_reset)) <= bound_ms // period_ms + 1
    _after_reboot_nothing_resumes(board, t_reset, "watchdog")


def test_ctrl_c_on_the_console_turns_output_off(hooks_board):
    board = hooks_board
    _need_start(board)
    _idle(board)
    t0 = board.start_session(SHORT)
    board.emu.run_until(t0 + 200 * NS_PER_MS)
    n_in = len(board.emu.input_log)
    board.dev.t.send_line(b"\x03")  # Ctrl-C, as a terminal sends it
    board.emu.wait_for(lambda: len(board.emu.input_log) > n_in, 100, what="the byte")
    t_c = next(t for t, b in board.emu.input_log[n_in:] if b"\x03" in b)
    t_abort, ev = board.wait_event("abort", t_c, emu_ms=200)
    assert ev["reason"] == "interrupt" and ev["output"] == "off"
    assert ev["gated"] is False and ev["amplitude_ua"] == 0
    off = board.output_off_ns(t_c)
    assert off is not None and off <= t_abort
    # main.py has ended; the watchdog it started is not fed any more: the chip resets
    t_reset = _wait_reset(board, t_c, ("watchdog",), WDT_MS + 200)
    assert _pulses_between(board, off) == []
    _after_reboot_nothing_resumes(board, t_reset, "watchdog")


def test_log_and_store_survive_a_reset_in_the_middle_of_a_write(hooks_board, tmp_path):
    """Power cut right after the first flash page naming this session is programmed (start
    writes the session marker to the store, then the session_start record to the log): after
    the reboot the store and the log read back whole, nothing runs, and a committed marker is
    found and latched as interrupted."""
    from tvns_tools.firmware import import_firmware

    import_firmware()
    from tvns import log as fwlog
    from tvns import storefmt

    board = hooks_board
    _idle(board)
    dev = board.dev
    name = b"emu-power-cut"
    dev.request("load", protocol=dict(SHORT, name=name.decode()))
    dev.request("arm")
    cut = []

    def on_flash(op, addr, data):
        if not cut and op == 0x02 and name in data:
            cut.append(board.emu.now_ns)
            board.emu.power_cut()

    board.emu.watch_flash(on_flash)
    t_start = board.emu.now_ns
    dev.send_raw(b'{"id": 999, "cmd": "start"}')  # no reply expected: the power goes first
    t_cut = _wait_reset(board, t_start, ("power",), 2000)
    assert cut and 0 <= t_cut - cut[0] < 1000  # right after that page, before the next command
    dev.wait_boot()
    st = dev.request("status")
    assert st["state"] in ("IDLE", "FAULT") and st["fault"] in (None, "interrupted"), st
    img = board.emu.dump_fs(tmp_path / "after.img")
    files = image.read(img)
    state, why = storefmt.decode(files["state.json"])  # whole: the old or the new, never torn
    assert why is None and "active" not in state, why
    lines = files["log.jsonl"].splitlines(keepends=True)
    assert lines and all(fwlog.check(line) is not None for line in lines)
    seqs = [fwlog.check(line)[0] for line in lines]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    if st["state"] == "FAULT":  # the marker had been committed: the reboot closed the books
        recs = [json.loads(line) for line in lines]
        starts = [i for i, r in enumerate(recs) if r["kind"] == "session_start"]
        after = recs[starts[-1] :] if starts else recs  # the cut may fall before the record
        assert any(r["kind"] == "fault" and r.get("fault") == "interrupted" for r in after)
        assert any(r["kind"] == "session_end" for r in after)
    board.emu.run_for_ms(100)
    assert _pulses_between(board, t_cut) == []
