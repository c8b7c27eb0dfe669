"""`tvns verify` catches and names deliberately broken captures (VCDs written with pyvcd
from the simulator's own pulses, then edited): one pulse too wide, A/B overlap, a missing
phase B, a train 1 s long, a 10 % frequency error, jitter, a stray pulse between trains."""

import pytest
import verify_support as vc

PERIOD_US = 20_000  # 50 Hz


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("broken")
    pulses, gate, end_us = vc.session()
    return tmp, vc.protocol_file(tmp), pulses, gate, end_us


def _check(bench, name, edit, gate=True):
    tmp, proto, pulses, gate_edges, end_us = bench
    pulses = [dict(p) for p in pulses]
    pulses = edit(pulses) or pulses
    end_us = max(end_us, pulses[-1]["a"] + vc.POST_US)
    path = vc.write_vcd(tmp / (name + ".vcd"), pulses, end_us, gate=gate_edges if gate else None)
    return vc.run_verify(path, proto)


def test_the_clean_capture_passes(bench):
    for gate in (True, False):
        doc, failed = _check(bench, "clean", lambda p: None, gate)
        assert failed == set() and doc["verdict"] == "pass" and doc["exit_code"] == 0
        assert doc["counts"]["pulses"] == 165 and not doc["alignment"]["ambiguous"]
        assert doc["alignment"]["session_start_s"] == pytest.approx(0.1)
        ran = {r["check"] for r in doc["checks"] if r["status"] == "pass"}
        assert {"session_length", "pulses_per_train", "train_on", "train_off", "duty_cycle"} <= ran


def test_one_pulse_too_wide(bench):
    def edit(p):
        p[30]["wa"] += 30  # phase A 230 us instead of 200

    doc, failed = _check(bench, "wide", edit)
    assert "phase_a_width" in failed
    assert doc["first_mismatch"]["check"] == "phase_a_width"
    assert doc["first_mismatch"]["t_s"] == pytest.approx(bench[2][30]["a"] / 1e6)
    assert "230" in doc["first_mismatch"]["detail"]


def test_a_and_b_overlap(bench):
    def edit(p):
        p[40]["gap"] = -20  # B rises 20 us before A falls

    doc, failed = _check(bench, "overlap", edit)
    assert "no_overlap" in failed
    row = next(r for r in doc["checks"] if r["check"] == "no_overlap")
    assert "1 overlaps" in row["measured"] and "20.000 us" in row["measured"]


def test_a_missing_phase_b(bench):
    def edit(p):
        p[50]["wb"] = None

    doc, failed = _check(bench, "no_b", edit)
    assert "biphasic" in failed
    assert doc["first_mismatch"]["check"] == "biphasic"
    assert "1 phase A without phase B" in doc["first_mismatch"]["detail"]


def test_a_train_one_second_long(bench):
    def edit(p):
        i = vc.train_starts(p, PERIOD_US)[1]  # the 25-pulse train at 3.0 s: make it 50
        extra = [dict(p[i], a=p[i]["a"] + k * PERIOD_US) for k in range(25, 50)]
        return p[: i + 25] + extra + p[i + 25 :]

    for gate in (True, False):
        doc, failed = _check(bench, "long_train", edit, gate)
        assert {"pulses_per_train", "train_on", "outside_train"} <= failed, failed
        assert doc["first_mismatch"]["t_s"] == pytest.approx(3.1, abs=0.6)


def test_ten_percent_frequency_error(bench):
    def edit(p):
        for q in p:  # the whole board 10 % slow: every time stretched
            q["a"] = vc.PRE_US + (q["a"] - vc.PRE_US) * 11 // 10

    doc, failed = _check(bench, "freq", edit, gate=False)
    assert {"period", "drift"} <= failed
    row = next(r for r in doc["checks"] if r["check"] == "drift")
    assert row["measured"].startswith("+100000.0 ppm")


def test_jitter(bench):
    shifts = {10: 30, 60: -25, 120: 40}

    def edit(p):
        for i, d in shifts.items():
            p[i]["a"] += d

    doc, failed = _check(bench, "jitter", edit)
    assert {"jitter", "period"} <= failed
    row = next(r for r in doc["checks"] if r["check"] == "jitter")
    assert row["measured"] == "40.000 us"
    assert doc["first_mismatch"]["t_s"] == pytest.approx((bench[2][10]["a"] + 30) / 1e6)


def test_a_stray_pulse_between_trains(bench):
    def edit(p):
        i = vc.train_starts(p, PERIOD_US)[1]
        stray = dict(p[i], a=p[i]["a"] - 700_000)  # in the OFF time before the train
        return p[:i] + [stray] + p[i:]

    for gate in (True, False):
        doc, failed = _check(bench, "stray", edit, gate)
        assert "outside_train" in failed, failed


def test_a_capture_from_the_middle_of_the_session_is_placed(bench):
    """A capture that starts at 2.5 s (after the first train) still checks the trains it
    shows; it is placed from the two 25-pulse trains and the ramp-down train."""
    tmp, proto, pulses, gate, end_us = bench
    keep = [p for p in pulses if p["a"] >= 2_600_000]
    path = vc.write_vcd(tmp / "middle.vcd", keep, end_us, start_us=2_500_000)
    doc, failed = vc.run_verify(path, proto)
    assert failed == set()
    assert doc["alignment"]["session_start_s"] == pytest.approx(0.1)
    assert not doc["alignment"]["ambiguous"]
