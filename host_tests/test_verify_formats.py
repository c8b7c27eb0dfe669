"""`tvns verify` reads what instruments write: a Saleae Logic 2 CSV, a generic sampled
CSV, a scope CSV of the sense-resistor voltage, and a sigrok session (.sr) made by
sigrok-cli (the tier needs Debian's sigrok-cli: it skips in one line, fails under CI).
Each clean capture passes; broken ones are caught and named in every format."""

import shutil
import subprocess
import sys

import pytest
import verify_support as vc
from tiers import require
from tvns_tools.verify import Unreadable


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("formats")
    pulses, gate, end_us = vc.session()
    return tmp, vc.protocol_file(tmp), pulses, gate, end_us


def _edit(pulses, kind):
    p = [dict(q) for q in pulses]
    if kind == "wide":
        p[30]["wa"] += 40
    elif kind == "no_b":
        p[30]["wb"] = None
    elif kind == "overlap":
        p[30]["gap"] = -30
    return p


BROKEN = {"wide": "phase_a_width", "no_b": "biphasic", "overlap": "no_overlap"}


@pytest.mark.parametrize("kind", [None, *BROKEN])
def test_saleae_logic2_csv(bench, kind):
    tmp, proto, pulses, _gate, end_us = bench
    path = vc.write_saleae_csv(tmp / ("saleae_%s.csv" % kind), _edit(pulses, kind), end_us)
    doc, failed = vc.run_verify(path, proto, channels="phase_a=D0,phase_b=D1,sync=D2")
    assert doc["capture"]["format"] == "Saleae Logic CSV"
    assert doc["capture"]["channels"] == {
        "phase_a": "Channel 0",
        "phase_b": "Channel 1",
        "sync": "Channel 2",
    }
    # change-only rows say nothing of the rate: the edge grid gives an upper bound
    assert "inferred" in doc["capture"]["sample_period_source"]
    if kind is None:
        assert failed == set() and doc["counts"]["pulses"] == 165
    else:
        assert BROKEN[kind] in failed
        assert doc["first_mismatch"]["check"] == BROKEN[kind]


@pytest.mark.parametrize("kind", [None, "wide", "no_b"])
def test_generic_sampled_csv(bench, kind):
    """`time,ch0,ch1` at 100 kHz over the first train (0.05..1.7 s)."""
    tmp, proto, pulses, _gate, _end = bench
    first = [p for p in _edit(pulses, kind) if p["a"] < 1_700_000]
    path = vc.write_generic_csv(tmp / ("generic_%s.csv" % kind), first, 50_000, 1_700_000)
    doc, failed = vc.run_verify(path, proto, channels="phase_a=ch0,phase_b=ch1")
    assert doc["capture"]["sample_period_ns"] == pytest.approx(10_000)
    assert doc["capture"]["sample_period_source"].startswith("CSV rows every")
    width = next(r for r in doc["checks"] if r["check"] == "phase_a_width")
    assert width["tolerance"] == "±10.020 us"  # one sample + 100 ppm of 200 us
    if kind is None:
        assert failed == set() and doc["counts"]["pulses"] == 70
        assert doc["alignment"]["session_start_s"] == pytest.approx(0.1)
    else:
        assert BROKEN[kind] in failed


def test_scope_csv_of_the_sense_voltage(bench):
    """A scope on the 100 ohm low-side sense resistor, 50 kHz, 0.4 mV steps: timing from
    the voltage alone, amplitude and ramp against the staircase."""
    tmp, proto, pulses, _gate, _end = bench
    first = [p for p in pulses if p["a"] < 1_700_000]
    path = vc.write_scope_csv(tmp / "scope.csv", first, 50_000, 1_700_000, step_us=20)
    doc, failed = vc.run_verify(path, proto, sense_ohms=100, sense_gain=1)
    assert failed == set(), [r for r in doc["checks"] if r["status"] == "fail"]
    assert doc["capture"]["channels"] == {"sense": "CH1 (V)"}
    assert doc["capture"]["phases_from"].startswith("analog")
    status = {r["check"]: r["status"] for r in doc["checks"]}
    assert status["amplitude"] == status["ramp"] == status["charge_balance"] == "pass"
    # the ramp's first step (0 mA: 100 ms, 5 pulses) cannot be seen on a sense voltage
    assert doc["counts"]["pulses"] == 70


@pytest.mark.parametrize(
    "kind,check",
    [("jump", "ramp"), ("high", "amplitude"), ("no_b", "charge_balance")],
)
def test_scope_csv_catches_amplitude_faults(bench, kind, check):
    tmp, proto, pulses, _gate, _end = bench
    first = [dict(p) for p in pulses if p["a"] < 1_700_000]
    if kind == "jump":  # no ramp: the set amplitude from the first pulse on
        for p in first:
            p["amp"] = 1000
    elif kind == "high":  # 20 % over the setpoint in the train
        for p in first[60:]:
            p["amp"] = 1200
    else:
        first[40]["wb"] = None
    path = vc.write_scope_csv(tmp / ("scope_%s.csv" % kind), first, 50_000, 1_700_000, step_us=20)
    doc, failed = vc.run_verify(path, proto, sense_ohms=100)
    assert check in failed, failed


def test_sense_gain_scales_the_amplitude(bench):
    """The same voltages read with --sense-gain 2: every pulse at half the current."""
    tmp, proto, pulses, _gate, _end = bench
    first = [p for p in pulses if p["a"] < 1_700_000]
    path = vc.write_scope_csv(tmp / "scope_gain.csv", first, 50_000, 1_700_000, step_us=20)
    _doc, failed = vc.run_verify(path, proto, sense_ohms=100, sense_gain=2)
    assert "amplitude" in failed


def _sigrok():
    return require(shutil.which("sigrok-cli"), "sigrok-cli")


@pytest.mark.parametrize("kind", [None, *BROKEN])
def test_sigrok_session_from_a_broken_vcd(bench, kind):
    _sigrok()
    tmp, proto, pulses, gate, end_us = bench
    vcd = vc.write_vcd(tmp / ("sr_%s.vcd" % kind), _edit(pulses, kind), end_us, gate=gate)
    sr = vc.to_sr(vcd, tmp / ("capture_%s.sr" % kind))
    doc, failed = vc.run_verify(sr, proto)
    assert doc["capture"]["format"] == "sigrok session (.sr)"
    assert doc["capture"]["sample_period_source"] == "sigrok session at 1 MHz"
    assert doc["capture"]["end_s"] == pytest.approx(end_us / 1e6)
    if kind is None:
        assert failed == set()
    else:
        assert BROKEN[kind] in failed


def test_sigrok_round_trip_of_a_simulated_trace(tmp_path):
    """The done-when of issue 14: `tvns simulate --vcd`, then `sigrok-cli -i trace.vcd
    -I vcd -o capture.sr`, then `tvns verify capture.sr` passes (exit 0)."""
    exe = _sigrok()
    proto = vc.protocol_file(tmp_path)
    trace, sr = tmp_path / "trace.vcd", tmp_path / "capture.sr"
    cli = [sys.executable, "-m", "tvns_tools.cli"]
    r = subprocess.run(
        cli + ["simulate", str(proto), "--runtime", "cpython", "--vcd", str(trace)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    subprocess.run([exe, "-i", str(trace), "-I", "vcd", "-o", str(sr)], check=True, timeout=120)
    r = subprocess.run(
        cli + ["verify", str(sr), str(proto), "--json"], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert '"verdict": "pass"' in r.stdout and '"session_length"' in r.stdout


def test_sr_without_sigrok_cli_is_one_clear_line(bench, monkeypatch):
    tmp, proto, *_ = bench
    sr = tmp / "nothing.sr"
    sr.write_bytes(b"PK\x03\x04")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(Unreadable) as exc:
        vc.run_verify(sr, proto)
    assert exc.value.exit_code == 1
    assert "needs sigrok-cli" in str(exc.value) and "\n" not in str(exc.value)


def test_a_capture_starting_inside_phase_b(bench):
    """The analyzer started while phase B was high: that pulse is partial, not a fault."""
    tmp, proto, pulses, _gate, end_us = bench
    t0 = pulses[30]["a"] + 350  # 100 us into phase B
    rows = [(t, lv) for t, lv in vc._levels(pulses, ["phase_a", "phase_b"]) if t > t0]
    lines = ["Time [s],phase_a,phase_b", "%.9f,0,1" % (t0 / 1e6)]
    lines += ["%.9f,%d,%d" % (t / 1e6, lv["phase_a"], lv["phase_b"]) for t, lv in rows]
    lines.append("%.9f,0,0" % (end_us / 1e6))
    path = tmp / "mid_b.csv"
    path.write_text("\n".join(lines) + "\n")
    doc, failed = vc.run_verify(path, proto, sample_rate_hz=1e6)
    assert failed == set() and doc["counts"]["pulses"] == 165 - 31
    assert doc["alignment"]["session_start_s"] == pytest.approx(0.1)
