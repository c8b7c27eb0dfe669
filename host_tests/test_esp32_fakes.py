"""The ESP32 silicon model (board/simesp32hw.py, simesp32mod.py, simesp32rmt.py) keeps what
MicroPython v1.28.0's esp32 port does (ports/esp32/esp32_rmt.c, machine_pin.c,
machine_timer.c, machine_dac.c, machine_adc.c on ESP-IDF 5.5.1): the firmware is only as
proven as its stand-in is faithful."""

import pytest
from tvns.board.simesp32hw import CU_PER_US, ChipPanic
from tvns.board.simesp32mod import new_chip


def _rmt(chip, gpio=18, **kw):
    kw.setdefault("resolution_hz", 1_000_000)
    return chip.esp32.RMT(pin=chip.machine.Pin(gpio), **kw)


def test_rmt_constructor_as_the_port_parses_it():
    chip = new_chip()
    Pin, RMT = chip.machine.Pin, chip.esp32.RMT
    with pytest.raises(TypeError):
        RMT(Pin(18))  # positional is the dummy channel id: pin is keyword-only and required
    with pytest.raises(TypeError):
        RMT(pin=18)  # a Pin, not a number
    with pytest.raises(ValueError):
        RMT(pin=Pin(18), resolution_hz=1_000_000, clock_div=80)
    with pytest.raises(ValueError):
        RMT(pin=Pin(18), clock_div=256)
    with pytest.raises(ValueError):
        RMT(pin=Pin(18), num_symbols=48)  # 64 at least on the ESP32, and even
    assert RMT(pin=Pin(18)).resolution_hz == 10_000_000  # the default
    assert RMT.PULSE_MAX == 32767 and RMT.source_freq() == 80_000_000
    for g in (19, 21, 22, 23, 25, 26, 27):
        RMT(pin=Pin(g))
    with pytest.raises(OSError):  # 8 channels on the ESP32
        RMT(pin=Pin(13))


def test_write_pulses_modes_items_and_errors():
    chip = new_chip()
    r = _rmt(chip)
    r.write_pulses([5, 10, 15], False)  # mode 1: durations, levels toggle from data
    assert r._ch.tx[-1][1] == [(5 * 80, 0), (10 * 80, 1), (15 * 80, 0)]
    chip.clock.now_us += 100
    r.write_pulses(7, [1, 0, 1])  # mode 2: one duration, a level each
    assert [lv for _d, lv in r._ch.tx[-1][1]] == [1, 0, 1]
    chip.clock.now_us += 100
    r.write_pulses([3, 4], [1, 0])  # mode 3
    assert r._ch.tx[-1][1] == [(3 * 80, 1), (4 * 80, 0)]
    with pytest.raises(ValueError, match="same length"):
        r.write_pulses([3, 4], [1])
    with pytest.raises(ValueError, match="No pulses"):
        r.write_pulses([], [])
    chip.clock.now_us += 100
    r.write_pulses([4, 0, 9], [1, 0, 1])  # a 0 duration ends the frame there
    assert r._ch.tx[-1][1] == [(4 * 80, 1)]
    grows = r._ch.grows
    chip.clock.now_us += 100
    r.write_pulses([1] * 200, [0] * 200)  # longer than ever: the buffer grows (m_realloc)
    assert r._ch.grows == grows + 1
    r.loop_count(3)
    with pytest.raises(OSError):  # no finite loop count on the ESP32
        r.write_pulses([5], [1])


def test_write_pulses_blocks_on_a_busy_channel_and_stopping_one_spins():
    chip = new_chip()
    r = _rmt(chip)
    r.write_pulses([50_000 // 2, 10], [0, 1])  # 25 ms of frame
    assert not r.wait_done() and chip.blocked_us == 0
    r.write_pulses([5], [1])  # rmt_tx_wait_all_done(-1): waits the frame out
    assert chip.blocked_us >= 24_000
    r.write_pulses([32_000] * 20, [0] * 20)  # 640 ms
    with pytest.raises(ChipPanic):  # rmt_disable spins past the 300 ms interrupt watchdog
        r.active(False)


def test_pins_timers_dac_adc_as_the_esp32_port():
    chip = new_chip()
    m = chip.machine
    with pytest.raises(ValueError):
        m.Pin(34, m.Pin.OUT)  # input-only
    with pytest.raises(ValueError):
        m.Pin(24)  # no such GPIO
    m.Pin(35, m.Pin.IN, m.Pin.PULL_UP)  # the port says nothing; the IDF logs, no pull
    assert chip.input_level(35) == 0 and chip.warnings
    assert (m.Pin.PULL_UP, m.Pin.PULL_DOWN, m.Pin.OUT) == (2, 1, 3)
    with pytest.raises(ValueError, match="hard"):
        m.Timer(0, mode=m.Timer.PERIODIC, period=1, callback=print, hard=True)
    with pytest.raises(ValueError):
        m.Timer(4)
    with pytest.raises(TypeError):
        m.Pin(4, m.Pin.IN).irq(handler=print, trigger=2, hard=True)  # no `hard` on esp32
    with pytest.raises(ValueError):
        m.DAC(m.Pin(27))
    dac = m.DAC(m.Pin(25))
    with pytest.raises(ValueError):
        dac.write(256)
    adc = m.ADC(m.Pin(36), atten=m.ADC.ATTN_6DB)
    chip.adc_uv[36] = 90_000  # in the dead zone near 0 V
    assert adc.read_uv() == 0
    chip.adc_uv[36] = 1_234_567
    assert adc.read_uv() == 1_234_000  # whole mV, x 1000 (the port's read_uv)
    with pytest.raises(ValueError):
        m.ADC(m.Pin(18))


def test_pin_out_takes_the_pad_from_the_rmt_at_once():
    chip = new_chip()
    pin = chip.machine.Pin(18, chip.machine.Pin.OUT, value=0)
    r = chip.esp32.RMT(pin=pin, resolution_hz=1_000_000)
    r.write_pulses([10, 100, 10], [0, 1, 0])
    chip.clock.now_us += 50  # inside the high item
    assert chip.pad_level(18) == 1
    pin.value(0)
    pin.init(pin.OUT)  # gpio_output_enable: the matrix's plain output
    assert chip.pad_level(18) == 0 and r.active()  # the frame runs on, unseen
    assert chip.edges(18)[-1] == (chip.clock.now_us * CU_PER_US, 0)
