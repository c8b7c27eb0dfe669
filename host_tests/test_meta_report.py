"""Study metadata end to end: `tvns run --meta FILE` on the virtual board, `tvns logs pull`,
`tvns report`: every item the meta file gave is in the report (never "not recorded"), with
the time of day; and everything a protocol, meta file or log carries stays data: hostile
names and values are escaped in Markdown and HTML and never start a CSV cell as a formula."""

import csv
import json
import re

import pytest
from desk_support import ROOT, VirtualBoard, tvns
from tvns_tools import meta as M
from tvns_tools import report

HOSTILE_NAME = "<img src=x onerror=alert(1)>"
META = {
    "participant_id": '=HYPERLINK("http://evil.example","P07")',
    "session_id": "S03 | visit 2",
    "study_id": "@SUM(1+1)",
    "operator": "+JD",
    "site": "left cymba conchae <script>alert(1)</script>",
    "skin_preparation": "alcohol wipe",
    "electrode_material": "Ag/AgCl [link](javascript:alert(1))",
    "electrode_size": "6 mm ball",
    "anode_cathode": "-anode at cymba, cathode at tragus",
    "blinding": "double-blind",
    "sham_type": "earlobe",
    "manipulation_check": "end-of-study guess",
    "device_maker": "Bench Lab",
    "device_model": "tvns-bench-1 *bold*",
    "regulatory_status": "investigational, not cleared",
    "utc_offset": "+02:00",
    "notes": "first line\nsecond | line",
}
GIVEN = {item: key for item, key in report.META_ITEMS.items() if key in META}


@pytest.fixture(scope="module")
def pulled(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("meta")
    proto = json.loads((ROOT / "firmware" / "protocols" / "default.json").read_text())
    proto.update(name=HOSTILE_NAME, session_s=12, on_s=4, off_s=2, ramp_up_s=2, ramp_down_s=2)
    (tmp / "p.json").write_text(json.dumps(proto))
    (tmp / "meta.json").write_text(json.dumps(META))
    with VirtualBoard(tmp / "flash", speed=50) as board:
        r = tvns("run", tmp / "p.json", "--port", board.port, "--meta", tmp / "meta.json", "--json")
        assert r.returncode == 0, r.stderr
        r = tvns("logs", "pull", "--port", board.port, "--out", tmp / "logs")
        assert r.returncode == 0, r.stderr
    r = tvns("report", tmp / "logs" / "session-log.jsonl", "--out", tmp / "rep" / "r")
    assert r.returncode == 0, r.stderr
    return tmp


def _md_rows(md):
    """{item: value} from the Markdown tables, splitting on unescaped | only."""
    out = {}
    for line in md.splitlines():
        if line.startswith("| ") and not line.startswith("| item"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            assert len(cells) in (2, 4), line  # a value never opens a new cell
            if len(cells) == 2:
                out[cells[0]] = cells[1]
    return out


def test_the_report_of_a_run_with_meta_shows_what_the_meta_gave(pulled):
    rows = _md_rows((pulled / "rep" / "r.md").read_text())
    for item in GIVEN:
        assert not rows[item].startswith(report.NOT_RECORDED), item
    assert rows["Sham type"] == "earlobe" and "6 mm ball" in rows["Electrode size and area"]
    assert rows["Participant"].startswith("=HYPERLINK")  # kept as text, shown as text
    # The host clock from set_time, shown in the participant's local time as well
    assert re.match(
        r"^\d\d:\d\d:\d\d on \d{4}-\d\d-\d\d local \(UTC\+02:00\), \d\d:\d\d:\d\d UTC on "
        r"\d{4}-\d\d-\d\d \(host clock via set_time\)$",
        rows["Time of day"],
    ), rows["Time of day"]
    assert rows["Daily dose"].startswith("0.2 min (12 s) in the last 24 h")
    assert rows["Actual session duration"] == "12 s"


def test_hostile_names_and_values_stay_data(pulled):
    md = (pulled / "rep" / "r.md").read_text()
    html = (pulled / "rep" / "r.html").read_text()
    assert "<img" not in md and html.count("<img") == 1  # the plot, nothing else
    for text in (md, html):
        assert "<img src=x" not in text and "<script" not in text
    assert not re.search(r"(?<!\\)\]\(javascript", md)  # a link only when unescaped
    assert "<a " not in html and "href=" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "&lt;script&gt;" in html
    assert "\\[link\\](javascript:alert(1))" in md and "\\*bold\\*" in md
    assert "first line second \\| line" in md  # one line, one cell
    # self-contained: the plot is inside, nothing is fetched
    assert 'src="data:image/png;base64,' in html and not re.search(r'src="(?!data:)', html)
    assert "default-src 'none'" in html
    # the CSV export: text never starts a cell like a formula
    rows = list(csv.reader(open(pulled / "logs" / "session-log.csv", newline="")))
    cells = [c for row in rows[1:] for c in row]
    assert any("HYPERLINK" in c for c in cells)
    for c in cells:
        if c[:1] in ("=", "+", "@") or (c[:1] == "-" and not _number(c)):
            raise AssertionError("formula-like cell: %r" % c)


def _number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_csv_keeps_numbers_numeric_and_quotes_formula_text():
    from tvns_tools.logs import _cell

    assert _cell(-0.5) == "-0.5" and _cell(-3) == "-3" and _cell(1e-06) == "1e-06"
    assert _cell("-1") == "'-1" and _cell("=1+1") == "'=1+1" and _cell("@x") == "'@x"
    assert _cell("+31") == "'+31" and _cell("\t=x") == "'\t=x" and _cell("ok") == "ok"
    assert _cell(True) == "true" and _cell(None) == "" and _cell({"a": "=x"}) == '{"a": "=x"}'


@pytest.mark.parametrize(
    "doc, problem",
    [
        ({"participant": "P1"}, "did you mean `participant_id`?"),
        ({"site": 3}, "site: must be text"),
        ({"site": ""}, "site: empty"),
        ({"notes": "x" * 201}, "notes: 201 characters; at most 200"),
        ({"operator": "a\x07b"}, "operator: control characters"),
        ({"utc_offset": "CET"}, "utc_offset: write it as +HH:MM"),
        ({"x_": "a"}, "x_: a custom key"),
        ([1, 2], "one JSON object"),
        ({**{"x_k%d" % i: "v" * 150 for i in range(8)}}, "at most 1024"),
    ],
)
def test_meta_files_are_checked_with_clear_errors(doc, problem):
    assert any(problem in p for p in M.check(doc)), M.check(doc)


def test_meta_file_limits_through_the_cli(tmp_path):
    big = tmp_path / "big.json"
    big.write_text(" " * 5000 + "{}")
    proto = ROOT / "firmware" / "protocols" / "default.json"
    r = tvns("run", proto, "--port", "/dev/ttyACM-none", "--meta", big)
    assert r.returncode == 2 and "over 4096 bytes" in r.stderr and "Traceback" not in r.stderr
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps({"site": "tragus", "x_room": "B2"}))
    assert M.read(ok)["utc_offset"] == M.host_utc_offset()
    assert M.check({"site": "a", "x_room": "B2"}) == []


def test_the_device_bounds_meta_itself(tmp_path):
    """The host checks first; the firmware refuses what would not fit a log line anyway."""
    from desk_support import console

    proto = json.loads((ROOT / "firmware" / "protocols" / "default.json").read_text())
    with VirtualBoard(tmp_path / "flash") as board:
        replies = console(
            board.port,
            "load %s" % json.dumps({"protocol": proto}),
            "arm",
            'start {"meta": {"site": "%s"}}' % ("x" * 300),
            'start {"meta": ["x"]}',
            "status",
        )
    refused = [r for r in replies if r.get("error", {}).get("field") == "meta"]
    assert len(refused) == 2 and all(r["error"]["code"] == "bad_field" for r in refused)
    assert replies[-1]["state"] == "ARMED"  # nothing started


def test_plots_mark_the_end_a_stop_and_faults_and_tell_the_ramps_apart(tmp_path):
    from tvns import log as L
    from tvns.board.simrun import simulate
    from tvns_tools import logs, plot, sessionplot

    proto = json.loads((ROOT / "firmware" / "protocols" / "default.json").read_text())
    proto.update(session_s=60, on_s=10, off_s=5)
    res = simulate(proto, inject=[("overcurrent", 30000)])
    path = tmp_path / "log.jsonl"
    log = L.Log(str(path), sync=False)
    logs.log_simulation(log, res)
    log.close()
    (session,) = logs.sessions(logs.records(path))
    labels = [m[1] for m in sessionplot.marks(session)]
    assert labels[0] == "intended end 60 s" and "fault: overcurrent" in labels
    assert [m[1] for m in plot._marks(dict(res, runtime="cpython"))] == [
        "intended end 60 s",
        "fault: overcurrent",
    ]
    assert sessionplot.STATE_COLOURS["RAMP_UP"][0] != sessionplot.STATE_COLOURS["RAMP_DOWN"][0]
    assert plot._STATE_COLOURS["RAMP_UP"] != plot._STATE_COLOURS["RAMP_DOWN"]
    stopped = dict(session, end=dict(session["end"], state="STOPPED", reason="stopped"))
    stopped["events"] = session["events"] + [
        {"seq": 99, "kind": "state", "t_s": 20.0, "state": "RAMP_DOWN"}
    ]
    assert (20.0, "stop (stopped)") in [(m[0], m[1]) for m in sessionplot.marks(stopped)]
    sessionplot.plot(stopped, 1, tmp_path / "s.png")  # draws with every mark
    assert (tmp_path / "s.png").stat().st_size > 1000
