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
import math

import micropython
from micropython import const

_LOG_BITS = const(14)  # fractional bits of the integer log2 behind Shannon k (0.001 needs 12)


def period_us(freq_mhz):
    """The pulse period on the engine's 1 us grid: 10**9 / freq_mhz rounded to the nearest
    us, halves up. Every derived figure uses this value."""
    q = 1000000000 // freq_mhz
    r = 1000000000 - q * freq_mhz
    return q + 1 if 2 * r >= freq_mhz else q


def frequency_mhz(period_us):
    """The frequency the engine really runs at, from its rounded period, in mHz (halves up)."""
    q = 1000000000 // period_us
    r = 1000000000 - q * period_us
    return q + 1 if 2 * r >= period_us else q


def charge_pc(amplitude_ua, width_us):
    """Charge per phase in pC (uA x us): exact."""
    return amplitude_ua * width_us


def isqrt(n):
    """floor(sqrt(n)) for an int n >= 0 (MicroPython has no math.isqrt): integer Newton steps
    from a float guess (single floats are off by many units, or overflow, for big n)."""
    if n < 2:
        return n
    try:
        x = int(math.sqrt(n)) + 1
    except (OverflowError, ValueError):  # past the float range: a power of two above
        x = 1 << (2 * len("%x" % n))
    x = (x + n // x) // 2  # one step from anywhere lands at or above floor(sqrt(n))
    while True:
        y = (x + n // x) // 2
        if y >= x:
            return x
        x = y


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
    the reduced fraction n/d = k_x1000/1000: X**d >= 10**n, all in integers. A float
    estimate settles the clear cases first: it is off by far less than its 0.01 margin on
    any runtime (single floats included), so the verdict is the exact one either way."""
    k = 2 * math.log10(charge_pc) - 10 - math.log10(area_x100)
    if k * 1000 < k_x1000 - 10:
        return False
    if k * 1000 > k_x1000 + 10:
        return True
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
    """Shannon k x 1000, rounded: k = log10(2) * (2 log2(pc) - log2(area_x100)) - 10, from
    integer log2 in fixed point on small ints only, so every runtime prints the same digits
    (the limit itself is checked exactly by shannon_at_or_above)."""
    v = 2 * _log2_q(charge_pc) - _log2_q(area_x100)  # log2(pc**2 / area_x100), Q14
    # x 1000 log10(2) = x 301.029996: 301 + 0.03 in two small-int products
    return ((v * 301 + v * 3 // 100 + (1 << (_LOG_BITS - 1))) >> _LOG_BITS) - 10000


# Viper (machine words): the 14 squarings cost ~1.2 ms as bytecode on the rp2 port. Below
# 2**30 (every charge in pC and area in 0.01 cm2) every value stays below 2**30 (y < 2**15,
# so y * y < 2**30): the words never overflow, and CPython, which runs the function as
# written (tools/tvns_tools/shim), gets the same digits; larger n take the same steps on
# Python ints. Shifts by constants only: a shift by a register of 32 or more differs
# between CPUs.
def _log2_q(n):
    """log2(n) * 2**_LOG_BITS for an int n >= 1, truncated: in machine words below 2**30
    (every charge and area a protocol can have), else the same steps on Python ints."""
    return _log2_q_word(n) if n < 1073741824 else _log2_q_int(n)


def _log2_q_int(n):
    e = 0  # floor(log2(n)): four bits a step, then one
    while n >> (e + 4):
        e += 4
    while n >> (e + 1):
        e += 1
    one = 1 << _LOG_BITS
    y = n << (_LOG_BITS - e) if e <= _LOG_BITS else n >> (e - _LOG_BITS)
    frac = 0
    for _ in range(_LOG_BITS):
        y = y * y >> _LOG_BITS
        frac <<= 1
        if y >= 2 * one:
            y >>= 1
            frac |= 1
    return e * one + frac


@micropython.viper
def _log2_q_word(n: int) -> int:
    """_log2_q for 1 <= n < 2**30: normalise into [1, 2) by shifts, then square _LOG_BITS
    times."""
    e = 0  # floor(log2(n)): four bits a step, then one
    m = n
    while m >= 16:
        m = m >> 4
        e += 4
    while m >= 2:
        m = m >> 1
        e += 1
    one = 1 << _LOG_BITS
    # the top _LOG_BITS + 1 bits of n: y in [one, 2 * one)
    y = n
    k = e
    while k < _LOG_BITS:
        y = y << 1
        k += 1
    while k > _LOG_BITS:
        y = y >> 1
        k -= 1
    frac = 0
    i = 0
    while i < _LOG_BITS:
        y = (y * y) >> _LOG_BITS
        frac = frac << 1
        if y >= 2 * one:
            y = y >> 1
            frac = frac | 1
        i += 1
    return e * one + frac


def _gcd(a, b):
    while b:
        a, b = b, a % b
    return a
