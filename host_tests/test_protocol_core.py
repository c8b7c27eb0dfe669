"""Protocol text, numbers and memory, in plain asserts: pytest collects them under CPython,
and mp_runner.py runs the same file under both MicroPython runtimes (test_micropython.py:
the PyPI one, and the board-numerics one with single floats and 31-bit small ints), so each
check holds wherever a protocol is judged. Only firmware modules are imported here.

Every protocol below goes through the text path (protocol.parse, or the console), the way a
file or a `load` request reaches the firmware: its numbers are read from their decimal text,
never from a float that the runtime has already rounded."""

import json

from sim_support import DEFAULT, doc
from tvns import errors as E
from tvns import protocol
from tvns import session as S
from tvns.app import App
from tvns.board.sim import SimBoard
from tvns.console import Console


def text_with(**raw):
    """The default protocol as JSON text, with fields replaced by raw JSON text."""
    parts = []
    for k in DEFAULT:
        v = raw[k] if k in raw else json.dumps(DEFAULT[k])
        parts.append('"%s": %s' % (k, v))
    for k in raw:
        if k not in DEFAULT:
            parts.append('"%s": %s' % (k, raw[k]))
    return "{" + ", ".join(parts) + "}"


def verdict(text):
    p, errs = protocol.parse(text)
    return p, [(e.field, e.code) for e in errs]


# ---- issue 17.1: values the board's single floats used to refuse ----
def test_values_single_floats_refused_are_valid_and_exact():
    for field, raw, units_attr, want in (
        ("amplitude_ma", "0.127", "amplitude_ua", 127),
        ("amplitude_ma", "0.251", "amplitude_ua", 251),
        ("amplitude_ma", "0.502", "amplitude_ua", 502),
        ("electrode_area_cm2", "0.3", "area_x100", 30),
        ("electrode_area_cm2", "0.53", "area_x100", 53),
        ("electrode_area_cm2", "0.54", "area_x100", 54),
        ("amplitude_ma", "1.27e-1", "amplitude_ua", 127),
        ("pulse_width_us", "2.5e2", "width_us", 250),
        ("pulse_width_us", "250.000", "width_us", 250),
    ):
        p, errs = verdict(text_with(**{field: raw}))
        assert p is not None and errs == [], (field, raw, errs)
        assert getattr(p, units_attr) == want, (field, raw, getattr(p, units_attr))
    p, errs = verdict(text_with(session_s="2.021", ramp_up_s="1", ramp_down_s="1"))
    assert p is not None and p.session_ms == 2021, errs


def test_resolution_is_exact_in_integer_units():
    for field, raw in (
        ("amplitude_ma", "1.0005"),
        ("amplitude_ma", "0.1270000000000000000001"),
        ("session_s", "600.0001"),
        ("electrode_area_cm2", "1.005"),
        ("frequency_hz", "25.0001"),
        ("pulse_width_us", "250.5"),
        ("on_s", "1e-400"),
    ):
        p, errs = verdict(text_with(**{field: raw}))
        assert p is None and errs == [(field, E.RESOLUTION)], (field, raw, errs)


# ---- issue 10.8: huge numbers are out of range, never an overflow ----
def test_huge_numbers_are_out_of_range_naming_the_field():
    cases = [(f, "1e306") for f in ("amplitude_ma", "on_s", "ramp_up_s", "ramp_down_s")]
    cases += [
        ("keepalive_s", "1e306"),
        ("electrode_area_cm2", "1e307"),
        ("session_s", "1e300"),
        ("off_s", "-1e306"),
        ("frequency_hz", "1E+99999999999999999999"),
        ("interphase_gap_us", "9" * 3000),
        ("pulse_width_us", "1" + "0" * 400 + ".5"),
    ]
    for field, raw in cases:
        p, errs = verdict(text_with(**{field: raw}))
        assert p is None and (field, E.OUT_OF_RANGE) in errs, (field, raw[:20], errs)
        assert [f for f, _c in errs] == [field], errs


def test_not_finite_tokens_are_named():
    for raw in ("NaN", "Infinity", "-Infinity"):
        p, errs = verdict(text_with(amplitude_ma=raw))
        assert p is None and errs == [("amplitude_ma", E.NOT_FINITE)], (raw, errs)


# ---- issue 10.9: a key given twice is an error ----
def test_duplicate_keys_are_refused():
    text = text_with()[:-1] + ', "amplitude_ma": 5}'
    p, errs = verdict(text)
    assert p is None and errs == [("amplitude_ma", E.DUPLICATE_FIELD)], errs
    text = '{"name": "a", ' + text_with()[1:]
    p, errs = verdict(text)
    assert p is None and ("name", E.DUPLICATE_FIELD) in errs, errs


# ---- strict JSON: the same verdict whatever the runtime's json would allow ----
def test_strict_json_on_every_runtime():
    base = text_with()
    for bad in (
        base[:-1] + ",}",  # trailing comma (MicroPython's json accepts it)
        base.replace(', "name"', ' "name"'),  # missing comma (likewise)
        base.replace('"schema": 1', '"schema" 1'),  # missing colon (likewise)
        base.replace('"schema": 1', '"schema": 01'),  # leading zero
        base.replace('"amplitude_ma": 1.0', '"amplitude_ma": 1.'),
        base.replace('"amplitude_ma": 1.0', '"amplitude_ma": .5'),
        base.replace('"t"', '"\\ud83d"'),  # a lone surrogate escape
        base.replace('"t"', '"a\tb"'),  # a raw control character in a string
        base + " x",
    ):
        p, errs = verdict(bad)
        assert p is None and errs[0][1] == E.JSON, (bad, errs)
    for raw in (b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xff"):
        bad = base.encode().replace(b'"t"', b'"' + raw + b'"')
        p, errs = verdict(bad)
        assert p is None and errs == [(None, E.JSON)], (raw, errs)


# ---- issue 10.13: one rule for names on both sides: printable ASCII ----
def test_names_are_printable_ascii():
    for name in ("x" * 64, "tragus 25 Hz, 250 us (sham-controlled) #3", " ~!"):
        p, errs = verdict(text_with(name=json.dumps(name)))
        assert p is not None and p.name == name, (name, errs)
    for raw in (
        '"' + "\\ud83d\\ude00" * 40 + '"',  # 40 emoji, escaped: refused on both sides
        '"\\ud83d\\ude00"',
        '"caf\\u00e9"',
        '"line\\nbreak"',
        '"x' + "y" * 64 + '"',
        '""',
    ):
        p, errs = verdict(text_with(name=raw))
        assert p is None and errs == [("name", E.OUT_OF_RANGE)], (raw, errs)
    # the same rule on the dict path
    assert protocol.validate(doc(name="\U0001f600"))[0] is None


# ---- the console judges a protocol on the text the host sent ----
def _console():
    app = App(SimBoard())
    out = []
    return Console(app, out.append), app, out


def _ask(con, out, line):
    n = len(out)
    con.feed(line.encode() + b"\n")
    got = [json.loads(x) for x in out[n:]]
    got = [r for r in got if "event" not in r]
    assert len(got) == 1, got
    return got[0]


def test_console_load_judges_the_protocol_text_as_sent():
    con, app, out = _console()
    text = text_with(amplitude_ma="0.127")
    for proto in (text, json.dumps(text)):  # an object, or the file's text as a string
        r = _ask(con, out, '{"id": 1, "cmd": "load", "protocol": %s}' % proto)
        assert r["ok"] and r["derived"]["charge_per_phase_uc"] == 0.03175, r
    assert app.protocol.amplitude_ua == 127
    good = app.protocol
    dup = text_with()[:-1] + ', "amplitude_ma": 5}'
    for proto in (dup, json.dumps(dup)):
        r = _ask(con, out, '{"id": 2, "cmd": "load", "protocol": %s}' % proto)
        assert not r["ok"] and r["error"]["code"] == E.DUPLICATE_FIELD, r
        assert r["error"]["field"] == "amplitude_ma"
    for proto in (text_with(amplitude_ma="1e306"), text_with(electrode_area_cm2="1e307")):
        r = _ask(con, out, '{"id": 3, "cmd": "load", "protocol": %s}' % proto)
        assert not r["ok"] and r["error"]["code"] == E.OUT_OF_RANGE, r  # not `internal`
    assert app.protocol is good and app.session.state == S.IDLE


def test_dict_path_reads_numbers_as_written():
    # tests and host tools pass dicts: a float is read as its shortest decimal text
    for field, value, attr, want in (
        ("amplitude_ma", 0.127, "amplitude_ua", 127),
        ("electrode_area_cm2", 0.53, "area_x100", 53),
        ("frequency_hz", 33.333, "period_us", 30000),
    ):
        p, errs = protocol.validate(doc(**{field: value}))
        assert p is not None and getattr(p, attr) == want, (field, errs)
    assert protocol.validate(doc(session_s=10**30))[1][0].code == E.OUT_OF_RANGE


# ---- issue 10.10: schedule and figures in O(1) memory; a failed load changes nothing ----
FAST_TRAINS = text_with(on_s="0.1", off_s="0.1", session_s="3600", ramp_up_s="5")


def test_long_protocol_loads_in_constant_memory():
    # 0.1 s on / 0.1 s off for an hour: 17,950 trains, and no list of them anywhere
    p, errs = verdict(FAST_TRAINS)
    assert p is not None, errs
    d = p.derived()
    # By hand: the gate opens at 0.5 s (1 mA in 10 steps of 0.5 s) and the ramp runs into the
    # first train until 5.1 s: 4.6 s at 40 ms -> 115 pulses. Trains 1..17949 of 0.1 s: 3 each
    # (0, 40, 80 ms). The ramp down begins at 3595 s, where a new ON phase would (3590 s is
    # 17950 cycles of 0.2 s): live, on its own, until its last step at 3599.5 s: 4.5 s -> 113.
    assert d["pulses_total"] == 115 + 17949 * 3 + 113
    assert d["stim_s"] == 1804.0  # 4.6 + 17949 x 0.1 + 4.5 s
    import micropython

    if hasattr(micropython, "mem_total"):  # MicroPython: what working them out allocates
        used = []
        for q in (p, verdict(text_with())[0]):  # this hour of short trains; the default
            q._derived = None  # not the cached figures: work them out again
            before = micropython.mem_total()
            q.derived()
            used.append(micropython.mem_total() - before)
        # the same few KB (small big ints of the exact figures) for 17,950 trains as for 10;
        # a list of the windows took over 500 KB
        assert used[0] < used[1] + 1000 and used[0] < 16000, used


def test_failed_load_changes_nothing():
    from tvns import schedule

    app = App(SimBoard())
    good = app.load(doc())
    app.arm()
    sch = app.scheduler
    before = (app.protocol, sch.protocol, sch.sched, app.session.state)
    engine = (app.board.engine.width_us, app.board.engine.period_us)
    real = schedule.pulse_count

    def no_memory(_p, _plan=None):
        raise MemoryError("memory allocation failed")

    schedule.pulse_count = no_memory
    try:
        app.load(doc(amplitude_ma=2, pulse_width_us=300, frequency_hz=30))
        raise AssertionError("load went through without its figures")
    except MemoryError:
        pass
    finally:
        schedule.pulse_count = real
    assert (app.protocol, sch.protocol, sch.sched, app.session.state) == before
    assert (app.board.engine.width_us, app.board.engine.period_us) == engine
    assert app.protocol is good and app.session.state == S.ARMED


# ---- issue 17.6: integer times in RAM, bounded fault history ----
def test_events_and_faults_keep_integer_ms_and_the_history_is_bounded():
    from sim_support import loop, started

    board, app = started(doc(session_s=20, on_s=2, off_s=1, ramp_up_s=2, ramp_down_s=2))
    loop(app, 6000)
    assert app.events  # state changes waiting for the console
    for ev in app.events:
        assert type(ev.get("t_ms")) is int and "t_s" not in ev, ev
        for v in ev.values():
            assert type(v) is not float, ev  # a float is a heap object on a board
    # the console writes seconds, as PROTOCOL.md says
    out = []
    con = Console(app, out.append)
    con.service()
    lines = [json.loads(x) for x in out]
    assert lines and all(type(x["t_s"]) is float for x in lines if x.get("event") == "state")
    for _ in range(100):  # a fault storm: the list keeps the newest, the count all
        app._record_fault(2, 1234, latched=False)
    assert len(app.faults) <= 16 and app.faults_total == 100
    assert app.faults[-1] == {"fault": "lead_off", "t_ms": 1234, "latched": False}


def test_the_usual_protocol_and_request_take_the_fast_paths():
    # the C-method paths (jsonscan._flat, _span_flat, units' partition) serve the common
    # case; test_numerics.py checks them against the byte-by-byte scanner
    from tvns import jsonscan

    text = text_with(amplitude_ma="0.127").encode()
    got = jsonscan._flat(text)
    assert got is not None and got[0]["amplitude_ma"].text == "0.127" and got[1] == []
    line = b'{"id": 1, "cmd": "load", "protocol": ' + text + b"}"
    assert jsonscan._span_flat(line, "protocol") == (line.index(b"{", 1), len(line) - 1)
    assert jsonscan._flat(text.replace(b'"t"', b'"a\\u0062"')) is None  # escapes: full scan
    # long runs between strings are the full scanner's (a regex on them would recurse deep)
    spaced = text_with(amplitude_ma=" " * 3000 + "0.127").encode()
    assert jsonscan._flat(spaced) is None
    p, errs = verdict(spaced)
    assert p is not None and p.amplitude_ua == 127, errs
