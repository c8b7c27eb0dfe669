"""`tvns hw simulate` / `tvns hw matrix`: the contract (flags, JSON keys), the firmware's own
edges (model and PIO engines), the generated bench matrix is current (the drawings:
test_hw_schematic.py)."""

import json
import pathlib

import pytest
from hw_support import need_ngspice
from tvns_tools import cli
from tvns_tools.firmware import DEFAULT_PROTOCOL, ROOT
from tvns_tools.hw import matrix

KEYS = (
    "commanded_ma",
    "delivered_ma",
    "peak_current_ma",
    "charge_per_phase_uc",
    "net_charge_uc",
    "compliance_tripped",
    "peak_voltage_v",
    "load_ohm",
)


def _run(capsys, tmp_path, *argv):
    code = cli.main(["hw", "simulate", *argv, "--json", "--out", str(tmp_path)])
    assert code == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module", autouse=True)
def _ngspice():
    need_ngspice()


def test_simulate_json_contract_and_png(capsys, tmp_path):
    r = _run(capsys, tmp_path, str(DEFAULT_PROTOCOL), "--load", "2k")
    assert all(k in r for k in KEYS)
    assert r["load_ohm"] == 2000 and r["compliance_tripped"] is False
    assert r["commanded_ma"] == 1.0
    assert abs(r["delivered_ma"] - 1.0) <= 0.02
    assert r["charge_per_phase_uc"] == pytest.approx(0.25, rel=0.02)
    assert abs(r["net_charge_uc"]) < 0.001
    assert r["peak_voltage_v"] == pytest.approx(2.0, rel=0.03)
    assert r["sense"][0]["firmware_ua"] == pytest.approx(1000, abs=20)
    png = pathlib.Path(r["plot"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "2k" / "stage.cir").exists()


def test_simulate_faults_and_lead_off(capsys, tmp_path):
    r = _run(capsys, tmp_path, str(DEFAULT_PROTOCOL), "--load", "500", "--fault", "dac_stuck")
    assert r["delivered_ma"] > 9.5 and r["peak_current_ma"] <= 11.0  # full scale, held
    r = _run(capsys, tmp_path, "--load", "500", "--fault", "bridge_both_on")
    assert r["peak_current_ma"] < 0.01
    for load in ("10k", "open"):
        r = _run(capsys, tmp_path, "--load", load)
        assert r["compliance_tripped"] is True
    assert r["load_ohm"] is None and r["delivered_ma"] < 0.01


def test_pio_engine_edges_give_the_same_current(capsys, tmp_path):
    r = _run(capsys, tmp_path, "--load", "500", "--engine", "pio", "--pulses", "2")
    assert r["firmware"]["engine"] == "pio"
    assert abs(r["delivered_ma"] - 1.0) <= 0.02
    assert r["pulse_width_us"] == pytest.approx(250, abs=3)


def test_bad_load_and_fault_are_refused(capsys):
    with pytest.raises(SystemExit):
        cli.main(["hw", "simulate", "--load", "3k"])
    assert "--load" in capsys.readouterr().err


def test_bench_matrix_is_current():
    committed = matrix.parse((ROOT / "hardware" / "BENCH-MATRIX.md").read_text())
    fresh = matrix.parse(matrix.render(str(DEFAULT_PROTOCOL), matrix.rows(DEFAULT_PROTOCOL)))
    assert set(committed) == set(matrix.LOAD_ORDER) == set(fresh)
    for load, row in fresh.items():
        for key, value in row.items():
            old = committed[load][key]
            if isinstance(value, float):
                assert old == pytest.approx(value, rel=0.01, abs=0.002), (load, key)
            else:
                assert old == value, (load, key)
