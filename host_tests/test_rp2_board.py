"""board/rp2.py and boot.py against the host fakes of machine and rp2 (CPython)."""

import importlib.util

import pytest
from rp2_support import ROOT, FakeTime, build_board, fakes, pico_config, pulse_sm
from tvns.board import rp2 as board_rp2
from tvns.board import rp2_pio
from tvns.errors import ABOVE_CEILING, MISSING, OUT_OF_RANGE, SELF_TEST, TvnsError

OUTPUT_STAGE = (2, 3, 4, 5, 6, 11)  # phase A, phase B, sync, gate, DAC PWM, marker in pico.json


def load_boot():
    spec = importlib.util.spec_from_file_location("_tvns_boot", ROOT / "firmware" / "boot.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # runs main(): must be a no-op on CPython
    return mod


def test_fakes_do_not_leak_into_sys_modules():
    import sys

    build_board()
    assert "machine" not in sys.modules or not hasattr(sys.modules["machine"], "set_input")
    assert "rp2" not in sys.modules


def test_boot_is_a_no_op_off_the_board():
    machine, _rp2 = fakes()
    boot = load_boot()
    assert boot.main() is None
    assert boot.main("linux", machine) is None
    assert machine.log == []


def test_boot_drives_every_output_stage_pin_to_its_safe_level(monkeypatch):
    machine, _rp2 = fakes()
    boot = load_boot()
    monkeypatch.chdir(ROOT / "hardware" / "boards")  # pico.json as the deployed map
    pins = boot.main("rp2", machine)
    safe = {spec["gpio"]: spec["safe"] for spec in pico_config()["pins"].values()}
    assert sorted(pins) == sorted((g, lvl) for g, lvl in safe.items() if lvl is not None)
    for gpio in OUTPUT_STAGE:
        assert machine.pins[gpio] == {"mode": machine.Pin.OUT, "pull": None, "value": 0}
    # inputs (e-stop, sense, compliance) are left alone
    assert 16 not in machine.pins and 26 not in machine.pins


def test_boot_leaves_only_board_json_for_main(monkeypatch, tmp_path):
    """boot.py hands main the map it parsed from board.json (mainloop._boot_pin_map), not
    one read from a fallback path, not a damaged one."""
    import json

    machine, _rp2 = fakes()
    boot = load_boot()
    assert boot.BOOT_PIN_MAP is None  # off the board main() did nothing
    monkeypatch.chdir(ROOT / "hardware" / "boards")  # pico.json: not board.json
    boot.main("rp2", machine)
    assert boot.BOOT_PIN_MAP is None
    monkeypatch.chdir(tmp_path)
    (tmp_path / "board.json").write_text(json.dumps(pico_config()))
    boot.main("rp2", machine)
    assert boot.BOOT_PIN_MAP == pico_config()
    boot.BOOT_PIN_MAP = None
    (tmp_path / "board.json").write_text("{not json")
    boot.main("rp2", machine)
    assert boot.BOOT_PIN_MAP is None


def test_boot_falls_back_to_hard_coded_pins(monkeypatch, tmp_path):
    machine, _rp2 = fakes()
    boot = load_boot()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "board.json").write_text("{not json")
    assert boot.main("rp2", machine) == [(g, 0) for g in OUTPUT_STAGE]
    assert all(machine.pins[g]["value"] == 0 for g in OUTPUT_STAGE)


def test_import_touches_nothing_and_build_drives_outputs_low():
    machine, rp2 = fakes()
    assert machine.log == [] and rp2.StateMachine.instances == []
    board, machine, rp2 = build_board()
    for gpio in (2, 3, 4, 5):
        assert machine.pins[gpio]["mode"] == machine.Pin.OUT
        assert machine.pins[gpio]["value"] == 0
    assert machine.PWM.instances[0].duty_u16() == 0
    assert machine.WDT.instances == []  # not before the board starts
    assert board.name == "pico" and board.ceiling_ua == 8000


def test_load_puts_counts_in_tx_fifo_with_integer_divider():
    board, machine, rp2 = build_board()
    board.engine.load(250, 0, 40_000)
    sm = pulse_sm(rp2)
    n_w, n_g, n_o = rp2_pio.counts(250, 0, 40_000, machine.freq())
    # the setup words, then one off-time word per permitted pulse (the dead man's feed)
    assert sm.tx == [n_w, n_g] + [n_o] * 2
    assert sm.pulled == [n_w, n_g] and sm.tx_fifo() == 2  # the setup ran as it started
    assert sm.init_kw["freq"] == machine.freq()  # divider exactly 1
    assert sm.init_kw["sideset_base"].id == 2 and sm.init_kw["in_base"].id == 5
    assert sm.running
    # the program it loaded is the one the emulator runs
    assert list(sm.program[0]) == rp2.program_info(rp2_pio.assemble(rp2))[0]


def test_load_refuses_rather_than_wait_when_init_leaves_words_in_the_fifo(monkeypatch):
    """The pulse machine is stopped while load() fills its TX FIFO: on the rp2 port a put()
    on a full FIFO waits for the PIO for good. Silicon's init() flushes the FIFOs; rp2040py
    0.3.6's did not, and `start` (the second load) never answered on the emulated Pico. With
    such an init, load refuses (self_test), pins low on GPIO, instead of hanging."""
    board, machine, rp2 = build_board()
    board.engine.load(250, 0, 40_000)  # the setup words pulled; 2 permissions queued
    sm = pulse_sm(rp2)
    assert sm.tx_fifo() == 2
    real_init = rp2.StateMachine.init

    def init_keeping_the_fifo(self, *args, **kw):
        queued = list(self.fifo)
        real_init(self, *args, **kw)
        self.fifo = queued

    monkeypatch.setattr(rp2.StateMachine, "init", init_keeping_the_fifo)
    with pytest.raises(TvnsError) as e:
        board.engine.load(250, 0, 40_000)
    assert e.value.code == SELF_TEST and "TX FIFO" in str(e.value)
    assert not sm.running and not board.engine.loaded
    for gpio in (2, 3, 4):  # A, B, SYNC back on GPIO, low
        assert machine.pins[gpio]["mode"] == machine.Pin.OUT
        assert machine.pins[gpio]["value"] == 0


def test_load_uses_the_current_machine_freq():
    board, machine, rp2 = build_board()
    machine.freq(200_000_000)
    board.engine.load(20, 0, 10_000)
    assert pulse_sm(rp2).tx[0] == 20 * 200 - 3
    machine.freq(133_333_333)
    with pytest.raises(TvnsError):
        board.engine.load(20, 0, 10_000)


@pytest.mark.parametrize(
    "args,field",
    [
        ((19, 0, 10_000), "width_us"),
        ((1001, 0, 10_000), "width_us"),
        ((250, 101, 10_000), "gap_us"),
        ((250, 0, 9_999), "period_us"),
        ((250, 0, 1_000_001), "period_us"),
        ((1000, 100, 2_050), "period_us"),  # pulse does not fit
    ],
)
def test_load_refuses_what_it_cannot_express(args, field):
    board, _m, _r = build_board()
    with pytest.raises(TvnsError) as e:
        board.engine.load(*args)
    assert e.value.field == field


def test_dead_time_refuses_a_shorter_gap():
    cfg = pico_config()
    cfg["pio"]["dead_time_ns"] = 2000
    board, _m, _r = build_board(cfg)
    with pytest.raises(TvnsError) as e:
        board.engine.load(250, 0, 40_000)
    assert e.value.field == "gap_us"
    board.engine.load(250, 2, 40_000)


def test_gate_drives_the_gate_pin():
    board, machine, _r = build_board()
    board.engine.gate(True)
    assert machine.pins[5]["value"] == 1
    board.engine.gate(False)
    assert machine.pins[5]["value"] == 0


def test_stop_freezes_then_side_sets_low_then_hands_pins_to_gpio_low():
    board, machine, rp2 = build_board()
    board.engine.load(250, 0, 40_000)
    board.engine.gate(True)
    sm = pulse_sm(rp2)
    del machine.log[:]
    sm.events.clear()
    board.engine.stop()
    assert sm.events == [("active", False), ("exec", 0xA042)]  # nop side 0
    assert not sm.running
    for gpio in (2, 3, 4, 5):
        assert machine.pins[gpio]["mode"] == machine.Pin.OUT
        assert machine.pins[gpio]["value"] == 0
    # value 0 is set before each pin becomes a GPIO output again
    for gpio in (2, 3, 4):
        i_val = machine.log.index(("pin_value", gpio, 0))
        i_init = machine.log.index(("pin_init", gpio, machine.Pin.OUT, -1, None))
        assert i_val < i_init


def test_safe_off_gate_off_engine_stopped_dac_zero():
    board, machine, rp2 = build_board()
    board.engine.load(250, 0, 40_000)
    board.engine.gate(True)
    board.dac.set_ua(2000)
    board.safe_off()
    assert machine.pins[5]["value"] == 0
    assert pulse_sm(rp2).execs == [0xA042]
    assert machine.PWM.instances[0].duty_u16() == 0


@pytest.mark.parametrize("ua,code", [(0, 0), (1, 6), (100, 655), (1000, 6553), (8000, 52428)])
def test_pwm_dac_codes(ua, code):
    board, machine, _r = build_board()
    board.dac.set_ua(ua)
    assert machine.PWM.instances[0].duty_u16() == code
    # rounded down: the commanded current never exceeds the setpoint
    assert code * 10_000 // 65535 <= ua


def test_dac_calibration_offset_and_gain():
    cfg = pico_config()
    cfg["dac"].update(full_scale_ua=12_000, offset_ua=-200)
    board, machine, _r = build_board(cfg)
    board.dac.set_ua(1000)
    assert machine.PWM.instances[0].duty_u16() == (1000 + 200) * 65535 // 12_000
    board.dac.set_ua(0)
    assert machine.PWM.instances[0].duty_u16() == 0


def test_dac_refuses_above_ceiling_and_negative():
    board, machine, _r = build_board()
    with pytest.raises(TvnsError) as e:
        board.dac.set_ua(8001)
    assert e.value.code == ABOVE_CEILING
    with pytest.raises(TvnsError):
        board.dac.set_ua(-1)
    assert machine.PWM.instances[0].duty_u16() == 0


@pytest.mark.parametrize(
    "section,key,value,code",
    [
        ("dac", "full_scale_ua", None, MISSING),
        ("dac", "full_scale_ua", 5000, OUT_OF_RANGE),  # below the 8 mA ceiling
        ("dac", "full_scale_ua", 10**7, OUT_OF_RANGE),
        ("dac", "offset_ua", 5000, OUT_OF_RANGE),
        ("dac", "kind", "r2r", OUT_OF_RANGE),
        ("sense", "r_ohms", None, MISSING),
        ("sense", "r_ohms", 0, OUT_OF_RANGE),
        ("sense", "r_ohms", 1000, OUT_OF_RANGE),  # 3.3 mA range cannot see 8.8 mA
        ("sense", "cal_gain", 7.0, OUT_OF_RANGE),
        (None, "ceiling_ua", 20_000, OUT_OF_RANGE),
        (None, "wdt_timeout_ms", 10_000, OUT_OF_RANGE),
    ],
)
def test_calibration_errors_are_clear(section, key, value, code):
    cfg = pico_config()
    target = cfg if section is None else cfg[section]
    if value is None:
        del target[key]
    else:
        target[key] = value
    with pytest.raises(TvnsError) as e:
        build_board(cfg)
    assert e.value.code == code
    assert key in e.value.field


def test_side_set_pins_must_be_consecutive():
    cfg = pico_config()
    cfg["pins"]["phase_b"]["gpio"] = 7
    with pytest.raises(TvnsError):
        build_board(cfg)


def test_mcp4725_dac_writes_fast_mode_codes():
    cfg = pico_config()
    cfg["dac"] = {"kind": "mcp4725", "full_scale_ua": 10_000, "i2c_addr": 0x60}
    board, machine, _r = build_board(cfg)
    i2c = machine.I2C.instances[0]
    assert i2c.writes == [(0x60, b"\x00\x00")]  # zero at construction
    board.dac.set_ua(5000)
    code = 5000 * 4095 // 10_000
    assert i2c.writes[-1] == (0x60, bytes([code >> 8, code & 0xFF]))


def test_sense_converts_and_reads_compliance():
    board, machine, _r = build_board()
    machine.ADC.values[26] = 0
    assert board.sense.read_ua() == 0
    # 1 mA through 100 ohm = 100 mV -> raw12 = 100/3300*4095
    raw12 = round(100 / 3300 * 4095)
    machine.ADC.values[26] = raw12 << 4
    assert abs(board.sense.read_ua() - 1000) <= 1
    assert board.sense.full_scale_ua >= 8800
    machine.set_input(15, 0)
    assert board.sense.read_compliance() is False
    machine.set_input(15, 1)
    assert board.sense.read_compliance() is True
    del machine.inputs[15]  # broken wire: pull-up reads as compliance (fail safe)
    assert board.sense.read_compliance() is True


def test_estop_normally_closed_loop_a_cut_wire_reads_pressed():
    board, machine, _r = build_board()
    assert machine.pins[16]["pull"] == machine.Pin.PULL_DOWN
    assert board.estop.pressed() is False  # the NC loop holds the input high
    machine.set_input(16, 0)
    assert board.estop.pressed() is True  # pressed: the loop opens
    del machine.inputs[16]
    assert board.estop.pressed() is True  # cable cut: the pull-down reads pressed


def test_ticker_starts_hard_timer_and_watchdog_then_feeds():
    board, machine, _r = build_board()
    calls = []

    class Sched:
        def tick_cb(self, _t):
            calls.append(1)
            board.wdt.feed()

    board.wdt.feed()  # before start: no WDT exists, nothing happens
    board.ticker.start(Sched())
    timer = machine.Timer.instances[0]
    assert (timer.period, timer.mode, timer.hard) == (1, machine.Timer.PERIODIC, True)
    assert machine.WDT.instances[0].timeout == 300
    timer.fire()
    timer.fire()
    assert calls == [1, 1] and machine.WDT.instances[0].feeds == 2
    board.ticker.stop()
    assert not timer.running
    board.ticker.start(Sched())
    assert len(machine.WDT.instances) == 1  # one watchdog for the board's life


def test_clock_and_idle():
    board, _m, _r = build_board()
    t = board.clock.ticks_us()
    assert board.clock.ticks_diff(board.clock.ticks_add(t, 5), t) == 5
    board.idle_ms(20)
    assert board._time.slept_ms == [20]
    # CPython fallback clock
    import time

    clock = board_rp2.Clock(time)
    a = clock.ticks_ms()
    assert clock.ticks_diff(clock.ticks_add(a, 1000), a) == 1000
    assert clock.ticks_diff(clock.ticks_add(0x3FFFFFFF, 2), 0x3FFFFFFF) == 2


def test_set_ua_never_waits_and_applies_between_pulses():
    board, machine, _r = build_board()
    pwm = machine.PWM.instances[0]
    t = FakeTime()
    board.dac._clock = board_rp2.Clock(t)
    machine.pins[4]["value"] = 1  # SYNC high: a pulse in flight
    board.dac.set_ua(500)
    assert t.now_us == 0  # no busy-wait, no clock read
    assert pwm.duty_u16() == 0 and board.dac.pending == 500 * 65535 // 10_000
    board.dac.apply()  # a later tick, still inside the pulse: nothing yet
    assert pwm.duty_u16() == 0
    machine.pins[4]["value"] = 0  # the pulse ended
    board.dac.apply()
    assert pwm.duty_u16() == 500 * 65535 // 10_000 and board.dac.pending == -1
    board.dac.set_ua(600)  # between pulses: at once
    assert pwm.duty_u16() == 600 * 65535 // 10_000
