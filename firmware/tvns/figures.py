# The protocol's safety figures, as pure functions of the firmware's integer units (uA, us)
# and the electrode area in cm2. The validator (checks.check_combined, check_ramp_rate)
# and Protocol.derived() both call these with the same integers, so a verdict and the
# figure shown beside it can never disagree. Load time only: floats are fine here.
# The formulas and where the limits come from: REFERENCE.md "Hard limits".
import math


def period_us(frequency_hz):
    """The pulse period on the engine's 1 us grid; every derived figure uses this value."""
    return int(round(1000000 / frequency_hz))


def frequency_hz(period_us):
    """The frequency the engine really runs at, from its rounded period."""
    return 1e6 / period_us


def charge_pc(amplitude_ua, width_us):
    """Charge per phase in pC (uA x us): an exact integer, for the limit check."""
    return amplitude_ua * width_us


def charge_uc(amplitude_ua, width_us):
    return amplitude_ua * width_us / 1e6


def rms_current_ma(amplitude_ua, width_us, period_us):
    # Symmetric biphasic: I_rms = I_peak * sqrt(2 * phase_s * f), output continuous.
    return amplitude_ua / 1000 * math.sqrt(2 * width_us / 1e6 * frequency_hz(period_us))


def rms_density_ma_cm2(amplitude_ua, width_us, period_us, area_cm2):
    return rms_current_ma(amplitude_ua, width_us, period_us) / area_cm2


def shannon_k(amplitude_ua, width_us, area_cm2):
    """k = log10(Q) + log10(Q / A), Q in uC per phase, A in cm2 (Shannon 1992)."""
    q_uc = charge_uc(amplitude_ua, width_us)
    return math.log10(q_uc) + math.log10(q_uc / area_cm2)
