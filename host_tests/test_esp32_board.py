"""board/esp32.py on the ESP32 silicon model (MicroPython v1.28.0's esp32 port semantics):
the pin map's rules, the parts built from it, the fail-safe inputs, the kill latch, the
DAC's pending setpoint and slew limit, the soft timer, the watchdog, boot and the radio.
The RMT engine's timing has its own file (test_esp32_rmt.py)."""

import ast
import json

import pytest
from esp32_support import ESP32_JSON, build, esp32_config, pulses, run_ms
from tvns import errors as E
from tvns import safety as F
from tvns.board import esp32_pins

PINS = esp32_config()["pins"]


def test_board_builds_with_every_output_at_its_safe_level():
    board, chip = build()
    assert board.name == "esp32-devkitc" and board.ceiling_ua == 8000
    for role in ("phase_a", "phase_b", "sync", "gate"):
        assert chip.pad_level(PINS[role]["gpio"]) == 0, role
    assert chip.pad_level(PINS["latch_reset"]["gpio"]) == 1  # the latch holds
    assert {code for _t, code in chip.dac_log[25]} == {0}  # machine.DAC starts at 0, stays
    assert not chip.channels  # no RMT channel until the first load
    assert chip.timers == [] and chip.wdt is None


@pytest.mark.parametrize(
    "change, field",
    [
        ({"pins.phase_b.gpio": 18}, "pins.phase_b.gpio"),  # one GPIO, two roles
        ({"pins.gate.gpio": 34}, "pins.gate.gpio"),  # input-only pin as an output
        ({"pins.phase_a.gpio": 2}, "pins.phase_a.gpio"),  # strapping pin
        ({"pins.phase_a.gpio": 12}, "pins.phase_a.gpio"),  # strapping pin (flash voltage)
        ({"pins.sync.gpio": 7}, "pins.sync.gpio"),  # module flash
        ({"pins.gate.gpio": 1}, "pins.gate.gpio"),  # the console UART
        ({"pins.estop.gpio": 39}, "pins.estop.pull"),  # no internal pull on 34-39
        ({"pins.dac.gpio": 27, "pins.estop.gpio": 14}, "pins.dac"),  # DAC only on 25/26
        ({"pins.sense_adc.gpio": 14}, "pins.sense_adc.gpio"),  # ADC2: shared with the radio
        ({"pins.estop.pull": "up"}, "pins.estop.pull"),  # a cut e-stop wire would read released
        ({"pins.latch_q.pull": None}, "pins.latch_q.pull"),  # a cut LQ wire would read clear
        ({"pins.overcurrent.pull": "up"}, "pins.overcurrent.pull"),
        ({"pins.compliance.pull": "down"}, "pins.compliance.pull"),
        ({"pins.latch_reset.safe": 0}, "pins.latch_reset.safe"),
        ({"pins.phase_a.dir": "in"}, "pins.phase_a.dir"),
        ({"pins.latch_reset": None}, "pins"),  # the latch needs both lines
        ({"pins.estop": None}, "pins.estop"),
        ({"pins.bogus": {"gpio": 14, "dir": "in"}}, "pins.bogus"),
    ],
)
def test_pin_map_rules_name_the_field(change, field):
    with pytest.raises(E.TvnsError) as exc:
        esp32_pins.check(esp32_config(**change))
    assert exc.value.field == field, exc.value.message


def test_the_devkitc_map_passes_and_says_where_each_pin_is():
    cfg = json.loads(ESP32_JSON.read_text())
    esp32_pins.check(cfg)
    headers = [spec["header"] for spec in cfg["pins"].values()]
    assert len(set(headers)) == len(headers)
    for role, spec in cfg["pins"].items():
        side, n = spec["header"].split("-")
        assert side in ("J1", "J3") and 1 <= int(n) <= 19, role
    assert cfg["pins"]["dac"]["gpio"] in (25, 26) and 32 <= cfg["pins"]["sense_adc"]["gpio"] <= 39


@pytest.mark.parametrize(
    "change, field",
    [
        ({"rmt.resolution_hz": 3_000_000}, "rmt.resolution_hz"),  # 80 MHz / 3 MHz: inexact
        ({"rmt.resolution_hz": 1_500_000}, "rmt.resolution_hz"),  # not whole us ticks
        ({"rmt.latency_us": 500}, "rmt.latency_us"),
        ({"rmt.skew_comp_us": 400}, "rmt.skew_comp_us"),  # above skew_max_us
        ({"tick_ms": 6}, "tick_ms"),  # the feed could never be on time
        ({"sense.pedestal_mv": 50}, "sense.pedestal_mv"),  # inside the ADC's dead zone
        ({"sense.r_ohms": 200}, "sense.r_ohms"),  # 110 % of the ceiling above the window
        ({"sense.atten_db": 5}, "sense.atten_db"),
        ({"dac.kind": "pwm"}, "dac.kind"),
        ({"wdt_timeout_ms": 50}, "wdt_timeout_ms"),
    ],
)
def test_board_refuses_what_it_cannot_keep(change, field):
    with pytest.raises(E.TvnsError) as exc:
        board, _chip = build(esp32_config(**change))
        board.engine.load(250, 20, 40000)
    assert exc.value.field == field, exc.value.message


def test_stop_takes_both_phases_low_at_once_without_touching_the_rmt():
    board, chip = build()
    board.engine.load(1000, 100, 10000)
    board.dac.set_ua(1000)
    board.engine.gate(True)
    run_ms(board, chip, 4)  # the pulse is written, due 6 ms after its commit
    a = PINS["phase_a"]["gpio"]
    while not chip.pad_level(a):
        chip.clock.now_us += 10
    rise = chip.clock.now_us
    chip.clock.now_us += 400  # mid phase A
    t_stop = chip.clock.now_us
    board.safe_off()
    outs = ("phase_a", "phase_b", "sync", "gate")
    assert [chip.pad_level(PINS[r]["gpio"]) for r in outs] == [0, 0, 0, 0]
    assert chip.edges(a)[-1] == (t_stop * 80, 0)  # low at the stop, not at the frame's end
    assert chip.spin_us == 0 and chip.blocked_us == 0  # no rmt_disable spin, no wait
    assert chip.dac_log[25][-1][1] == 0 and board.dac.value_ua == 0
    # the frame runs on unseen; phase B never reaches its pin
    run_ms(board, chip, 20)
    ((ra, fa, rb, fb),) = pulses(chip)
    assert rise - 10 < ra <= rise and fa == t_stop and rb is None
    # a load after a stop makes fresh channels: the old ones are released first
    board.engine.load(1000, 100, 10000)
    assert sum(not c.deleted for c in chip.channels) == 3 and chip.spin_us == 0
    board.engine.gate(True)
    run_ms(board, chip, 30)
    assert len(pulses(chip)) == 4 and all(q[2] is not None for q in pulses(chip)[1:])


def test_dac_setpoint_waits_for_the_pulse_in_flight_and_rises_one_step_per_pulse():
    board, chip = build()
    dac = board.dac
    board.engine.load(500, 50, 20000)
    dac.set_ua(100)
    assert dac.value_ua == 100  # idle engine: written at once
    board.engine.gate(True)
    run_ms(board, chip, 2)  # pulse 1 written (commit), not yet out: the DAC must hold
    dac.set_ua(900)
    assert dac.value_ua == 100 and dac.setpoint_ua == 900
    run_ms(board, chip, 200)
    amps = [code for _t, code in chip.dac_log[25]]
    # +100 uA per pulse at most (8-bit DAC, 10 mA full scale: 39 uA per code)
    ua = [board.dac.code_for(u) for u in (100, 200, 300, 400, 500, 600, 700, 800, 900)]
    assert amps[-len(ua) :] == ua
    # never written while a pulse was on the pins
    spans = [(q[0], q[3]) for q in pulses(chip)]
    for t, _code in chip.dac_log[25][1:]:
        assert not any(lo <= t <= hi for lo, hi in spans), t
    # decreases apply in full, at the next idle moment
    dac.set_ua(0)
    run_ms(board, chip, 25)
    assert dac.value_ua == 0 and chip.dac_log[25][-1][1] == 0


def test_sense_reads_calibrated_microvolts_above_the_pedestal():
    board, chip = build()
    adc = PINS["sense_adc"]["gpio"]
    for ua in (0, 1000, 8000, 8800):
        chip.adc_uv[adc] = 200_000 + ua * 100  # 100 ohm x 1 on the 200 mV pedestal
        assert board.sense.read_ua() == ua
    chip.adc_uv[adc] = 0  # a broken pedestal or a dead ADC reads 0: never below 0 uA
    assert board.sense.read_ua() == 0


def test_overcurrent_comparator_and_latch_are_seen_even_when_gone_by_the_tick():
    board, chip = build()
    oc, lq, es = (PINS[r]["gpio"] for r in ("overcurrent", "latch_q", "estop"))
    assert board.kill.tripped() == F.NONE and not board.kill.asserted()
    chip.inputs[oc] = 0  # OC_OK falls: the latch sets, the bridge is cut
    chip.inputs[lq] = 1
    chip.poll_inputs()
    chip.inputs[oc] = 1  # and the comparator recovers before the tick reads it
    chip.run_scheduled()  # the soft IRQ runs first
    assert board.kill.tripped() == F.OVERCURRENT and board.kill.asserted()
    assert board.kill.cause_now() == F.NONE  # gone now: the self-test may reset the latch
    assert board.sense.read_ua() == 0  # the sense reads what flows: nothing, the bridge is cut
    board.safe_off()  # the fault path: the cause has been read
    assert board.kill.tripped() == F.KILL  # still latched, no cause seen since
    chip.inputs[es] = 0  # an e-stop press latches it with its own name
    assert board.kill.tripped() == F.ESTOP and board.kill.cause_now() == F.ESTOP


def test_estop_is_fail_safe_and_a_short_press_is_reported_once():
    board, chip = build()
    es = PINS["estop"]["gpio"]
    assert not board.estop.pressed()
    chip.inputs.pop(es)  # cable cut: only the pull-down is left
    assert board.estop.pressed()
    chip.inputs[es] = 1
    assert not board.estop.pressed()
    chip.inputs[es] = 0  # pressed for less than a tick
    chip.poll_inputs()
    chip.inputs[es] = 1
    chip.run_scheduled()
    assert board.estop.pressed() and not board.estop.pressed()


def test_latch_is_reset_by_a_pulse_only_once_its_cause_has_gone():
    board, chip = build()
    lq, oc, rst = (PINS[r]["gpio"] for r in ("latch_q", "overcurrent", "latch_reset"))
    state = {"q": 1}
    pulses_seen = []

    def lrst(level, t_us):
        pulses_seen.append((t_us, level))
        if level == 0 and chip.input_level(oc) == 1:
            state["q"] = 0

    chip.inputs[lq] = lambda: state["q"]
    chip.output_hooks[rst] = lrst
    chip.inputs[oc] = 0  # still tripped
    assert board.sense.self_test() == F.OVERCURRENT and pulses_seen == []
    chip.inputs[oc] = 1
    assert board.sense.self_test() == F.NONE
    (t0, lo), (t1, hi) = pulses_seen
    assert (lo, hi) == (0, 1) and t1 - t0 >= 10  # OS-1 asks >= 10 us
    assert chip.pad_level(rst) == 1
    state["q"] = 1
    chip.output_hooks[rst] = lambda level, t: None  # a latch that will not let go
    assert board.sense.self_test() == F.KILL


def test_ticker_is_a_soft_timer_that_feeds_then_ticks_while_the_tick_lives():
    board, chip = build()
    calls = []

    class Sched:
        tick_ms = 1

        def tick_cb(self, _t):
            calls.append("tick")

    board.engine.load(250, 20, 40000)
    feed = board.engine.feed
    board.engine.feed = lambda before=False: calls.append(("feed", before)) or feed(before)
    board.ticker = type(board.ticker)(chip.machine, esp32_config(), board.wdt, board.engine)
    board.ticker.start(Sched())
    (tm,) = chip.timers
    assert tm.id == 0 and tm.period == 1 and tm.mode == tm.PERIODIC
    tm.fire()
    tm.fire()
    # the scheduler's tick feeds again after its gate decision (tested with the scheduler)
    assert calls == [("feed", True), "tick"] * 2
    assert chip.wdt is not None and chip.wdt.timeout == 300

    class Broken(Sched):
        def tick_cb(self, _t):
            raise ValueError("bug in the tick")

    board.ticker.start(Broken())
    calls.clear()
    for _ in range(3):
        with pytest.raises(ValueError):
            chip.timers[0].fire()
    assert calls == [("feed", True)]  # once the tick has raised, nothing feeds: it starves
    with pytest.raises(ValueError, match="hard"):  # the ESP32 port has no hard timers
        chip.machine.Timer(0, mode=1, period=1, callback=print, hard=True)


def test_boot_drives_the_esp32_safe_levels_from_the_map_or_the_fallback(tmp_path, monkeypatch):
    import boot
    from tvns.board.simesp32mod import new_chip

    chip = new_chip()
    monkeypatch.chdir(tmp_path)
    pins = boot.main("esp32", chip.machine)  # no map on the file system: the fallback
    assert sorted(pins) == sorted(boot._SAFE["esp32"])
    (tmp_path / "board.json").write_text(ESP32_JSON.read_text())
    pins = boot.main("esp32", chip.machine)
    want = {(s["gpio"], s["safe"]) for s in PINS.values() if s.get("safe") is not None}
    assert set(pins) == want
    for gpio, level in want:
        assert chip.pad_level(gpio) == level
    # the fallback is the map's own outputs
    assert set(boot._SAFE["esp32"]) == want


RADIO = ("network", "bluetooth", "ubluetooth", "espnow", "webrepl", "aioble", "socket", "ssl")


def test_no_module_on_the_device_imports_radio_code():
    from tvns_tools import deploy

    for rel in deploy.firmware_files():
        if not rel.endswith(".py"):
            continue
        tree = ast.parse((deploy.FIRMWARE / rel).read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert name.split(".")[0] not in RADIO, (rel, name)


def test_the_stage_latch_cuts_the_bridge_at_once_and_clear_resets_it_after_the_cause():
    """On the ESP32 board model: a failed current source above OS-1's comparator (10.98 mA)
    kills the bridge in hardware at the instant of the fault; the firmware names the cause
    at its next tick; clear is refused while the short is there, and once it is gone the
    clear resets the latch (a firmware pulse) and the bridge may run again."""
    from esp32_support import sim_esp32
    from sim_support import doc, loop, started
    from tvns import session as S

    board, app = started(doc(amplitude_ma=6, session_s=120, on_s=60, off_s=0), sim_esp32)
    loop(app, 20_000)
    assert not board.stage.latched and board.sense.model_ua() == 6000
    t_fault = board.clock.now_us
    board.inject("overcurrent", 0)  # the source now drives 2 x 6 mA + 1 mA
    loop(app, 100)
    assert board.stage.trips and board.stage.trips[0][0] == t_fault  # hardware: at once
    assert board.sense.model_ua() == 0  # the bridge is cut
    assert app.session.state == S.FAULT and app.status()["fault"] == "overcurrent"
    with pytest.raises(E.TvnsError) as exc:
        app.clear()  # the short is still there (idle, the comparator cannot see it: the probe)
    assert exc.value.code == E.FAULT_PRESENT and app.session.state == S.FAULT
    board.sense.short = False
    app.clear()
    assert app.session.state == S.IDLE and not board.stage.latched


def test_the_esp32_pin_groups_and_the_shared_rules_read_one_table():
    """esp32_pins' named groups cover exactly the chip's reserved pins in board/config.py,
    and its roles are that table's: a role added once is known to both checks."""
    from tvns.board.config import MCUS

    chip = MCUS["esp32"]
    grouped = set(esp32_pins.FLASH) | set(esp32_pins.CONSOLE) | set(esp32_pins.STRAPPING)
    assert grouped == set(chip["reserved"])
    assert esp32_pins.ROLES is chip["roles"] and esp32_pins.INPUT_ONLY is chip["no_out"]
