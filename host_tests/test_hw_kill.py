"""KILL (GP7) and the ESP32 latch in ngspice: e-stop pressed or cut, overcurrent, power-on;
the bridge goes off within the stated time and the latch holds until a reset pulse."""

import pytest
from hw_support import need_ngspice, pico
from tvns_tools.hw import deck, measure, spice

KILL_BOUND_US = 5.0  # hardware/DESIGN.md: e-stop or overcurrent to bridge off


@pytest.fixture(scope="module", autouse=True)
def _ngspice():
    need_ngspice()


def _long_phase(amp_ua=5000, width_us=1000, end_us=4000):
    return deck.Stimulus(
        end_us, [(1000, amp_ua, width_us, 20)], [(0, deck.dac_volts(amp_ua, pico()))]
    )


def test_estop_pressed_or_cable_cut_turns_the_bridge_off_in_hardware():
    st = _long_phase()
    st.estop_open = [(1300, None)]  # the NC contact opens mid phase A and stays open
    w = spice.run(st, "500")
    assert w.at("i_ma", 1290) == pytest.approx(5.0, rel=0.02)
    off = measure.first_time(w, "i_ma", 1300, lambda i: abs(i) < 0.05)
    assert off is not None and off - 1300 <= KILL_BOUND_US
    assert w.at("killn", 1310) < 0.3 and w.at("esq", 1310) < 0.8  # GP7 and GP16 low
    assert abs(w.at("i_ma", 1500)) < 0.01  # phase B never starts while killed
    assert w.at("ocok", 1310) > 3.0  # GP17 names the cause: not overcurrent


def test_overcurrent_comparator_kills_when_the_current_source_fails():
    # Ends 100 us into the phase: past the trip the shorted sink makes the circuit stiff
    # (4 ms took ngspice ~60 s of CPU, over its timeout on a busy machine; 1.1 ms takes ~2 s).
    st = _long_phase(amp_ua=1000, end_us=1100)
    st.fault = "sink_short"  # Q1 drain-source short: only the load limits the current
    w = spice.run(st, "500")
    tripped = measure.first_time(w, "ocok", 1000, lambda v: v < 1.65)
    assert tripped is not None
    off = measure.first_time(w, "i_ma", tripped, lambda i: abs(i) < 0.05)
    assert off - tripped <= KILL_BOUND_US
    assert w.at("killn", tripped + 1) < 0.3  # GP7 low, GP17 low: overcurrent named
    # Not asserted: that it stays off. With JP1 fitted (the Pico) KILL_n follows its cause, so
    # with phase A still commanded the current strikes again ~10 us later; the PIO kill path
    # drops phase A within 1 us of KILL_n (test_rp2emu.py's kill tests), the stage alone does not.


def test_latch_holds_until_a_reset_pulse_after_the_cause_is_gone():
    cfg = pico()
    pulses = [(1000 + k * 2000, 3000, 200, 20) for k in range(6)]
    st = deck.Stimulus(13000, pulses, [(0, deck.dac_volts(3000, cfg))])
    st.estop_open = [(2700, 2900)]  # a 200 us open: cause gone at 2.9 ms
    # latch mode (JP1 open): LRST_n high except a pulse at 0.3 ms (arm), one at 4.5 ms
    # while... the cause is gone, and one at 2.8 ms while the e-stop is still open.
    st.lrstn = [(0, 3.3), (300, 0.0), (310, 3.3), (2800, 0.0), (2810, 3.3)]
    st.lrstn += [(6500, 0.0), (6510, 3.3)]
    w = spice.run(st, "500")
    on = lambda k: abs(w.at("i_ma", pulses[k][0] + 150))  # noqa: E731
    assert on(0) > 2.9  # cleared at 0.3 ms: pulses run
    assert w.at("lq", 2750) > 3.0  # latched by the e-stop, readable
    assert w.at("lq", 2850) > 3.0  # a reset while the cause persists does nothing
    for k in (1, 2):  # 3.0 ms and 5.0 ms: cause gone, latch holds, no output
        assert on(k) < 0.01
    assert w.at("lq", 6600) < 0.3  # the firmware's reset pulse at 6.5 ms clears it
    assert on(3) > 2.9 and on(4) > 2.9


def test_power_up_comes_up_killed_and_latched():
    st = deck.Stimulus(12000, [(9000, 3000, 200, 20)], [(0, deck.dac_volts(3000, pico()))])
    st.power_up_us = 100
    st.lrstn = [(0, 3.3)]  # latch mode, no reset yet
    w = spice.run(st, "500")
    assert w.at("killn", 2000) < 0.3  # power-on reset holds KILL for ~7 ms
    assert w.at("killn", 8900) > 3.0
    assert w.at("lq", 8900) > 3.0  # still latched: nothing runs until the firmware resets
    assert abs(w.at("i_ma", 9150)) < 0.01
