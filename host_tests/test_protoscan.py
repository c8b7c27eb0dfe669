"""The one-pass judge of the usual protocol (tvns/protoscan.py, protocol._fast: docs/SPEED.md
"load") never gives another verdict or other values than the full path (jsonscan, then the
structural checks and the limits): over generated texts (every field's spellings, duplicate,
unknown and missing fields, whitespace, escapes, names, byte-level damage), each protocol it
accepts is one the full path accepts with the same values, figures and document, and
anything else is left to the full path, which words every error. Checked on CPython and on
both MicroPython runtimes (the viper machine code there), each runtime judging a batch in
one process (mp_protoscan.py)."""

import json
import pathlib
import random
import sys

import mp_protoscan
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sim_support import DEFAULT
from test_numerics import mp_batch
from tiers import require
from tvns_tools.firmware import micropython_binary, numerics_binary

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "firmware"))

from tvns import protocol  # noqa: E402

WORST = dict(
    DEFAULT,
    name="worst-1h-100hz-0.1on-0.1off",
    frequency_hz=100,
    pulse_width_us=200,
    on_s=0.1,
    off_s=0.1,
    ramp_up_s=1,
    ramp_down_s=1,
    session_s=3600,
)
NUMBERS = [
    "0", "1", "2", "1.0", "1.000", "1.0000000000", "01", "1.", ".5", "1e0", "1E3", "1e-3",
    "-1", "+1", "0.0", "00", "1.5.2", "123456789", "1234567890", "0.000000001",
    "0.123456789", "999999999", "0.1", "0.5", "0.001", "0.0005", "25.6", "3600", "3600.000",
    "NaN", "Infinity", "-Infinity", "true", "false", "null", '"1"', "[1]", "{}", "1x", "",
]  # fmt: skip
NAMES = [
    '"a"', '""', '"' + "x" * 64 + '"', '"' + "x" * 65 + '"', '"\\u0041b"', '"caf\xe9"',
    '"tab\there"', '"\x01"', '"a\\"b"', '"~ok ok~"', "1", "null", '"a', "\"it's\"",
]  # fmt: skip
BOOLS = ["true", "false", "True", "1", "null", '"true"', "tru", "falsey"]
SPACES = [" ", "", "\t", "\n", "\r\n", "  ", "\x0b", "\xa0", "\x0c"]
EXTRA = [
    ("keepalive_s", ["0", "0.5", "5", "60", "1e1", "-1", "3601"]),
    ("blinded", BOOLS),
    ("trigger", ['{"source": "ttl"}', "{}", "1"]),
    ("color", ['"red"']),
    ("Schema", ["1"]),
]


def _num(rnd, value):
    r = rnd.random()
    if r < 0.5:
        return json.dumps(value)
    if r < 0.8:
        return rnd.choice(NUMBERS)
    places = rnd.randint(0, 10)
    return "%.*f" % (places, value * rnd.choice((1, 1, 0.5, 2, 10, 0.1, 1.0001, 1000)))


def _text(rnd):
    base = dict(rnd.choice((DEFAULT, WORST)))
    members = []
    for key, value in base.items():
        if rnd.random() < 0.01:
            continue  # missing
        if rnd.random() < 0.9:
            v = json.dumps(value)
        elif key == "name":
            v = rnd.choice(NAMES)
        elif key == "sham":
            v = rnd.choice(BOOLS)
        else:
            v = _num(rnd, value)
        members.append((json.dumps(key), v))
        if rnd.random() < 0.005:
            members.append((json.dumps(key), _num(rnd, 1) if key != "name" else '"b"'))
    for key, spellings in EXTRA:
        if rnd.random() < 0.04:
            members.insert(rnd.randrange(len(members) + 1), ('"%s"' % key, rnd.choice(spellings)))
    rnd.shuffle(members) if rnd.random() < 0.3 else None

    def sp():
        return rnd.choice(SPACES) if rnd.random() < 0.03 else rnd.choice((" ", ""))

    text = sp() + "{" + ",".join(sp() + k + sp() + ":" + sp() + v + sp() for k, v in members)
    text += sp() + "}" + sp()
    for _ in range(rnd.choice((0, 0, 0, 0, 0, 0, 1, 2))):  # byte-level damage
        i = rnd.randrange(len(text) + 1)
        what = rnd.random()
        if what < 0.4:
            text = text[:i] + text[i + 1 :]
        else:
            text = text[:i] + rnd.choice('{}[],:"\\ .-e0129tfn\x00\xff') + text[i:]
    return text


def _texts(seed, n):
    rnd = random.Random(seed)
    return [json.dumps(DEFAULT), json.dumps(WORST)] + [_text(rnd) for _ in range(n)]


def _check_spans(got):
    """The protocol's span in a request line: the machine-code walk gives what the walk
    before it gave, for every line that is JSON."""
    for row in got:
        for line, fast, before in row[2]:
            try:
                json.loads(line)
            except ValueError:
                continue
            assert fast == before, line


def _check(texts, got):
    accepted = 0
    _check_spans(got)
    for text, (fast, full, *_spans) in zip(texts, got):
        if fast is not None:
            accepted += 1
            assert fast == full, (text, fast, full)
    assert got[0][0] is not None and got[1][0] is not None  # the usual protocols: one pass
    return accepted


def _judged(texts):
    return [
        json.loads(json.dumps(mp_protoscan.judge(t, c) + [mp_protoscan.spans(t)]))
        for t in texts
        for c in (10000, 1500)
    ]


@settings(
    max_examples=3,
    deadline=None,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=list(HealthCheck),
)
@given(st.integers(0, 2**32))
def test_one_pass_agrees_with_the_full_path_on_cpython(seed):
    texts = _texts(seed, 1500)
    got = _judged(texts)
    accepted = _check([t for t in texts for _c in (0, 1)], got)
    assert accepted > len(texts) // 20  # the generator reaches the accepting path


@pytest.mark.parametrize("which", ["pypi", "numerics"])
def test_one_pass_agrees_with_the_full_path_on_micropython(which, tmp_path):
    """The same texts judged by the viper machine code on each MicroPython runtime: the
    same answers as CPython's, fast and full."""
    runtime = micropython_binary() if which == "pypi" else require(numerics_binary(), "numerics")
    texts = _texts(which == "pypi", 800)
    got = mp_batch(runtime, texts, tmp_path, "mp_protoscan.py")
    assert len(got) == len(texts)
    _check(texts, got)
    want = [json.loads(json.dumps(mp_protoscan.judge(t) + [mp_protoscan.spans(t)])) for t in texts]
    assert got == want


def test_parse_takes_the_one_pass_for_the_usual_protocols():
    """The default protocol and the most demanding valid one (1 h at 100 Hz, 0.1 s on/off)
    are judged in one pass (the `load` bench measures them), spaced as a host sends them
    and as the files are written."""
    for doc in (DEFAULT, WORST):
        for text in (json.dumps(doc), json.dumps(doc, indent=2)):
            assert protocol._fast(text.encode(), 10000) is not None, text


def test_the_table_constants_are_the_fields_and_limits_of_today():
    """protoscan's constants (written out so the board builds nothing) are what the fields
    and the limits make: a new field or a changed limit fails here with the new text."""
    from tvns import checks, protoscan

    fields = protocol.fast_fields()
    numeric = [n[0] for n in checks.NUMERIC]
    names, table = protoscan.table(fields)
    k = {f[0]: protoscan.OUT * i for i, f in enumerate(fields)}
    at = tuple((f[0], k[f[0]]) for f in fields if f[0] in numeric)
    fix = "protoscan's constants are stale; put in:\n" + protoscan.table_text(fields, numeric)
    assert (protoscan.NAMES, protoscan.TABLE, protoscan.NUMERIC_AT) == (names, table, at), fix
    got = (protoscan.NAME_AT, protoscan.SHAM_AT, protoscan.BLINDED_AT, protoscan.OUT_WORDS)
    assert got == (k["name"], k["sham"], k["blinded"], protoscan.OUT * len(fields)), fix


def test_the_request_line_walk_takes_the_one_pass():
    from array import array

    from tvns import protoscan

    out = array("i", (0, 0))
    for env in mp_protoscan.ENVELOPES[:3]:
        line = (env % json.dumps(DEFAULT)).encode()
        assert protoscan.member(line, b"protocol", out) == 1, line
        assert json.loads(line[out[0] : out[1]]) == DEFAULT
    for env in mp_protoscan.ENVELOPES[3:]:  # twice, an escaped key, not an object
        assert protoscan.member((env % "{}").encode(), b"protocol", out) == 0, env


def test_the_load_reply_figures_are_derived_exactly():
    """The `load` reply's figures (Protocol.figures_json, written from integers without a
    float) read back as exactly derived()'s values, over the generated protocols."""
    seen = 0
    for text in _texts(11, 600):
        proto, _errs = protocol.parse(text)
        if proto is not None:
            seen += 1
            assert json.loads(proto.figures_json()) == proto.derived(), text
    assert seen > 100


def test_a_load_request_is_read_around_its_protocol():
    """Console._line reads a `load` request around a protocol object the one pass accepts:
    the request's other fields are what json.loads of the whole line gives, and the text
    handed to the validator is the protocol's own, byte for byte."""
    from tvns import console

    cut = 0
    for text in _texts(5, 300):
        for env in mp_protoscan.ENVELOPES:
            raw = (env % text).encode()
            span = console._protocol_span(raw)
            if span is None:
                continue
            cut += 1
            whole = apart = None
            try:
                whole = json.loads(raw)
            except ValueError:
                pass
            try:
                apart = json.loads(raw[: span[0]] + b"{}" + raw[span[1] :])
            except ValueError:
                pass
            assert (whole is None) == (apart is None), raw  # "request is not JSON" alike
            if whole is None:
                continue
            assert json.loads(span[2]) == whole["protocol"], raw
            whole["protocol"] = {}
            assert apart == whole, raw
    assert cut > 100


def _decimal(v, places):
    """v (integer units of 10**-places, >= 0) as the shortest plain decimal with places."""
    return "%d" % v if not places else "%d.%0*d" % (v // 10**places, places, v % 10**places)


def test_every_numeric_field_at_its_limits_is_judged_as_the_full_path_judges_it():
    """Each number field at its lowest and highest value, one unit past each, 0, and one
    decimal finer than its resolution, in a protocol otherwise the default or the worst:
    the one pass accepts only what the full path accepts, with the same values (the random
    texts above rarely reach a field's limits)."""
    from tvns import checks

    texts = []
    for name, places, lo, hi, _unit, _zero in checks.NUMERIC:
        spellings = [_decimal(v, places) for v in (lo, hi, lo - 1, hi + 1, 0) if v >= 0]
        spellings.append(_decimal(lo, places) + ("5" if places else ".5"))
        for base in (DEFAULT, WORST):
            for s in spellings:
                members = dict(base)
                members[name] = "@"
                texts.append(json.dumps(members).replace('"@"', s))
    got = _judged(texts)
    accepted = _check([t for t in texts for _c in (0, 1)], got)
    assert accepted >= len(checks.NUMERIC)  # the limits themselves take the one pass
