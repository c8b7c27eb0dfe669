"""The rp2 board's dead-man feed, kill path, self-test, pending DAC setpoint and fault latch,
against the host fakes of machine and rp2 (CPython), and the App running on that board."""

import pytest
from rp2_support import AT_REST, build_board, kill_sm, pico_config, pulse_sm
from sim_support import doc
from tvns import errors as E
from tvns import safety as F
from tvns import session as S
from tvns.app import App
from tvns.board import rp2_pio
from tvns.errors import OUT_OF_RANGE, TvnsError


# ---- the dead man's feed ----
def test_feed_tops_the_fifo_up_to_two_words_and_never_blocks():
    board, machine, rp2 = build_board()
    board.engine.load(250, 0, 40_000)
    sm = pulse_sm(rp2)
    n_o = rp2_pio.counts(250, 0, 40_000, machine.freq())[2]
    assert board.engine.feed() == 40 and sm.tx_fifo() == 2  # full: nothing put
    sm.pio_pull(1)  # a pulse took its word
    board.engine.feed()
    assert sm.tx_fifo() == 2 and sm.tx[-1] == n_o
    sm.pio_pull(2)  # two pulses between two ticks (a late tick)
    board.engine.feed()
    assert sm.tx_fifo() == 2 and len(sm.tx) == 2 + 2 + 1 + 2
    for _ in range(5):
        board.engine.feed()  # a put on a full FIFO would wait on the board: never happens
    assert sm.tx_fifo() == 2


def test_a_stopped_engine_is_not_fed():
    board, _m, rp2 = build_board()
    board.engine.load(250, 0, 40_000)
    board.engine.stop()
    sm = pulse_sm(rp2)
    sm.pio_pull(2)
    board.engine.feed()
    assert sm.tx_fifo() == 0


# ---- the kill path ----
def test_load_arms_the_kill_machine_before_the_pulse_machine():
    board, machine, rp2 = build_board()
    board.engine.load(250, 0, 40_000)
    ksm, sm = kill_sm(rp2), pulse_sm(rp2)
    assert ksm.id == sm.id + 1 and ksm.id // 4 == sm.id // 4  # higher-numbered, same block
    assert ksm.init_kw["in_base"].id == 7 and ksm.init_kw["set_base"].id == 2
    assert ksm.init_kw["freq"] == machine.freq() and ksm.running
    assert list(ksm.program[0]) == rp2.program_info(rp2_pio.assemble_kill(rp2, 11))[0]
    assert machine.pins[7] == {"mode": machine.Pin.IN, "pull": machine.Pin.PULL_DOWN, "value": 0}
    assert machine.pins[17]["pull"] == machine.Pin.PULL_DOWN


@pytest.mark.parametrize(
    "snapshot,cause",
    [
        (0b11111111110 & ~(1 << 10), F.OVERCURRENT),  # OC_OK low (GP17)
        (0b11111111110 & ~(1 << 9), F.ESTOP),  # the e-stop loop open (GP16)
        (0b11111111110 & ~(3 << 9), F.OVERCURRENT),  # both: the current source first
        (0b11111111110, F.KILL),  # neither: stage power-on, a cut KILL_n wire
    ],
)
def test_the_tick_names_the_kill_from_the_machine_snapshot(snapshot, cause):
    board, machine, rp2 = build_board()
    board.engine.load(250, 0, 40_000)
    assert board.kill.tripped() == F.NONE
    kill_sm(rp2).pio_push(snapshot)
    assert board.kill.tripped() == cause
    assert board.kill.tripped() == cause  # read once, kept until the engine is re-armed
    board.engine.load(250, 0, 40_000)
    assert board.kill.tripped() == F.NONE


def test_a_transient_kill_whose_snapshot_shows_nothing_reads_the_pins():
    board, machine, rp2 = build_board()
    board.engine.load(250, 0, 40_000)
    kill_sm(rp2).pio_push(0b11111111110)
    machine.set_input(17, 0)  # the comparator still low now
    assert board.kill.tripped() == F.OVERCURRENT


def test_kill_input_floating_reads_asserted_and_names_the_cause_at_rest():
    board, machine, _r = build_board()
    assert not board.kill.asserted() and board.kill.cause_now() == F.NONE
    del machine.inputs[7]  # KILL_n disconnected: the pull-down kills
    assert board.kill.asserted() and board.kill.cause_now() == F.KILL
    machine.set_input(16, 0)
    assert board.kill.cause_now() == F.ESTOP
    machine.set_input(17, 0)
    assert board.kill.cause_now() == F.OVERCURRENT


@pytest.mark.parametrize(
    "change,field",
    [
        ({"kill_sm": 0}, "pio.kill_sm"),  # the same machine
        ({"sm": 1, "kill_sm": 0}, "pio.kill_sm"),  # lower-numbered: its writes would lose
        ({"kill_sm": 4}, "pio.kill_sm"),  # another PIO block
    ],
)
def test_kill_machine_placement_is_checked(change, field):
    cfg = pico_config()
    cfg["pio"].update(change)
    with pytest.raises(TvnsError) as e:
        build_board(cfg)
    assert e.value.field == field and e.value.code == OUT_OF_RANGE


def test_kill_snapshot_must_reach_the_cause_inputs():
    cfg = pico_config()
    cfg["pins"]["overcurrent"]["gpio"] = 6  # 31 GPIOs above GP7, mod 32
    cfg["pins"]["dac_pwm"]["gpio"] = 17
    with pytest.raises(TvnsError) as e:
        build_board(cfg)
    assert e.value.field == "pins.overcurrent"


# ---- the self-test behind arm and clear (app._self_test -> board.sense.self_test) ----
@pytest.mark.parametrize(
    "inputs,adc_ua,code",
    [
        ({}, 0, F.NONE),
        ({7: 0}, 0, F.KILL),
        ({7: 0, 16: 0}, 0, F.ESTOP),
        ({7: 0, 17: 0}, 0, F.OVERCURRENT),
        ({15: 1}, 0, F.LEAD_OFF),  # compliance reads "at compliance" with the gate low
        ({}, 200, F.OVERCURRENT),  # 200 uA with the output off
        ({}, 40, F.NONE),  # offset within the sense floor
    ],
)
def test_rp2_self_test(inputs, adc_ua, code):
    board, machine, _r = build_board(inputs={**AT_REST, **inputs})
    machine.ADC.values[26] = round(adc_ua * 4095 / (3300 * 1000 / 100)) << 4
    assert board.sense.self_test() == code


def _app(board, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # the board's store is state.json in the working directory
    return App(board)


def test_arm_and_clear_refused_while_the_kill_input_is_asserted(monkeypatch, tmp_path):
    board, machine, rp2 = build_board()
    app = _app(board, monkeypatch, tmp_path)
    app.load(doc())
    machine.set_input(7, 0)
    with pytest.raises(E.TvnsError) as e:
        app.arm()
    assert e.value.code == E.SELF_TEST and "kill" in e.value.message
    machine.set_input(7, 1)
    app.arm()
    app.start()
    assert app.session.state == S.RAMP_UP
    # KILL_n falls mid-session: the PIO has cut the output; the next tick latches it
    machine.set_input(7, 0)
    machine.set_input(17, 0)
    kill_sm(rp2).pio_push(0b11111111110 & ~(1 << 10))
    machine.Timer.instances[-1].fire()
    assert app.session.state == S.FAULT and app.scheduler.fault_code == F.OVERCURRENT
    with pytest.raises(E.TvnsError) as e:
        app.clear()
    assert e.value.code == E.FAULT_PRESENT
    machine.set_input(7, 1)
    machine.set_input(17, 1)
    app.clear()
    assert app.session.state == S.IDLE


# ---- the tick on the rp2 board: the timer's callback, the latch, the setpoint ----
def test_the_timer_tick_feeds_and_latches_with_interrupts_off(monkeypatch, tmp_path):
    board, machine, rp2 = build_board()
    app = _app(board, monkeypatch, tmp_path)
    app.load(doc(off_s=0))
    app.arm()
    app.start()
    timer = machine.Timer.instances[-1]
    assert timer.hard and timer.callback == app.scheduler.tick_cb
    sm = pulse_sm(rp2)
    sm.pio_pull(2)
    timer.fire()
    assert sm.tx_fifo() == 2  # fed by the tick
    del machine.log[:]
    machine.set_input(16, 0)  # the e-stop poll (the tick's second line of defence)
    timer.fire()
    assert app.scheduler.fault_code == F.ESTOP
    i_off, i_on = machine.log.index(("disable_irq",)), machine.log.index(("enable_irq", 0))
    assert i_off < machine.log.index(("pin_value", 5, 0)) < i_on  # gate low inside the latch
    assert machine.irq_enabled()


def test_mcp4725_transfers_only_outside_the_tick_and_never_under_a_pulse():
    cfg = pico_config()
    cfg["dac"] = {"kind": "mcp4725", "full_scale_ua": 10_000, "i2c_addr": 0x60}
    board, machine, _r = build_board(cfg)
    i2c = machine.I2C.instances[0]
    queued = []
    board.dac._schedule = lambda fn, arg: queued.append((fn, arg))
    board.engine.load(250, 0, 40_000)
    board.engine.gate(True)
    board.dac.set_ua(5000)  # in the tick: recorded and handed on, no bus transfer
    assert i2c.writes == [(0x60, b"\x00\x00")] and len(queued) == 1
    fn, arg = queued.pop()
    machine.pins[4]["value"] = 1  # a pulse started before the main loop ran it
    fn(arg)
    assert len(i2c.writes) == 1 and board.dac.pending >= 0  # back to pending
    assert machine.pins[5]["value"] == 1  # the gate released to what the tick commanded
    machine.pins[4]["value"] = 0
    board.dac.apply()
    fn, arg = queued.pop()
    seen = []
    i2c.writeto = lambda addr, buf, stop=True: seen.append((machine.pins[5]["value"], bytes(buf)))
    fn(arg)
    code = 5000 * 4095 // 10_000
    assert seen == [(0, bytes([code >> 8, code & 0xFF]))]  # the gate held low for the transfer
    assert machine.pins[5]["value"] == 1 and board.dac.code == code
