# Protocol limit checks: each numeric field against its hard limit and resolution, then the
# limits that involve several fields (charge, Shannon k, r.m.s. density, pulse fit, ramps).
# protocol.validate() calls them after the structural checks (fields, types, schema, name);
# each appends TvnsError to errs and drops a field that failed from ok, so later checks
# only see valid values. Load time only: floats are fine here.
from tvns import errors as E
from tvns import figures as G
from tvns import limits as L


def err(out, field, code, message):
    out.append(E.TvnsError(code, message, field))


def scaled(x, scale):
    return int(round(x * scale))


def _range(errs, ok, name, lo, hi, unit, scale=1):
    """Check lo <= value*scale <= hi (limits in the scaled unit). Returns the scaled int or None."""
    if name not in ok:
        return None
    value = ok.pop(name)
    scaled = value * scale
    whole = int(round(scaled))
    if abs(scaled - whole) > 1e-6:
        err(
            errs,
            name,
            E.RESOLUTION,
            "%s=%s is finer than the 1 %s resolution" % (name, value, unit),
        )
        return None
    if whole < lo or whole > hi:
        msg = "%s must be %s..%s (got %s)" % (name, _show(lo, scale), _show(hi, scale), value)
        err(errs, name, E.OUT_OF_RANGE, msg)
        return None
    ok[name] = value
    return whole


def _show(x, scale):
    return ("%g" % (x / scale)) if scale != 1 else str(x)


def _zero_or_range_s(errs, ok, name, lo_ms, hi_ms, zero_means):
    """A seconds field that is either 0 (zero_means) or within lo_ms..hi_ms."""
    ms = _range(errs, ok, name, 0, hi_ms, "ms", 1000)
    if ms is not None and 0 < ms < lo_ms:
        msg = "%s must be 0 (%s) or %g..%g s (got %s)" % (
            name,
            zero_means,
            lo_ms / 1000,
            hi_ms / 1000,
            ok.pop(name),
        )
        err(errs, name, E.OUT_OF_RANGE, msg)


def check_fields(errs, ok, ceiling_ua):
    """Each numeric field within its hard limit, on its resolution grid."""
    amp = _range(errs, ok, "amplitude_ma", 1, L.CURRENT_MAX_UA, "uA", 1000)
    if amp is not None and amp > ceiling_ua:
        msg = "amplitude_ma=%g is above this board's ceiling of %g mA" % (
            amp / 1000,
            ceiling_ua / 1000,
        )
        err(errs, "amplitude_ma", E.ABOVE_CEILING, msg)
        ok.pop("amplitude_ma")
    _range(errs, ok, "pulse_width_us", L.WIDTH_MIN_US, L.WIDTH_MAX_US, "us")
    _range(errs, ok, "interphase_gap_us", L.GAP_MIN_US, L.GAP_MAX_US, "us")
    # Frequency: any value in range; the period is rounded to 1 us (see Protocol).
    if "frequency_hz" in ok:
        f = ok["frequency_hz"]
        if not L.FREQ_MIN_HZ <= f <= L.FREQ_MAX_HZ:
            msg = "frequency_hz must be %d..%d Hz (got %s)" % (L.FREQ_MIN_HZ, L.FREQ_MAX_HZ, f)
            err(errs, "frequency_hz", E.OUT_OF_RANGE, msg)
            ok.pop("frequency_hz")
    _range(errs, ok, "on_s", L.TRAIN_MIN_MS, L.TRAIN_MAX_MS, "ms", 1000)
    _zero_or_range_s(errs, ok, "off_s", L.TRAIN_MIN_MS, L.TRAIN_MAX_MS, "continuous")
    _range(errs, ok, "ramp_up_s", L.RAMP_UP_MIN_MS, L.RAMP_MAX_MS, "ms", 1000)
    _range(errs, ok, "ramp_down_s", L.RAMP_DOWN_MIN_MS, L.RAMP_MAX_MS, "ms", 1000)
    _range(errs, ok, "session_s", L.SESSION_MIN_S * 1000, L.SESSION_MAX_S * 1000, "ms", 1000)
    _zero_or_range_s(errs, ok, "keepalive_s", L.KEEPALIVE_MIN_MS, L.KEEPALIVE_MAX_MS, "off")
    _range(errs, ok, "electrode_area_cm2", L.AREA_MIN_CM2_X100, L.AREA_MAX_CM2_X100, "cm2/100", 100)


def check_combined(errs, ok):
    """Limits that involve several fields; each is checked only when its fields are valid.
    The figures come from tvns/figures.py in the units Protocol keeps (uA, us, period_us)."""
    amp_ua = scaled(ok["amplitude_ma"], 1000) if "amplitude_ma" in ok else None
    width_us = int(ok["pulse_width_us"]) if "pulse_width_us" in ok else None
    period_us = G.period_us(ok["frequency_hz"]) if "frequency_hz" in ok else None
    area_cm2 = ok.get("electrode_area_cm2")
    if _have(ok, "amplitude_ma", "pulse_width_us"):
        pc = G.charge_pc(amp_ua, width_us)
        if pc > L.CHARGE_MAX_PC:
            msg = "charge per phase %g uC (amplitude_ma x pulse_width_us) exceeds %g uC" % (
                pc / 1e6,
                L.CHARGE_MAX_PC / 1e6,
            )
            err(errs, "amplitude_ma", E.CHARGE, msg)
    if _have(ok, "amplitude_ma", "pulse_width_us", "electrode_area_cm2"):
        k = G.shannon_k(amp_ua, width_us, area_cm2)
        if k * 1000 >= L.SHANNON_K_MAX_X1000:
            msg = "Shannon k=%.3f for %g uC on electrode_area_cm2=%g must stay below %g" % (
                k,
                G.charge_uc(amp_ua, width_us),
                area_cm2,
                L.SHANNON_K_MAX_X1000 / 1000,
            )
            err(errs, "electrode_area_cm2", E.SHANNON, msg)
    if _have(ok, "amplitude_ma", "pulse_width_us", "frequency_hz", "electrode_area_cm2"):
        density = G.rms_density_ma_cm2(amp_ua, width_us, period_us, area_cm2)
        if density * 1000 > L.RMS_DENSITY_MAX_UA_CM2:
            msg = (
                "r.m.s. current density %.3f mA/cm2 on this electrode_area_cm2 exceeds %g mA/cm2"
                % (
                    density,
                    L.RMS_DENSITY_MAX_UA_CM2 / 1000,
                )
            )
            err(errs, "electrode_area_cm2", E.DENSITY, msg)
    if _have(ok, "pulse_width_us", "interphase_gap_us", "frequency_hz"):
        pulse_us = 2 * width_us + int(ok["interphase_gap_us"])
        if pulse_us + L.OFF_MIN_US > period_us:
            msg = "pulse of %d us (2 x width + gap) needs %d us off time in a %d us period" % (
                pulse_us,
                L.OFF_MIN_US,
                period_us,
            )
            err(errs, "frequency_hz", E.PULSE_FIT, msg)
    if _have(ok, "ramp_up_s", "ramp_down_s", "session_s"):
        ramps_ms = scaled(ok["ramp_up_s"], 1000) + scaled(ok["ramp_down_s"], 1000)
        if ramps_ms > scaled(ok["session_s"], 1000):
            msg = "ramp_up_s + ramp_down_s = %g s is longer than session_s = %g s" % (
                ramps_ms / 1000,
                ok["session_s"],
            )
            err(errs, "session_s", E.RAMP_FIT, msg)


def check_ramp_rate(errs, ok):
    """Each 0.1 mA ramp step must last at least one pulse period (+1 ms for the control
    tick's grid), so consecutive pulses never differ by more than 0.1 mA."""
    if not _have(ok, "amplitude_ma", "frequency_hz"):
        return
    steps = -(-scaled(ok["amplitude_ma"], 1000) // L.RAMP_STEP_MAX_UA)
    period_us = G.period_us(ok["frequency_hz"])
    need_ms = steps * (period_us + 1000) // 1000 + 1
    for name in ("ramp_up_s", "ramp_down_s"):
        if name in ok and scaled(ok[name], 1000) < need_ms:
            msg = "%s must be at least %g s here: %d steps of 0.1 mA, one per %d us period" % (
                name,
                need_ms / 1000,
                steps,
                period_us,
            )
            err(errs, name, E.RAMP_RATE, msg)


def _have(ok, *names):
    for n in names:
        if n not in ok:
            return False
    return True
