"""Generated protocols for the property tests (hypothesis; CPython only): valid_protocols()
draws protocols the validator accepts across the whole limit space, state_at() reads a
state timeline. Shared by test_invariants.py and test_faults.py; pytest collects nothing
here."""

import bisect
import math

from hypothesis import assume
from hypothesis import strategies as st
from tvns import limits as L
from tvns import protocol

OUTPUT_STATES = {"RAMP_UP", "ON", "RAMP_DOWN"}


@st.composite
def valid_protocols(draw):
    # frequency_hz has a 0.001 Hz resolution: whole Hz, or any mHz value in range
    freq_mhz = draw(
        st.one_of(st.integers(1, 100).map(lambda f: f * 1000), st.integers(1000, 100000))
    )
    freq_hz = freq_mhz // 1000 if freq_mhz % 1000 == 0 else freq_mhz / 1000
    period_us = (2 * 10**9 // freq_mhz + 1) // 2  # figures.period_us: nearest, halves up
    amp_ua = draw(st.integers(1, L.CURRENT_MAX_UA))
    width_us = draw(st.integers(L.WIDTH_MIN_US, min(L.WIDTH_MAX_US, L.CHARGE_MAX_PC // amp_ua)))
    steps = -(-amp_ua // L.RAMP_STEP_MAX_UA)
    min_ramp_ms = max(1000, steps * (period_us + 1000) // 1000 + 1)
    assume(2 * min_ramp_ms <= 300000)
    ramp_up_ms = draw(st.integers(min_ramp_ms, min(300000, 2 * min_ramp_ms + 2000)))
    ramp_down_ms = draw(st.integers(min_ramp_ms, min(300000, 2 * min_ramp_ms + 2000)))
    session_min_ms = max(2000, ramp_up_ms + ramp_down_ms)
    session_ms = draw(st.integers(session_min_ms, max(session_min_ms, 300000)))
    on_ms = draw(st.integers(L.TRAIN_MIN_MS, 60000))
    off_ms = draw(st.one_of(st.just(0), st.integers(L.TRAIN_MIN_MS, 60000)))
    # an electrode big enough for the density and Shannon limits, with some margin
    rms_ma = amp_ua / 1000 * math.sqrt(2 * width_us / period_us)
    area_min = max(rms_ma / 1.99, 0.01)
    area_x100 = draw(st.integers(math.ceil(area_min * 100) + 1, 10000))
    doc = {
        "schema": 1,
        "name": "gen",
        "amplitude_ma": amp_ua / 1000,
        "pulse_width_us": width_us,
        "interphase_gap_us": draw(st.integers(L.GAP_MIN_US, L.GAP_MAX_US)),
        "frequency_hz": freq_hz,
        "on_s": on_ms / 1000,
        "off_s": off_ms / 1000,
        "ramp_up_s": ramp_up_ms / 1000,
        "ramp_down_s": ramp_down_ms / 1000,
        "session_s": session_ms / 1000,
        "electrode_area_cm2": area_x100 / 100,
        "sham": draw(st.booleans()),
    }
    proto, errs = protocol.validate(doc)
    assume(proto is not None)  # e.g. Shannon k on a small electrode
    return doc


def state_at(states, t_s):
    times = [t for t, _ in states]
    i = bisect.bisect_right(times, t_s) - 1
    return states[i][1]
