"""The `tvns` CLI: validate exit codes and JSON, simulate outputs (JSON, VCD, plot, report)."""

import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "firmware" / "protocols" / "default.json"


def tvns(*args):
    return subprocess.run(
        [sys.executable, "-m", "tvns_tools.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_validate_default_json():
    r = tvns("validate", DEFAULT, "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["valid"] is True and doc["errors"] == []
    assert set(doc["derived"]) >= {
        "charge_per_phase_uc",
        "rms_current_ma",
        "rms_current_density_ma_cm2",
        "shannon_k",
        "pulses_total",
        "stim_s",
    }


def test_validate_invalid_exits_2_with_every_error(tmp_path):
    d = json.loads(DEFAULT.read_text())
    d["pulse_width_us"] = 5000
    d["frequency_hz"] = "25"
    d["typo_field"] = 1
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(d))
    r = tvns("validate", p, "--json")
    assert r.returncode == 2
    doc = json.loads(r.stdout)
    assert doc["valid"] is False and doc["derived"] is None
    got = {(e["field"], e["code"]) for e in doc["errors"]}
    assert got == {
        ("pulse_width_us", "out_of_range"),
        ("frequency_hz", "type"),
        ("typo_field", "unknown_field"),
    }
    # the readable form names the fields too
    r = tvns("validate", p)
    assert r.returncode == 2 and "pulse_width_us" in r.stdout and "INVALID" in r.stdout


@pytest.mark.parametrize(
    "content",
    [b"", b"\x00\xff\xfe binary", b"[1,2,3]", b"{" * 10, b" " * 100000, b"NaN"],
)
def test_validate_hostile_files_never_traceback(tmp_path, content):
    p = tmp_path / "x.json"
    p.write_bytes(content)
    r = tvns("validate", p, "--json")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert json.loads(r.stdout)["errors"]


def test_missing_file_is_a_clear_error(tmp_path):
    r = tvns("validate", tmp_path / "nope.json")
    assert r.returncode == 1
    assert r.stderr.startswith("tvns: cannot read")


def test_simulate_invalid_protocol_exits_2(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text('{"schema": 1}')
    for runtime in ("cpython", "micropython"):
        r = tvns("simulate", p, "--runtime", runtime)
        assert r.returncode == 2, r.stderr
        assert r.stderr.startswith("tvns: invalid protocol") and "amplitude_ma" in r.stderr


def _parse_vcd(text):
    ids, edges, t = {}, [], 0
    header, body = text.split("$enddefinitions $end", 1)
    for line in header.splitlines():
        parts = line.split()
        if parts[:1] == ["$var"]:
            ids[parts[3]] = parts[4]
        if parts[:1] == ["$timescale"]:
            assert parts[1] == "1us"
    levels = {"phase_a": 0, "phase_b": 0}
    for line in body.split():
        if line.startswith("#"):
            t = int(line[1:])
        elif line[0] in "01" and ids.get(line[1:]) in levels:  # the phase wires only
            levels[ids[line[1:]]] = int(line[0])
            edges.append((t, levels["phase_a"], levels["phase_b"]))
    return ids, edges


def test_simulate_writes_vcd_plot_and_report(tmp_path):
    out = tmp_path / "run"
    r = tvns(
        "simulate", DEFAULT, "--runtime", "cpython", "--duration", "40", "--out", out, "--json"
    )
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    # from the ramp's first 0.1 mA step at 0.5 s to the end of the first train at 35 s
    assert res["sim_s"] == 40 and res["final_state"] == "OFF" and res["pulses"] == 863
    for key in ("pulses", "sim_s", "wall_s", "final_state", "states", "faults"):
        assert key in res
    assert (out / "session.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| pulses delivered (expected) | 863 (7613) |" in (out / "report.md").read_text()
    ids, edges = _parse_vcd((out / "trace.vcd").read_text())
    assert set(ids.values()) >= {"phase_a", "phase_b", "sync", "gate"}
    rises_a = [t for (t, a, b), prev in zip(edges[1:], edges) if a and not prev[1]]
    rises_a = [edges[0][0]] + rises_a if edges[0][1] else rises_a
    assert len(rises_a) == 863
    assert {b - a for a, b in zip(rises_a, rises_a[1:])} == {40000}
    # widths and gap straight from the file: A high 250 us, 20 us gap, B high 250 us
    t0 = rises_a[100]
    seq = [e for e in edges if t0 <= e[0] <= t0 + 600]
    assert seq == [(t0, 1, 0), (t0 + 250, 0, 0), (t0 + 270, 0, 1), (t0 + 520, 0, 0)]
    assert not any(a and b for _t, a, b in edges)


def test_simulate_text_summary_line():
    r = tvns("simulate", DEFAULT, "--runtime", "cpython")
    assert r.returncode == 0
    assert "7613 pulses in 600.0 s simulated" in r.stdout and "DONE" in r.stdout


def test_simulate_out_writes_a_valid_session_log_and_report(tmp_path):
    out = tmp_path / "run"
    r = tvns("simulate", DEFAULT, "--runtime", "micropython", "--duration", "70", "--out", out)
    assert r.returncode == 0, r.stderr
    log = out / "session.log.jsonl"
    check = tvns("logs", "check", log, "--json")
    assert check.returncode == 0, check.stdout + check.stderr
    doc = json.loads(check.stdout)
    assert doc["sessions"] == 1 and doc["valid"] == doc["records"] > 5
    assert doc["torn_tail_bytes"] == 0
    kinds = [json.loads(line)["kind"] for line in log.read_text().splitlines()]
    assert kinds[0] == "session_start" and kinds[-1] == "session_end" and "state" in kinds
    # the charge delivered, as logged by the firmware, equals the trace's sum over pulses
    end = json.loads(log.read_text().splitlines()[-1])
    res = json.loads((out / "result.json").read_text())
    expected_uc = sum(n * amp * width for _s, _p, n, amp, width, _g in res["segments"]) / 1e6
    assert end["pulses"] == res["pulses"] == 988  # 0.5..35 s of ramp + train, 5 s of the next
    assert abs(end["charge_uc"] - expected_uc) < 1e-9
    assert end["charge_uc"] > 0
    md = (out / "report.md").read_text()
    assert "tragus-25hz-250us-30on30off" in md and "not recorded" in md
    assert "| pulses delivered (expected) | 988 (7613) |" in md  # the run's own section
    html = (out / "report.html").read_text()
    assert 'src="data:image/png;base64,' in html  # self-contained: session.png inside
    # one report per run: no second, parallel set
    assert sorted(p.name for p in out.iterdir()) == [
        "report.html",
        "report.md",
        "result.json",
        "session.log.jsonl",
        "session.png",
        "trace.vcd",
    ]


def test_fault_and_reset_reach_the_session_log(tmp_path):
    import sys as _sys

    _sys.path.insert(0, str(ROOT / "firmware"))
    from tvns.log import read_file

    out = tmp_path / "run"
    r = tvns("simulate", DEFAULT, "--runtime", "cpython", "--inject", "reset@20", "--out", out)
    assert r.returncode == 0, r.stderr
    recs = list(read_file(str(out / "session.log.jsonl")))
    faults = [x for x in recs if x["kind"] == "fault"]
    ends = [x for x in recs if x["kind"] == "session_end"]
    assert faults and faults[-1]["fault"] == "interrupted"
    assert ends and ends[-1]["reason"] == "interrupted"


def test_simulate_blinded_protocol_needs_an_arm_and_runs_both(tmp_path):
    d = json.loads(DEFAULT.read_text())
    d["blinded"] = True
    p = tmp_path / "blinded.json"
    p.write_text(json.dumps(d))
    r = tvns("simulate", p, "--runtime", "cpython", "--json")
    assert r.returncode == 2 and "no_allocation" in r.stderr
    runs = {}
    for arm in ("active", "sham"):
        r = tvns("simulate", p, "--runtime", "cpython", "--arm", arm, "--json")
        assert r.returncode == 0, r.stderr
        runs[arm] = json.loads(r.stdout)
    assert runs["active"]["pulses"] == 7613
    assert 0 < runs["sham"]["pulses"] < 7613 / 10  # the short ramp up and down only
    assert runs["active"]["states"] == runs["sham"]["states"]


def test_run_session_sends_the_pin_with_load():
    from tvns_tools import device

    class FakeDevice:
        def __init__(self):
            self.sent = []
            self.events = [{"event": "session_end", "state": "DONE"}]

        def request(self, cmd, **fields):
            self.sent.append((cmd, fields))
            if cmd == "status":
                return {"state": "DONE", "elapsed_s": 1, "session_s": 1}
            return {}

        def pump(self, _s):
            pass

    dev = FakeDevice()
    device.run_session(dev, {"name": "x"}, pin="4321")
    loads = [f for c, f in dev.sent if c == "load"]
    assert loads == [{"protocol": {"name": "x"}, "pin": "4321"}]
    dev = FakeDevice()
    device.run_session(dev, {"name": "x"})
    assert [f for c, f in dev.sent if c == "load"] == [{"protocol": {"name": "x"}}]
