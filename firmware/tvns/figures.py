# The protocol's safety figures, from the firmware's integer units only (uA, us, period in
# us, electrode area in 0.01 cm2), with integer arithmetic only: a limit check and the
# figure shown beside it are the same on CPython, the 64-bit MicroPython and a board with
# single floats and 31-bit small ints (big ints appear here, at load time, never in the tick).
# The validator (tvns/checks.py) and Protocol.derived() both call these.
# The formulas and where the limits come from: REFERENCE.md "Hard limits".
#
# Precision reported (docs/PROTOCOL-FORMAT.md "Derived figures"): charge exact (1 pC),
# r.m.s. current and density rounded to 1 uA and 1 uA/cm2, Shannon k to 0.001 (from an
# integer logarithm, the same digits on every runtime), frequency to 1 mHz.
from micropython import const

_LOG_BITS = const(24)  # fractional bits of the integer log2 behind Shannon k
_LOG10_2_Q30 = const(323228497)  # round(log10(2) * 2**30)


def period_us(freq_mhz):
    """The pulse period on the engine's 1 us grid: 10**9 / freq_mhz rounded to the nearest
    us, halves up. Every derived figure uses this value."""
    q = 1000000000 // freq_mhz
    r = 1000000000 - q * freq_mhz
    return q + 1 if 2 * r >= freq_mhz else q


def frequency_mhz(period_us):
    """The frequency the engine really runs at, from its rounded period, in mHz (halves up)."""
    return (2000000000 // period_us + 1) // 2


def charge_pc(amplitude_ua, width_us):
    """Charge per phase in pC (uA x us): exact."""
    return amplitude_ua * width_us


def isqrt(n):
    """floor(sqrt(n)) for an int n >= 0 (MicroPython has no math.isqrt)."""
    if n < 2:
        return n
    x = n
    y = (x + 1) // 2
    while y < x:
        x = y
        y = (x + n // x) // 2
    return x


def _round_sqrt(num, den):
    """round(sqrt(num / den)), halves up, exactly."""
    return (isqrt(4 * num // den) + 1) // 2


def rms_current_ua(amplitude_ua, width_us, period_us):
    # Symmetric biphasic: I_rms = I_peak * sqrt(2 * phase / period), output continuous.
    return _round_sqrt(amplitude_ua * amplitude_ua * 2 * width_us, period_us)


def rms_density_ua_cm2(amplitude_ua, width_us, period_us, area_x100):
    num = amplitude_ua * amplitude_ua * 2 * width_us * 10000
    return _round_sqrt(num, period_us * area_x100 * area_x100)


def density_above(amplitude_ua, width_us, period_us, area_x100, limit_ua_cm2):
    """Exactly: r.m.s. density > limit. (100 * I_rms / A)^2 > limit^2, squared out."""
    lhs = amplitude_ua * amplitude_ua * 2 * width_us * 10000
    return lhs > limit_ua_cm2 * limit_ua_cm2 * period_us * area_x100 * area_x100


def shannon_at_or_above(charge_pc, area_x100, k_x1000):
    """Exactly: Shannon k = log10(Q) + log10(Q / A) >= k_x1000 / 1000 (Q in uC, A in cm2).
    k = log10(X) with X = pc**2 / (10**10 * area_x100); raise both sides to the power d of
    the reduced fraction n/d = k_x1000/1000: X**d >= 10**n, all in integers."""
    g = _gcd(k_x1000, 1000) if k_x1000 else 1000
    n = k_x1000 // g
    d = 1000 // g
    lhs = charge_pc ** (2 * d)
    rhs = area_x100**d
    e = n + 10 * d
    if e >= 0:
        rhs *= 10**e
    else:
        lhs *= 10**-e
    return lhs >= rhs


def shannon_k_x1000(charge_pc, area_x100):
    """Shannon k x 1000, rounded: from an integer log2 in fixed point, so every runtime
    prints the same digits (the limit itself is checked exactly by shannon_at_or_above)."""
    num = charge_pc * charge_pc
    den = 10000000000 * area_x100
    l2 = _log2_q(num, den)  # log2(X) * 2**_LOG_BITS, truncated
    return (1000 * l2 * _LOG10_2_Q30 + (1 << (_LOG_BITS + 29))) >> (_LOG_BITS + 30)


def _log2_q(num, den):
    """floor-ish log2(num / den) * 2**_LOG_BITS, by normalising into [1, 2) and squaring."""
    e = 0
    while num >= den * 2:
        den *= 2
        e += 1
    while num < den:
        num *= 2
        e -= 1
    one = 1 << _LOG_BITS
    y = num * one // den  # in [1, 2) as a fixed-point number
    frac = 0
    for _ in range(_LOG_BITS):
        y = y * y >> _LOG_BITS
        frac <<= 1
        if y >= 2 * one:
            y >>= 1
            frac |= 1
    return e * one + frac


def _gcd(a, b):
    while b:
        a, b = b, a % b
    return a
