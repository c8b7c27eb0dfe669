"""Errors that teach: unit slips get a hint, every numeric error states its unit and range,
misspelt fields get "did you mean", valid-but-odd values a warning; `validate` shows the
figures a reviewer checks; `--board` checks against that board's ceiling as the device will;
a blinded protocol simulated without --arm says to add it."""

import json

import pytest
from desk_support import ROOT, tvns
from tvns_tools import protofile

DEFAULT = json.loads((ROOT / "firmware" / "protocols" / "default.json").read_text())


def _validate(tmp_path, *more, **changes):
    doc = dict(DEFAULT, **changes)
    for k in [k for k, v in changes.items() if v is None]:
        doc.pop(k)
    p = tmp_path / "p.json"
    p.write_text(json.dumps(doc))
    r = tvns("validate", p, "--json", *more)
    return r.returncode, json.loads(r.stdout) if r.stdout.startswith("{") else r.stderr


@pytest.mark.parametrize(
    "field, value, hint",
    [
        ("pulse_width_us", 0.25, "0.25 looks like milliseconds: 0.25 ms = 250 us"),
        ("amplitude_ma", 500, "500 looks like microamps: 500 uA = 0.5 mA"),
        ("electrode_area_cm2", 150, "150 looks like mm2: 150 mm2 = 1.5 cm2"),
        ("ramp_up_s", 5000, "5000 looks like milliseconds: 5000 ms = 5 s"),
    ],
)
def test_unit_slips_get_a_hint_with_unit_and_range(tmp_path, field, value, hint):
    code, doc = _validate(tmp_path, **{field: value})
    assert code == 2
    (err,) = [e for e in doc["errors"] if e["field"] == field]
    assert err["hint"].startswith(hint), err
    unit, lo, _hi = protofile.UNITS[field]
    assert ("%s, allowed %g.." % (unit, lo)) in err["hint"]


def test_a_valid_session_of_30_s_warns_of_minutes(tmp_path):
    code, doc = _validate(tmp_path, session_s=30, on_s=5, off_s=5, ramp_up_s=2, ramp_down_s=2)
    assert code == 0 and doc["valid"]
    assert doc["warnings"] == [
        {
            "field": "session_s",
            "message": "30 s is 0.5 min; if you meant 30 minutes, write session_s: 1800",
        }
    ]
    _code, doc = _validate(tmp_path)  # the default protocol: nothing to warn of
    assert doc["warnings"] == []


def test_near_miss_field_names_and_codes_unchanged(tmp_path):
    code, doc = _validate(tmp_path, pulse_width_us=None, pulse_widht_us=250)
    assert code == 2
    got = {(e["field"], e["code"]): e.get("hint", "") for e in doc["errors"]}
    assert got[("pulse_widht_us", "unknown_field")] == "did you mean `pulse_width_us`?"
    assert ("pulse_width_us", "missing") in got  # the firmware's codes, as they were


def test_the_human_output_shows_the_reviewers_figures(tmp_path):
    r = tvns("validate", ROOT / "firmware" / "protocols" / "default.json")
    assert r.returncode == 0
    for text in (
        "peak current per phase",
        "1 mA",
        "session length",
        "10 min (600 s)",
        "charge per phase",
        "0.25 uC",
        "duty cycle",
        "30 s on / 30 s off (50 %)",
        "Shannon k",
    ):
        assert text in r.stdout, text


def test_board_ceiling_as_the_device_will(tmp_path):
    code, doc = _validate(tmp_path, amplitude_ma=8.5)  # within the 10 mA hard limit
    assert code == 0
    code, doc = _validate(tmp_path, "--board", "pico", amplitude_ma=8.5)
    assert code == 2 and doc["board"] == {"name": "pico", "ceiling_ua": 8000}
    (err,) = doc["errors"]
    assert err["code"] == "above_ceiling" and "mA, allowed 0.001..8" in err["hint"]
    board = json.loads((ROOT / "hardware" / "boards" / "pico.json").read_text())
    low = tmp_path / "low.json"
    low.write_text(json.dumps(dict(board, name="bench-2ma", ceiling_ua=2000)))
    code, doc = _validate(tmp_path, "--board", low, amplitude_ma=2.5)
    assert code == 2 and doc["board"]["ceiling_ua"] == 2000
    code, doc = _validate(tmp_path, "--board", low, amplitude_ma=1.5)
    assert code == 0
    bad = tmp_path / "bad-board.json"
    bad.write_text(json.dumps(dict(board, ceiling_ua=20000)))
    code, err = _validate(tmp_path, "--board", bad)
    assert code == 2 and "ceiling_ua" in err and "Traceback" not in err


def test_simulating_a_blinded_protocol_without_an_arm_says_to_add_it(tmp_path):
    p = tmp_path / "blind.json"
    p.write_text(json.dumps(dict(DEFAULT, blinded=True)))
    for runtime in ("micropython", "cpython"):
        r = tvns("simulate", p, "--runtime", runtime)
        assert r.returncode == 2 and "no_allocation" in r.stderr
        assert "add --arm active or --arm sham" in r.stderr and "Traceback" not in r.stderr


def test_simulate_a_missing_file_under_micropython_is_one_line(tmp_path):
    r = tvns("simulate", tmp_path / "missing.json")  # the default runtime
    assert r.returncode == 1
    assert r.stderr == "tvns: cannot read %s: No such file or directory\n" % (
        tmp_path / "missing.json"
    )
