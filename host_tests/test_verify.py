"""`tvns verify` on our own traces: every protocol in firmware/protocols and the edge
protocols (20 and 1000 us phases, 0 and 100 us gaps, 1 and 100 Hz) pass, from the model's
VCD and from the real PIO program's; the command's contract (exit codes 0/2/1, --json
keys, --plot, --channels) holds."""

import json
import pathlib
import subprocess
import sys

import pytest
import verify_support as vc
from tvns_tools.verify.report import JSON_KEYS

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROTOCOLS = sorted((ROOT / "firmware" / "protocols").glob("*.json"))


def tvns(*args):
    return subprocess.run(
        [sys.executable, "-m", "tvns_tools.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def edge(width_us, gap_us, freq_hz, **kw):
    """A short whole session at the edges of the hard limits."""
    doc = dict(vc.BENCH, name="edge-%dus-%dgap-%ghz" % (width_us, gap_us, freq_hz))
    doc.update(pulse_width_us=width_us, interphase_gap_us=gap_us, frequency_hz=freq_hz)
    if freq_hz < 10:  # one 0.1 mA step per period: 0.2 mA ramps in 2.1 s
        doc.update(amplitude_ma=0.2, on_s=3, off_s=2, ramp_up_s=2.1, ramp_down_s=2.1, session_s=12)
    doc.update(kw)
    return doc


EDGES = [edge(20, 0, 100), edge(1000, 100, 1), edge(20, 100, 1), edge(1000, 0, 100)]


def _simulate(tmp_path, proto, *extra):
    vcd = tmp_path / ("%s.vcd" % proto.stem)
    r = tvns("simulate", proto, "--runtime", "cpython", "--vcd", vcd, *extra)
    assert r.returncode == 0, r.stderr
    return vcd


@pytest.mark.parametrize("proto", PROTOCOLS, ids=lambda p: p.stem)
def test_every_shipped_protocol_verifies_from_its_own_trace(tmp_path, proto):
    vcd = _simulate(tmp_path, proto)
    doc, failed = vc.run_verify(vcd, proto)
    assert failed == set(), [r for r in doc["checks"] if r["status"] == "fail"]
    status = {r["check"]: r["status"] for r in doc["checks"]}
    # the whole session is in the trace: nothing is left unchecked but what has no data
    assert status["session_length"] == status["pulses_per_train"] == "pass"
    assert status["gate_latency"] == status["sync"] == status["ramp"] == "pass"
    derived = json.loads(tvns("validate", proto, "--json").stdout)["derived"]
    assert doc["counts"]["pulses"] == derived["pulses_total"]


@pytest.mark.parametrize("doc", EDGES, ids=lambda d: d["name"])
def test_edge_protocols_verify_from_their_own_traces(tmp_path, doc):
    proto = vc.protocol_file(tmp_path, doc)
    doc_v, failed = vc.run_verify(_simulate(tmp_path, proto), proto)
    assert failed == set(), [r for r in doc_v["checks"] if r["status"] == "fail"]
    passed = {r["check"] for r in doc_v["checks"] if r["status"] == "pass"}
    assert {"phase_a_width", "interphase_gap", "period", "session_length", "train_on"} <= passed


@pytest.mark.parametrize(
    "proto,seconds",
    [(ROOT / "firmware" / "protocols" / "default.json", 2), (None, 1)],
    ids=["default", "edge-1000us-0gap-100hz"],
)
def test_pio_engine_traces_verify(tmp_path, proto, seconds):
    """The real PIO program (cycle-exact emulator, 1 ns VCD with sync and gate)."""
    if proto is None:
        proto = vc.protocol_file(tmp_path, EDGES[3])
    vcd = _simulate(tmp_path, proto, "--engine", "pio", "--duration", seconds)
    doc, failed = vc.run_verify(vcd, proto)
    assert failed == set(), [r for r in doc["checks"] if r["status"] == "fail"]
    assert doc["capture"]["sample_period_source"] == "VCD timescale 1 ns"
    latency = next(r for r in doc["checks"] if r["check"] == "gate_latency")
    assert latency["status"] == "pass"


def test_the_simulated_vcd_is_change_only_with_the_pico_wire_names(tmp_path):
    proto = ROOT / "firmware" / "protocols" / "default.json"
    vcd = _simulate(tmp_path, proto)
    text = vcd.read_text()
    names = [line.split()[4] for line in text.splitlines() if line.startswith("$var")]
    pins = json.loads((ROOT / "hardware" / "boards" / "pico.json").read_text())["pins"]
    assert names[:4] == ["phase_a", "phase_b", "sync", "gate"] and set(names[:4]) <= set(pins)
    # one timestamp per instant that changes something, so 10 min stay under 700 kB: 4 per
    # pulse (A up with SYNC, A down, B up, B down with SYNC), 10 gate closings (each gate
    # opening shares its first pulse's; the ramp down begins in OFF: no window), the
    # initial values at 0 (the gate opens with the ramp's first step at 0.5 s) and the end
    stamps = [line for line in text.splitlines() if line.startswith("#")]
    assert len(text) < 700_000
    assert len(stamps) == 4 * 7613 + 10 + 1 + 1


def test_cli_exit_codes_and_json(tmp_path):
    proto = vc.protocol_file(tmp_path)
    pulses, gate, end_us = vc.session()
    good = vc.write_vcd(tmp_path / "good.vcd", pulses, end_us, gate=gate)
    pulses[5]["wb"] = None
    bad = vc.write_vcd(tmp_path / "bad.vcd", pulses, end_us, gate=gate)
    r = tvns("verify", good, proto, "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    for key in doc:
        assert key in JSON_KEYS
    for row in doc["checks"]:
        assert set(row) == {
            "check",
            "label",
            "status",
            "measured",
            "expected",
            "limit",
            "tolerance",
            "first_mismatch_s",
            "detail",
        }
        assert row["check"] in JSON_KEYS
    r = tvns("verify", bad, proto)
    assert r.returncode == 2
    assert "MISMATCH" in r.stdout and "first mismatch: biphasic" in r.stdout
    for args, words in (
        ((tmp_path / "missing.vcd", proto), "no such file"),
        ((proto, proto), "unknown capture format"),
        ((good, proto, "--channels", "phase_a=D7,phase_b=D1"), "no channel 'D7'"),
        ((good, proto, "--channels", "phaseA=D0"), "ROLE=CHANNEL"),
        ((good, tmp_path / "nope.json"), "cannot read"),
    ):
        r = tvns("verify", *args)
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        assert r.stderr.startswith("tvns: ") and words in r.stderr and "Traceback" not in r.stderr


def test_unnamed_wires_need_channels_then_verify(tmp_path):
    """An analyzer's D0..D3: the recipe's order is the default; other names need
    --channels, and without them the error says so."""
    proto = vc.protocol_file(tmp_path)
    pulses, gate, end_us = vc.session()
    text = vc.write_vcd(tmp_path / "named.vcd", pulses, end_us, gate=gate).read_text()
    for a, b in (("phase_a", "D0"), ("phase_b", "D1"), ("sync", "D2"), ("gate", "D3")):
        text = text.replace(" %s $end" % a, " %s $end" % b)
    (tmp_path / "d.vcd").write_text(text)
    doc, failed = vc.run_verify(tmp_path / "d.vcd", proto)
    assert failed == set() and doc["capture"]["channels"]["gate"] == "D3"
    (tmp_path / "x.vcd").write_text(text.replace(" D0 $end", " X5 $end"))
    r = tvns("verify", tmp_path / "x.vcd", proto)
    assert r.returncode == 1 and "--channels" in r.stderr
    r = tvns("verify", tmp_path / "x.vcd", proto, "--channels", "phase_a=X5,phase_b=D1")
    assert r.returncode == 0, r.stdout


def test_plot_marks_the_first_mismatch(tmp_path):
    proto = vc.protocol_file(tmp_path)
    pulses, gate, end_us = vc.session()
    pulses[7]["wa"] += 50
    bad = vc.write_vcd(tmp_path / "bad.vcd", pulses, end_us, gate=gate)
    png = tmp_path / "v.png"
    r = tvns("verify", bad, proto, "--plot", png)
    assert r.returncode == 2
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_help_documents_the_json_keys():
    r = tvns("verify", "--help")
    assert r.returncode == 0
    for key in ("verdict", "first_mismatch", "not_checked", "sample_period_ns", "--sense-ohms"):
        assert key in r.stdout


def test_sham_protocol_expects_no_pulse(tmp_path):
    doc = dict(vc.BENCH, sham=True)
    proto = vc.protocol_file(tmp_path, doc, "sham.json")
    vcd = _simulate(tmp_path, proto)
    result, failed = vc.run_verify(vcd, proto)
    assert failed == set() and result["counts"]["pulses"] == 0
    pulses, gate, end_us = vc.session()
    active = vc.write_vcd(tmp_path / "active.vcd", pulses, end_us)
    _result, failed = vc.run_verify(active, proto)
    assert failed == {"pulses"}


def test_docs_list_every_check_and_json_key(tmp_path):
    """docs/VERIFY.md is the contract: every check the verifier runs and every top-level
    JSON key appear in it."""
    doc_text = (ROOT / "docs" / "VERIFY.md").read_text()
    proto = vc.protocol_file(tmp_path)
    pulses, gate, end_us = vc.session()
    vcd = vc.write_vcd(tmp_path / "c.vcd", pulses, end_us, gate=gate)
    doc, _failed = vc.run_verify(vcd, proto)
    for row in doc["checks"]:
        assert "`%s`" % row["check"] in doc_text, row["check"]
    for key in doc:
        assert "`%s`" % key in doc_text, key
    assert "docs/VERIFY.md" in (ROOT / "README.md").read_text()


def test_blinded_protocol_is_checked_against_the_arm_given(tmp_path):
    """A blinded sham arm (ramp up, then down over train time) verifies only as --arm sham,
    the active arm only as active: the capture tells the arms apart."""
    proto = vc.protocol_file(tmp_path, dict(vc.BENCH, blinded=True), "blind.json")
    for arm in ("active", "sham"):
        vcd = _simulate(tmp_path, proto, "--arm", arm)
        vcd = vcd.rename(tmp_path / ("blind_%s.vcd" % arm))
        for as_arm in ("active", "sham"):
            _doc, failed = vc.run_verify(vcd, proto, arm=as_arm)
            assert (failed == set()) == (arm == as_arm), (arm, as_arm, failed)
