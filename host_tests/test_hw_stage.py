"""The reference output stage (hardware/spice/) in ngspice: accuracy, hardware limit,
interlock, compliance, charge balance, and the sense the firmware calibrates against."""

import numpy as np
import pytest
from hw_support import need_ngspice, pico, settled
from tvns_tools.hw import deck, measure, spice

AMPS_UA = (100, 300, 1000, 3000, 8000, 10000)


@pytest.fixture(scope="module", autouse=True)
def _ngspice():
    need_ngspice()


@pytest.mark.parametrize("load", ["500", "2k"])
def test_delivered_within_2_percent_of_commanded_across_0_1_to_10_ma(load):
    st = deck.staircase(AMPS_UA, config=pico())
    w = spice.run(st, load)
    for start, amp, width, gap in st.pulses:
        a = settled(w, start, width)
        b = settled(w, start + width + gap, width)
        for got in (a, b):
            assert abs(got * 1000 - amp) <= 0.02 * amp, (load, amp, got)


def test_sense_voltage_matches_the_firmware_calibration():
    """ADC0 holds I x r_ohms x amp_gain (pico.json), and the firmware's own Sense.read_ua()
    turns it back into the delivered current within 2 % (+ one ADC step)."""
    cfg = pico()
    st = deck.staircase(AMPS_UA, config=cfg)
    w = spice.run(st, "2k")
    sense = cfg["sense"]
    lsb_ua = sense["vref_mv"] * 1000 / 4095 / sense["r_ohms"] / sense["amp_gain"]
    for k, (start, amp, width, _gap) in enumerate(st.pulses):
        delivered_ua = settled(w, start, width) * 1000
        # read where a control tick would: after the pulse, before the next DAC write
        adc_v = w.at("adc0", start + 2 * width + 600)
        expected_v = delivered_ua / 1e6 * sense["r_ohms"] * sense["amp_gain"]
        assert adc_v == pytest.approx(expected_v, rel=0.01, abs=0.5e-3), amp
        fw_ua = measure.firmware_sense_ua(adc_v, cfg)
        assert abs(fw_ua - delivered_ua) <= 0.02 * delivered_ua + lsb_ua, (amp, fw_ua)
        assert k == 0 or adc_v > w.at("adc0", st.pulses[k - 1][0] + 2 * width + 600)


def test_hardware_limit_holds_whatever_the_dac_does():
    """The setpoint net shorted to the 5 V rail (any DAC or filter failure upstream of the
    clamp) still gives <= 11 mA: the limiter clamps at 10.49 mA."""
    st = deck.staircase([1000, 1000], config=pico())
    st.fault = "setpoint_short"
    w = spice.run(st, "500")
    for start, _amp, width, gap in st.pulses:
        for s in (start, start + width + gap):
            assert 10.3 <= settled(w, s, width) <= 10.7
    assert np.abs(w.i_ma).max() <= 11.0
    # and without the fault the same stimulus is 1 mA: the limit is what held it
    st.fault = None
    assert settled(spice.run(st, "500"), 1000, 250) == pytest.approx(1.0, rel=0.02)


def test_both_bridge_inputs_high_pass_no_current():
    st = deck.staircase([5000, 10000], config=pico())
    st.fault = "bridge_both_on"
    w = spice.run(st, "500")
    assert np.abs(w.i_ma).max() < 0.01  # mA: leakage only
    assert (w.c1a < 0.5).all() and (w.c2a < 0.5).all()  # neither leg ever went to the rail


@pytest.mark.parametrize("load", ["10k", "open"])
def test_compliance_comparator_trips_at_10k_and_open(load):
    st = deck.staircase([1000, 3000], config=pico())
    w = spice.run(st, load)
    for start, _amp, width, _gap in st.pulses:
        assert w.at("compl", start + width + 5) > 3.0  # GP15 high after phase A
    assert w.at("compl", 900) < 0.3  # not before the first pulse


@pytest.mark.parametrize("load", ["500", "2k", "skin", "short"])
def test_compliance_stays_low_where_the_source_can_drive(load):
    st = deck.staircase([100, 1000, 8000], config=pico())
    w = spice.run(st, load)
    assert w.compl.max() < 0.3


def test_net_dc_through_the_electrodes_is_zero_over_a_train():
    """Each pulse is balanced while it is driven (A and B within 1 %); the skin's residual
    polarisation returns through the shorted electrodes between pulses, and the blocking
    capacitor drives the per-period net charge to 0 (it cannot pass DC): the net falls pulse
    by pulse and the train's mean DC stays a few uA."""
    cfg = pico()
    period = 10000
    pulses = [(1000 + k * period, 3000, 500, 20) for k in range(20)]
    st = deck.Stimulus(pulses[-1][0] + period, pulses, [(0, deck.dac_volts(3000, cfg))])
    w = spice.run(st, "skin")
    assert w.compl.max() < 0.3  # inside compliance (beyond it, the comparator says so)
    nets = []
    for start, _amp, width, gap in pulses:
        pos = measure._integral(w.t_us, np.maximum(w.i_ma, 0), start, start + 2 * width + gap)
        neg = measure._integral(w.t_us, np.minimum(w.i_ma, 0), start, start + 2 * width + gap)
        assert abs(pos + neg) < 0.01 * pos
        nets.append(measure._integral(w.t_us, w.i_ma, start, start + period))
    assert abs(nets[-1]) < 0.25 * abs(nets[0])
    assert all(abs(b) < abs(a) for a, b in zip(nets, nets[1:]))
    mean_dc_ua = measure._integral(w.t_us, w.i_ma, 1000, st.end_us) / (st.end_us - 1000) * 1000
    assert abs(mean_dc_ua) < 15
