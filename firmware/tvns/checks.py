# Protocol limit checks, in integer units only: each numeric field converted exactly from its
# decimal text (tvns/units.py) and checked against its hard limit and resolution, then the
# limits that involve several fields (charge, Shannon k, r.m.s. density, pulse fit, ramps),
# with tvns/figures.py. protocol.validate() calls them after the structural checks (fields,
# types, schema, name). Each appends TvnsError to errs; check_fields returns the valid
# fields in units, so later checks only see valid values. The same verdict on every runtime:
# no float takes part in any of it.
from tvns import errors as E
from tvns import figures as G
from tvns import limits as L
from tvns import units as U

# field -> (places, lo, hi, unit word, zero_means): the value x 10**places must be a whole
# number in lo..hi (or 0, when zero_means says what 0 means). The units the firmware keeps:
# uA, us, mHz, ms, 0.01 cm2.
NUMERIC = (
    ("amplitude_ma", 3, 1, L.CURRENT_MAX_UA, "0.001 mA", None),
    ("pulse_width_us", 0, L.WIDTH_MIN_US, L.WIDTH_MAX_US, "1 us", None),
    ("interphase_gap_us", 0, L.GAP_MIN_US, L.GAP_MAX_US, "1 us", None),
    ("frequency_hz", 3, L.FREQ_MIN_HZ * 1000, L.FREQ_MAX_HZ * 1000, "0.001 Hz", None),
    ("on_s", 3, L.TRAIN_MIN_MS, L.TRAIN_MAX_MS, "1 ms", None),
    ("off_s", 3, L.TRAIN_MIN_MS, L.TRAIN_MAX_MS, "1 ms", "continuous"),
    ("ramp_up_s", 3, L.RAMP_UP_MIN_MS, L.RAMP_MAX_MS, "1 ms", None),
    ("ramp_down_s", 3, L.RAMP_DOWN_MIN_MS, L.RAMP_MAX_MS, "1 ms", None),
    ("session_s", 3, L.SESSION_MIN_S * 1000, L.SESSION_MAX_S * 1000, "1 ms", None),
    ("keepalive_s", 3, L.KEEPALIVE_MIN_MS, L.KEEPALIVE_MAX_MS, "1 ms", "off"),
    ("electrode_area_cm2", 2, L.AREA_MIN_CM2_X100, L.AREA_MAX_CM2_X100, "0.01 cm2", None),
)


def err(out, field, code, message):
    out.append(E.TvnsError(code, message, field))


def check_number(errs, field, text, places, lo, hi, unit, zero_means=None):
    """A number's decimal text in units of 10**-places, exactly (tvns/units.py), within
    lo..hi (or 0 where zero_means says what 0 means): the value, or None with the error
    appended to errs naming the field, the resolution or the range. The one rule for every
    number a command or a protocol brings (protocol fields, the trigger block, titration)."""
    code, v = U.to_units(text, places)
    if code == U.OK and (lo <= v <= hi or (v == 0 and zero_means is not None)):
        return v
    if code == U.RESOLUTION:
        msg = "%s=%s is finer than the %s resolution" % (field, U.excerpt(text), unit)
        err(errs, field, E.RESOLUTION, msg)
        return None
    rng = "%s..%s" % (U.show(lo, places), U.show(hi, places))
    if zero_means is not None:
        rng = "0 (%s) or %s" % (zero_means, rng)
    err(errs, field, E.OUT_OF_RANGE, "%s must be %s (got %s)" % (field, rng, U.excerpt(text)))
    return None


def check_fields(errs, ok, ceiling_ua):
    """Each numeric field of ok (name -> jsonscan.Num) within its hard limit, on its
    resolution grid. Returns {name: value in units} for the valid ones."""
    u = {}
    for name, places, lo, hi, unit, zero_means in NUMERIC:
        num = ok.get(name)
        if num is None:
            continue
        raw = num.raw
        if raw is not None:  # the usual number, from its bytes: no call, no str made
            code, v = U.units_of(raw, places)
            if code == U.OK and (lo <= v <= hi or (v == 0 and zero_means is not None)):
                u[name] = v
                continue
        v = check_number(errs, name, num.text, places, lo, hi, unit, zero_means)
        if v is not None:
            u[name] = v
    amp = u.get("amplitude_ma")
    if amp is not None and amp > ceiling_ua:
        msg = "amplitude_ma=%s is above this board's ceiling of %s mA" % (
            U.show(amp, 3),
            U.show(ceiling_ua, 3),
        )
        err(errs, "amplitude_ma", E.ABOVE_CEILING, msg)
        del u["amplitude_ma"]
    return u


def check_combined(errs, u):
    """Limits that involve several fields, each checked only when its fields are valid.
    u: the valid fields in units (check_fields); frequency_hz in mHz."""
    amp_ua = u.get("amplitude_ma")
    width_us = u.get("pulse_width_us")
    period_us = G.period_us(u["frequency_hz"]) if "frequency_hz" in u else None
    area_x100 = u.get("electrode_area_cm2")
    if amp_ua is not None and width_us is not None:
        pc = G.charge_pc(amp_ua, width_us)
        if pc > L.CHARGE_MAX_PC:
            msg = "charge per phase %s uC (amplitude_ma x pulse_width_us) exceeds %s uC" % (
                U.show(pc, 6),
                U.show(L.CHARGE_MAX_PC, 6),
            )
            err(errs, "amplitude_ma", E.CHARGE, msg)
        if area_x100 is not None and G.shannon_at_or_above(pc, area_x100, L.SHANNON_K_MAX_X1000):
            msg = "Shannon k=%s for %s uC on electrode_area_cm2=%s must stay below %s" % (
                U.show(G.shannon_k_x1000(pc, area_x100), 3),
                U.show(pc, 6),
                U.show(area_x100, 2),
                U.show(L.SHANNON_K_MAX_X1000, 3),
            )
            err(errs, "electrode_area_cm2", E.SHANNON, msg)
        if (
            area_x100 is not None
            and period_us is not None
            and G.density_above(amp_ua, width_us, period_us, area_x100, L.RMS_DENSITY_MAX_UA_CM2)
        ):
            density = G.rms_density_ua_cm2(amp_ua, width_us, period_us, area_x100)
            msg = (
                "r.m.s. current density %s mA/cm2 on this electrode_area_cm2 exceeds %s mA/cm2"
                % (
                    U.show(density, 3),
                    U.show(L.RMS_DENSITY_MAX_UA_CM2, 3),
                )
            )
            err(errs, "electrode_area_cm2", E.DENSITY, msg)
    gap_us = u.get("interphase_gap_us")
    if width_us is not None and gap_us is not None and period_us is not None:
        pulse_us = 2 * width_us + gap_us
        if pulse_us + L.OFF_MIN_US > period_us:
            msg = "pulse of %d us (2 x width + gap) needs %d us off time in a %d us period" % (
                pulse_us,
                L.OFF_MIN_US,
                period_us,
            )
            err(errs, "frequency_hz", E.PULSE_FIT, msg)
    if _have(u, "ramp_up_s", "ramp_down_s", "session_s"):
        ramps_ms = u["ramp_up_s"] + u["ramp_down_s"]
        if ramps_ms > u["session_s"]:
            msg = "ramp_up_s + ramp_down_s = %s s is longer than session_s = %s s" % (
                U.show(ramps_ms, 3),
                U.show(u["session_s"], 3),
            )
            err(errs, "session_s", E.RAMP_FIT, msg)


def check_ramp_rate(errs, u):
    """Each 0.1 mA ramp step must last at least one pulse period (+1 ms for the control
    tick's grid), so consecutive pulses never differ by more than 0.1 mA."""
    if not _have(u, "amplitude_ma", "frequency_hz"):
        return
    steps = -(-u["amplitude_ma"] // L.RAMP_STEP_MAX_UA)
    period_us = G.period_us(u["frequency_hz"])
    need_ms = steps * (period_us + 1000) // 1000 + 1
    for name in ("ramp_up_s", "ramp_down_s"):
        if name in u and u[name] < need_ms:
            msg = "%s must be at least %s s here: %d steps of 0.1 mA, one per %d us period" % (
                name,
                U.show(need_ms, 3),
                steps,
                period_us,
            )
            err(errs, name, E.RAMP_RATE, msg)


def _have(u, *names):
    for n in names:
        if n not in u:
            return False
    return True
