"""`tvns simulate --engine rmt`: the firmware's ESP32 board on the silicon model, its RMT
frames written as a VCD with the wires of the other engines (phase_a, phase_b, sync, gate),
which `tvns verify --board esp32-devkitc` passes for every edge protocol; fault injection
and jitter allowed; a bad pin map refused naming its field."""

import json
import subprocess
import sys

import pytest
from esp32_support import ESP32_JSON, ROOT
from test_esp32_rmt import EDGE


def tvns(*args, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "tvns_tools.cli", *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT,
    )  # fmt: skip


@pytest.mark.parametrize("name", sorted(EDGE))
def test_rmt_vcd_of_each_edge_protocol_passes_tvns_verify(name, tmp_path):
    proto = tmp_path / (name + ".json")
    proto.write_text(json.dumps(EDGE[name]))
    vcd = tmp_path / "trace.vcd"
    r = tvns(
        "simulate",
        str(proto),
        "--engine",
        "rmt",
        "--runtime",
        "cpython",
        "--vcd",
        str(vcd),
        "--json",
    )
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["final_state"] == "DONE" and result["board"] == "esp32-devkitc"
    text = vcd.read_text()
    for ident, wire in (("a", "phase_a"), ("b", "phase_b"), ("s", "sync"), ("g", "gate")):
        assert "$var wire 1 %s %s $end" % (ident, wire) in text
    assert text.count("\n1a\n") == result["pulses"] >= 100
    r = tvns("verify", str(vcd), str(proto), "--board", "esp32-devkitc", "--json")
    report = json.loads(r.stdout)
    failed = [c for c in report["checks"] if c.get("status") == "fail" or c.get("result") == "FAIL"]
    assert r.returncode == 0 and report["verdict"] == "pass", failed
    # the same capture is NOT a Pico's: the RMT pipeline and the gap's skew show
    r = tvns("verify", str(vcd), str(proto), "--board", "pico", "--json")
    assert r.returncode == 2


def test_rmt_takes_faults_and_jitter(tmp_path):
    vcd = tmp_path / "t.vcd"
    r = tvns("simulate", "firmware/protocols/default.json", "--engine", "rmt", "--runtime",
             "cpython", "--duration", "20", "--inject", "estop@12.3456", "--jitter-ms", "3",
             "--vcd", str(vcd), "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    (fault,) = result["faults"]
    assert fault["fault"] == "estop" and result["final_state"] == "FAULT"
    assert result["rmt"]["blocked_us"] == 0


@pytest.mark.parametrize(
    "args, says",
    [
        (["--engine", "rmt", "--duration", "901"], "--duration at most 900"),
        (["--board-config", str(ESP32_JSON)], "--board-config goes with --engine rmt"),
    ],
)
def test_rmt_argument_errors(args, says):
    r = tvns("simulate", "firmware/protocols/default.json", "--runtime", "cpython", *args)
    assert r.returncode == 1 and says in r.stderr and "Traceback" not in r.stderr


def test_rmt_refuses_a_bad_pin_map_naming_the_field(tmp_path):
    cfg = json.loads(ESP32_JSON.read_text())
    cfg["pins"]["estop"]["pull"] = "up"  # a cut e-stop wire would read released
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(cfg))
    r = tvns("simulate", "firmware/protocols/default.json", "--engine", "rmt",
             "--board-config", str(bad), "--duration", "2")  # fmt: skip
    assert r.returncode == 1 and "pins.estop.pull" in r.stderr and "cut wire" in r.stderr
