"""What a bench engineer reads off a run: delivered vs commanded current, charge per phase,
net charge per pulse, compliance headroom, what the ADC and the comparators see."""

import math

import numpy as np

from tvns_tools.hw import deck

LOGIC_HI = deck.V_LOGIC / 2
SETTLE_FRACTION = 0.5  # plateau = the last half of each phase


def _integral(t_us, y, lo, hi):
    """Integral of y dt over [lo, hi] in y-units x us (trapezoid on the solver's points)."""
    m = (t_us >= lo) & (t_us <= hi)
    tt = np.concatenate(([lo], t_us[m], [hi]))
    yy = np.concatenate(([np.interp(lo, t_us, y)], y[m], [np.interp(hi, t_us, y)]))
    return float(np.trapezoid(yy, tt)) if hasattr(np, "trapezoid") else float(np.trapz(yy, tt))


def _plateau(w, lo, hi):
    a = lo + (hi - lo) * SETTLE_FRACTION
    m = (w.t_us >= a) & (w.t_us <= hi)
    if m.sum() < 2:
        return abs(w.at("i_ma", (a + hi) / 2))
    return abs(_integral(w.t_us, w.i_ma, a, hi) / (hi - a))


def firmware_sense_ua(adc_v, config):
    """What the firmware's own Sense.read_ua() makes of this ADC0 voltage (pico.json)."""
    from tvns_tools.firmware import import_firmware

    import_firmware()
    from tvns.board import rp2

    class _ADC:
        def __init__(self, _pin):
            pass

        def read_u16(self):
            code12 = max(
                0, min(4095, int(round(adc_v / (config["sense"]["vref_mv"] / 1000) * 4095)))
            )
            return code12 << 4

    class _Pin:
        IN = 0
        PULL_UP = 1

        def __init__(self, *_a, **_k):
            pass

        def value(self):
            return 0

    class _Machine:
        ADC = _ADC
        Pin = _Pin

    return rp2.Sense(_Machine, config, config["ceiling_ua"]).read_ua()


def analyse(w, stim, config, area_cm2=1.0):
    """The report of one run (a JSON-ready dict)."""
    pulses = stim.pulses
    period_us = pulses[1][0] - pulses[0][0] if len(pulses) > 1 else stim.end_us - pulses[0][0]
    phases, charges, nets, headroom, sense = [], [], [], [], []
    for k, (s, _amp, width, gap) in enumerate(pulses):
        a_end, b_start = s + width, s + width + gap
        b_end = b_start + width
        nxt = pulses[k + 1][0] if k + 1 < len(pulses) else min(stim.end_us, s + period_us)
        phases += [_plateau(w, s, a_end), _plateau(w, b_start, b_end)]
        tail = b_end + min(20.0, (nxt - b_end) / 2)
        pos = _integral(w.t_us, np.maximum(w.i_ma, 0), s, tail)  # mA us = nC
        neg = _integral(w.t_us, np.minimum(w.i_ma, 0), s, tail)
        charges += [pos / 1000, -neg / 1000]
        nets.append(_integral(w.t_us, w.i_ma, s, nxt) / 1000)
        for end in (a_end, b_end):
            headroom.append(w.at("vd", end - 0.5) - w.at("vs", end - 0.5))
        adc_v = w.at("adc0", nxt - 1.0)  # what a control tick reads before the next pulse
        sense.append({"adc0_v": round(adc_v, 5), "firmware_ua": firmware_sense_ua(adc_v, config)})
    t_lo, t_hi = pulses[0][0], min(stim.end_us, pulses[-1][0] + period_us)
    span = t_hi - t_lo
    i_rms = math.sqrt(_integral(w.t_us, w.i_ma**2, t_lo, t_hi) / span)
    v_rms = math.sqrt(_integral(w.t_us, w.v_load**2, t_lo, t_hi) / span)
    p_avg_mw = _integral(w.t_us, w.i_ma * w.v_load, t_lo, t_hi) / span
    commanded_ma = max(p[1] for p in pulses) / 1000
    window = (w.t_us >= t_lo) & (w.t_us <= t_hi)
    s0, a0 = pulses[0][0], pulses[0][0] + pulses[0][2]
    net_worst = max(nets, key=abs)
    report = {
        "load": stim.label,
        "commanded_ma": round(commanded_ma, 4),
        "delivered_ma": round(float(np.mean(phases)), 4),
        "delivered_phase_ma": [round(x, 4) for x in phases],
        "peak_current_ma": round(float(np.abs(w.i_ma[window]).max()), 4),
        "charge_per_phase_uc": round(max(charges), 5),
        "charge_phases_uc": [round(x, 5) for x in charges],
        "net_charge_uc": round(net_worst, 6),
        "net_charge_pulses_uc": [round(x, 6) for x in nets],
        "net_dc_ua": round(_integral(w.t_us, w.i_ma, t_lo, t_hi) / span * 1000, 4),
        "compliance_tripped": bool((w.compl[window] > LOGIC_HI).any()),
        "headroom_v": round(min(headroom), 3),
        "peak_voltage_v": round(float(np.abs(w.v_load[window]).max()), 3),
        "rms_current_ma": round(i_rms, 4),
        "rms_voltage_v": round(v_rms, 4),
        "avg_power_mw": round(p_avg_mw, 5),
        "rms_density_ma_cm2": round(i_rms / area_cm2, 4),
        "pulse_width_us": round(measured_width_us(w, s0, a0), 2),
        "period_us": period_us,
        "sense": sense,
        "comparators": {
            "at_end_of_phase_a": {
                "sink_drain_v": round(w.at("vd", a0 - 0.5), 3),
                "sense_v": round(w.at("vs", a0 - 0.5), 4),
                "headroom_in_v": round(w.at("vdk", a0 - 0.5), 4),
                "headroom_threshold_v": round(w.at("thr", a0 - 0.5), 4),
                "impedance_in_v": round(w.at("pimp", a0 - 0.5), 4),
                "impedance_threshold_v": round(w.at("qimp", a0 - 0.5), 4),
            },
            "gp15_compliance_high": bool((w.compl[window] > LOGIC_HI).any()),
            "gp17_overcurrent_ok": bool((w.ocok[window] > LOGIC_HI).all()),
            "gp7_kill_asserted": bool((w.killn[window] < LOGIC_HI).any()),
        },
    }
    return report


def measured_width_us(w, start, end):
    """Phase A width at 50 % of its plateau (what a scope's width measurement shows)."""
    level = _plateau(w, start, end) / 2
    if level < 0.001:  # mA: no pulse to measure (open load)
        return 0.0
    m = (w.t_us >= start - 1) & (w.t_us <= end + 20)
    t, i = w.t_us[m], w.i_ma[m]
    above = np.nonzero(i >= level)[0]
    if len(above) == 0:
        return 0.0
    k0, k1 = above[0], above[-1]
    t_rise = np.interp(level, [i[k0 - 1], i[k0]], [t[k0 - 1], t[k0]]) if k0 > 0 else t[k0]
    if k1 + 1 < len(t):
        t_fall = np.interp(level, [i[k1 + 1], i[k1]], [t[k1 + 1], t[k1]])
    else:
        t_fall = t[k1]
    return float(t_fall - t_rise)


def between(w, name, lo_us, hi_us):
    m = (w.t_us >= lo_us) & (w.t_us <= hi_us)
    return getattr(w, name)[m], w.t_us[m]


def first_time(w, name, after_us, predicate):
    """First solver time >= after_us where predicate(value) holds, or None."""
    m = np.nonzero((w.t_us >= after_us) & predicate(getattr(w, name)))[0]
    return float(w.t_us[m[0]]) if len(m) else None
