"""`tvns report`: every minimum reporting item present, "not recorded" where the log does not
say, and numbers equal to the firmware's own derived figures."""

import pathlib
import re

import mp_log_checks as M
import pytest
from tvns import log as L
from tvns import protocol as P
from tvns.board.simrun import simulate
from tvns_tools import cli, logs, report, sessionplot

META = {
    "device_maker": "Bench Lab",
    "device_model": "tvns-bench-1",
    "site": "left cymba conchae",
    "electrode_size": "6 mm ball",
}
PERSON_ONLY = (
    "Regulatory status",
    "Blinding",
    "Manipulation check",
    "Skin preparation",
    "Electrode material",
    "Anode/cathode placement",
)


@pytest.fixture(scope="module")
def log_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("rep") / "log.jsonl"
    log = L.Log(str(path), sync=False)
    proto = dict(M.PROTOCOL, session_s=40, on_s=10, off_s=5)
    logs.log_simulation(log, simulate(proto), unix_s=1_760_000_000, meta=META)
    log.append("session_start", {"protocol": dict(proto, sham=True), "board": "sim"})
    log.append("state", {"t_s": 0.0, "state": "RAMP_UP"})  # then power lost: no end record
    log.close()
    return path


def _table(md):
    """{item: value} from the report's Markdown tables."""
    out = {}
    for line in md.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 2:
            out[cells[0]] = cells[1]
    return out


def test_every_item_present_and_person_only_items_not_recorded(log_path):
    md = report.report(log_path, session=1)
    rows = _table(md)
    for _section, item in report.ITEMS:
        assert item in rows, item
    for item in PERSON_ONLY:
        assert rows[item] == report.NOT_RECORDED, item
    assert rows["Device maker"] == "Bench Lab" and rows["Stimulation site"] == "left cymba conchae"
    assert "6 mm ball" in rows["Electrode size and area"]
    assert rows["Firmware version"] == "0.1.0" and rows["Board"] == "sim"
    assert rows["Time of day"] == "08:53:20 UTC on 2025-10-09 (host clock via set_time)"
    assert rows["Constant current or constant voltage"] == "constant current"
    assert rows["Sham"].startswith("no") and rows["Sham type"] == report.NOT_RECORDED


def test_numbers_equal_the_derived_figures(log_path):
    recs = logs.records(log_path)
    start = recs[0]
    end = next(r for r in recs if r["kind"] == "session_end")
    d = P.validate(start["protocol"])[0].derived()
    rows = _table(report.report(log_path, session=1))
    assert rows["Charge per phase"] == "%s uC" % d["charge_per_phase_uc"] == "0.375 uC"
    assert rows["r.m.s. current"] == "%s mA" % d["rms_current_ma"]
    assert rows["r.m.s. current density"] == "%s mA/cm2" % d["rms_current_density_ma_cm2"]
    assert rows["Shannon k"].startswith("%s " % d["shannon_k"])
    assert rows["Pulses planned"] == str(d["pulses_total"]) == rows["Pulses delivered"]
    assert rows["Charge delivered"] == "%s uC per direction" % end["charge_uc"]
    assert 0 < end["charge_uc"] < d["pulses_total"] * 0.375  # ramps deliver less
    assert rows["Current"] == "1.5 mA peak per phase"
    assert rows["Pulse width"] == "250 us per phase"
    assert rows["Duty cycle"] == "10 s on / 5 s off"
    assert rows["Intended session duration"] == "40 s" == rows["Actual session duration"]
    assert rows["Daily dose"].startswith("40 s in 1 session(s) on 2025-10-09 UTC")


def test_a_cut_sham_session_says_so_and_invents_nothing(log_path):
    rows = _table(report.report(log_path, session=-1))
    assert rows["Sham"].startswith("yes")
    assert rows["Actual session duration"].startswith(report.NOT_RECORDED)
    assert rows["Pulses delivered"] == report.NOT_RECORDED
    assert rows["Charge delivered"] == report.NOT_RECORDED
    assert rows["Time of day"] == report.NOT_RECORDED  # no clock and no meta
    assert rows["Daily dose"] == report.NOT_RECORDED
    assert rows["Constant current or constant voltage"] == report.NOT_RECORDED
    for item in PERSON_ONLY + ("Device maker", "Stimulation site", "Firmware version"):
        assert rows[item] == report.NOT_RECORDED, item


def test_envelope_follows_the_logged_states(log_path):
    s = logs.sessions(logs.records(log_path))[0]
    ts, amps = sessionplot.envelope(s)
    assert max(amps) == 1.5 and amps[0] == 0 and amps[-1] == 0
    marks = [r for r in s["events"] if r["kind"] in ("state", "amplitude", "fault")]
    assert len(ts) == len(amps) == 2 * len(marks)  # (start, level) and (next mark, level)
    for j, r in enumerate(marks):
        level = {"OFF": (0, 0), "ON": (1.5, 1.5), "RAMP_UP": (0, 1.5), "DONE": (0, 0)}
        if r.get("state") in level:
            assert (amps[2 * j], amps[2 * j + 1]) == level[r["state"]], r
            assert ts[2 * j] == r["t_s"]


def test_cli_writes_markdown_html_and_plots(log_path, tmp_path, capsys):
    parser = cli.build_parser()
    out = tmp_path / "r" / "rep.md"
    args = parser.parse_args(["report", str(log_path), "--out", str(out)])
    assert cli.COMMANDS[args.command][0](args) == 0
    html = (tmp_path / "r" / "rep.html").read_text()
    assert "<table>" in html and "Shannon k" in html
    assert html.count('src="data:image/png;base64,') == 2  # both plots inside the page
    assert "rep-session2.png" in (tmp_path / "r" / "rep.md").read_text()
    for n in (1, 2):
        assert (tmp_path / "r" / ("rep-session%d.png" % n)).stat().st_size > 1000
    args = parser.parse_args(["report", str(log_path), "--session", "1"])
    assert args.func(args) == 0
    assert "## Session 1" in capsys.readouterr().out
    with pytest.raises(report.ToolError):
        report.report(log_path, session=3)


def test_meta_doc_lists_every_meta_key_in_order():
    from tvns_tools import meta

    doc = (pathlib.Path(__file__).resolve().parent.parent / "docs" / "META.md").read_text()
    listed = re.findall(r"^\| `([a-z_]+)` \|", doc, re.M)
    assert listed == list(meta.KEYS)
    used = list(report.META_ITEMS.values()) + ["sham_type", "electrode_size", "time_of_day"]
    assert set(used) <= set(meta.KEYS)  # the report reads only keys a meta file may hold


def _line_with_crc(body):
    return body[:-1] + (',"crc":"%08x"}\n' % (L.crc32(body) & 0xFFFFFFFF)).encode()


def test_report_never_crashes_on_a_bad_log_line(tmp_path):
    """Issue 10.13: a MicroPython used to log names decoded from escaped non-BMP characters as
    lone surrogates (raw CESU-8 bytes, or \\ud83d escapes) under a valid CRC: such lines are
    bad lines, and the other sessions are reported; a name from before the printable-ASCII
    rule does not stop its session's report either."""
    good = tmp_path / "good.jsonl"
    log = L.Log(str(good), sync=False)
    logs.log_simulation(log, simulate(dict(M.PROTOCOL, session_s=20)), unix_s=1_760_000_000)
    log.append("session_start", {"protocol": dict(M.PROTOCOL, name="café"), "board": "sim"})
    log.close()
    first = good.read_bytes().splitlines(keepends=True)[0]
    body = first[: first.rindex(b',"crc"')] + b"}"
    name = ('"name":"%s"' % M.PROTOCOL["name"]).encode()
    assert name in body
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(
        _line_with_crc(body.replace(name, b'"name":"\xed\xa0\xbd\xed\xb8\x80"'))
        + _line_with_crc(body.replace(name, b'"name":"\\ud83d"'))
        + good.read_bytes()
    )
    out = tmp_path / "r" / "rep"
    assert cli.main(["report", str(bad), "--out", str(out)]) == 0
    md = out.with_suffix(".md").read_text()
    assert "2 bad lines skipped" in md
    assert md.count("## Session") == 2 and "café" in md
    assert out.with_suffix(".html").exists()
