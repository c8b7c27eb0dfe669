"""Golden files, where output is the contract (as mpremote's and pybricks' tests keep them):
`tvns simulate --json` of the default protocol and an excerpt of its VCD trace, compared
with host_tests/golden/*.exp line by line.

Only what legitimately varies is masked: the wall time, the firmware version (a release
bump is not a behaviour change) and the VCD's $date. The JSON is compared with sorted keys
(MicroPython's dict order is its own), one field or row per line, so a diff reads field by
field.

After an intended change, regenerate and review:
    TVNS_REGOLD=1 .venv/bin/python -m pytest host_tests/test_golden.py
    git diff host_tests/golden/
(refused under CI=true: CI compares, it never rewrites)."""

import json
import os
import pathlib
import re
import subprocess
import sys

import pytest
from tiers import in_ci

HERE = pathlib.Path(__file__).resolve().parent
GOLDEN = HERE / "golden"
DEFAULT = HERE.parent / "firmware" / "protocols" / "default.json"
REGOLD = os.environ.get("TVNS_REGOLD", "") == "1"
VCD_HEAD_LINES = 130  # header, the first pulses, the first 0.1 mA ramp step
VCD_TAIL_LINES = 30  # the last train (the ramp down begins in OFF: no pulses) and the end


def _tvns(*args):
    r = subprocess.run(
        [sys.executable, "-m", "tvns_tools.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    return r.stdout


def _compare(name, text):
    path = GOLDEN / name
    if REGOLD:
        if in_ci():
            pytest.fail("TVNS_REGOLD=1 under CI=true: golden files are only rewritten by hand")
        path.write_text(text)
    assert path.exists(), "no %s: run with TVNS_REGOLD=1 and review the new file" % path
    expected = path.read_text().splitlines()
    got = text.splitlines()
    for i, (e, g) in enumerate(zip(expected, got)):
        assert g == e, "%s line %d: got %r, expected %r (TVNS_REGOLD=1 to accept)" % (
            name,
            i + 1,
            g,
            e,
        )
    assert len(got) == len(expected), "%s: %d lines, expected %d" % (
        name,
        len(got),
        len(expected),
    )


def _mask_summary(doc):
    doc = dict(doc)
    doc["wall_s"] = "<wall time>"
    doc["firmware_version"] = "<version>"
    return doc


def _render(doc):
    """Valid JSON, sorted keys, one top-level field per line and one row per line for lists
    of rows (states, segments): a change shows up as the one line it touches."""
    out = []
    for k in sorted(doc):
        v = doc[k]
        if isinstance(v, list) and v and all(isinstance(x, list) for x in v):
            rows = ",\n  ".join(json.dumps(x) for x in v)
            out.append("%s: [\n  %s\n ]" % (json.dumps(k), rows))
        else:
            out.append("%s: %s" % (json.dumps(k), json.dumps(v, sort_keys=True)))
    return "{\n " + ",\n ".join(out) + "\n}\n"


def test_simulate_json_of_the_default_protocol_matches_its_golden_file():
    doc = json.loads(_tvns("simulate", DEFAULT, "--json"))
    assert doc["runtime"] == "micropython"  # the command's default runtime
    assert isinstance(doc["wall_s"], float) and doc["wall_s"] >= 0
    _compare("simulate_default.json.exp", _render(_mask_summary(doc)))


def test_vcd_excerpt_of_the_default_protocol_matches_its_golden_file(tmp_path):
    vcd = tmp_path / "trace.vcd"
    _tvns("simulate", DEFAULT, "--vcd", vcd)
    lines = vcd.read_text().splitlines()
    assert lines[0].startswith("$date ") and lines[0].endswith(" $end")
    lines[0] = "$date <masked> $end"
    lines[1] = re.sub(r"firmware \S+ ", "firmware <version> ", lines[1])
    text = "# %d lines; the first %d and the last %d:\n" % (
        len(lines),
        VCD_HEAD_LINES,
        VCD_TAIL_LINES,
    )
    text += "\n".join(lines[:VCD_HEAD_LINES]) + "\n...\n"
    text += "\n".join(lines[-VCD_TAIL_LINES:]) + "\n"
    _compare("default_trace.vcd.exp", text)
