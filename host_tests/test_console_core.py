"""The console in-process: bytes in, reply lines out. Plain asserts, no pytest imports, so
mp_runner.py runs this same file under the MicroPython unix runtime (test_console.py)."""

import json

from console_support import HOSTILE
from tvns import errors as E
from tvns.app import LOOP_MS, App
from tvns.board.sim import SimBoard
from tvns.commands import LOG_REPLY_MAX, limits_digest
from tvns.console import Console


def _protocol():
    with open(_firmware() + "/protocols/default.json") as f:
        return json.load(f)


def _firmware():
    try:
        import os

        here = os.path.dirname(__file__)  # CPython
    except (ImportError, AttributeError):
        here = __file__.rsplit("/", 1)[0]
    return (here or ".") + "/../firmware"


def make():
    app = App(SimBoard())
    out = []
    con = Console(app, out.append)
    return con, app, out


def replies(out):
    return [json.loads(x) for x in out if "event" not in json.loads(x)]


def ask(con, out, **req):
    n = len(out)
    con.feed((json.dumps(req) + "\n").encode())
    got = [json.loads(x) for x in out[n:]]
    got = [r for r in got if "event" not in r]
    assert len(got) == 1, got
    return got[0]


def state_of(app):
    st = app.status()
    return (st["state"], st["amplitude_ma"], st["protocol"], st["pulses"], st["fault"])


def start_session(con, out):
    assert ask(con, out, id=1, cmd="load", protocol=_protocol())["ok"]
    assert ask(con, out, id=2, cmd="arm")["ok"]
    assert ask(con, out, id=3, cmd="start")["state"] == "RAMP_UP"


def advance(con, app, ms):
    board = app.board
    for _ in range(ms // LOOP_MS):
        board.idle_ms(LOOP_MS)
        app.service()
        con.service()


def test_hello_and_limits():
    con, app, out = make()
    r = ask(con, out, id="a", cmd="hello")
    assert r["ok"] and r["id"] == "a" and r["board"] == "sim" and r["version"]
    assert r["limits_crc"] == limits_digest() and len(r["limits_crc"]) == 8
    import gc

    if hasattr(gc, "mem_free"):  # MicroPython: the heap's free bytes, as gc sees them now
        free = gc.mem_free()
        assert type(r["heap_free"]) is int and 0 < r["heap_free"]
        assert abs(r["heap_free"] - free) < 65536, (r["heap_free"], free)
    else:  # CPython has no such heap
        assert "heap_free" in r and r["heap_free"] is None
    r = ask(con, out, id=2, cmd="limits")
    assert r["limits"]["CURRENT_MAX_UA"] == 10000 and r["limits_crc"] == limits_digest()


def test_lines_split_anywhere_each_answered_once():
    con, app, out = make()
    data = b'{"id": 1, "cmd": "status"}\n{"id": 2, "cmd": "hello"}\r\n\n{"id": 3, "cmd": "log"}\n'
    for i in range(len(data)):  # one byte at a time: partial lines wait for their newline
        con.feed(data[i : i + 1])
    assert [r["id"] for r in replies(out)] == [1, 2, 3]
    assert con.counts["blank"] == 1
    out.clear()
    con.feed(data)  # and all at once
    assert [r["id"] for r in replies(out)] == [1, 2, 3]


def _check_hostile(con, app, out, expect_busy_load):
    before = state_of(app)
    for data, code in HOSTILE:
        n = len(out)
        con.feed(data)
        got = [json.loads(x) for x in out[n:]]
        assert len(got) == 1, (data[:40], got)
        assert got[0]["ok"] is False and got[0]["error"]["code"] == code, (data[:40], got)
        assert state_of(app) == before, data[:40]
    r = ask(con, out, id=9, cmd="load", protocol=5)
    assert r["error"]["code"] == (E.BUSY if expect_busy_load else E.BAD_FIELD)
    assert state_of(app) == before
    assert ask(con, out, id=10, cmd="status")["ok"]


def test_hostile_input_idle():
    con, app, out = make()
    _check_hostile(con, app, out, False)


def test_hostile_input_while_stimulating():
    con, app, out = make()
    start_session(con, out)
    advance(con, app, 6000)
    assert app.status()["state"] == "ON"
    _check_hostile(con, app, out, True)


def test_overlong_line_in_chunks_replies_once_then_resyncs():
    con, app, out = make()
    for _ in range(100):
        con.feed(b"y" * 100)  # 10 KB, no newline yet
    assert len(out) == 1 and json.loads(out[0])["error"]["code"] == E.LINE_TOO_LONG
    con.feed(b'tail of the long line\n{"id": 5, "cmd": "hello"}\n')
    assert len(out) == 2 and json.loads(out[1])["ok"] and con.counts["overlong"] == 1


def test_policy_while_stimulating():
    con, app, out = make()
    start_session(con, out)
    advance(con, app, 6000)
    for cmd in ("load", "arm", "start", "clear"):
        r = ask(con, out, id=cmd, cmd=cmd, protocol=_protocol())
        assert r["error"]["code"] == E.BUSY, r
    for cmd in ("status", "hello", "limits", "log"):
        assert ask(con, out, id=cmd, cmd=cmd)["ok"]
    assert app.status()["state"] == "ON"
    assert ask(con, out, id="s", cmd="stop")["ok"]
    advance(con, app, 2000)
    assert app.status()["state"] == "STOPPED" and app.status()["amplitude_ma"] == 0


def test_invalid_protocol_names_every_field_and_changes_nothing():
    con, app, out = make()
    p = _protocol()
    p["pulse_width_us"] = 5000
    p["typo"] = 1
    r = ask(con, out, id=1, cmd="load", protocol=p)
    assert r["ok"] is False and r["error"]["field"] in ("pulse_width_us", "typo")
    assert {(e["field"], e["code"]) for e in r["errors"]} >= {
        ("pulse_width_us", "out_of_range"),
        ("typo", "unknown_field"),
    }
    assert app.status()["protocol"] is None
    assert ask(con, out, id=2, cmd="arm")["error"]["code"] == E.NO_PROTOCOL


def test_ctrl_c_byte_raises_keyboard_interrupt():
    con, app, out = make()
    start_session(con, out)
    try:
        con.feed(b'{"id": 1, "cmd": "sta\x03')
        raised = False
    except KeyboardInterrupt:
        raised = True
    assert raised


def test_whole_session_events_and_log():
    con, app, out = make()
    start_session(con, out)
    total = app.protocol.derived()["pulses_total"]
    advance(con, app, 601000)
    events = [json.loads(x) for x in out if "event" in json.loads(x)]
    states = [e["state"] for e in events if e["event"] == "state"]
    assert states[:3] == ["ARMED", "RAMP_UP", "ON"] and states[-1] == "DONE"
    end = [e for e in events if e["event"] == "session_end"]
    assert len(end) == 1 and end[0]["pulses"] == total and end[0]["state"] == "DONE"
    assert [e["seq"] for e in events] == list(range(len(events)))
    # the log hands the same records back in pages, following `next`
    since, got = 0, []
    while True:
        r = ask(con, out, id=1, cmd="log", since=since)
        assert len(r["records"]) <= LOG_REPLY_MAX
        if not r["records"]:
            break
        got += r["records"]
        since = r["next"]
    assert got == events[-len(got) :] and r["end"] == len(events)


def test_requests_sent_together_feed_the_watchdog_only_while_the_tick_lives():
    # load + arm + start in one read are answered in one main-loop pass: on the rp2 port they
    # outlast the 300 ms watchdog unless it is fed between them (docs/EMULATOR.md).
    con, app, out = make()
    p = _protocol()
    fed = app.board.wdt.feeds
    lines = [{"id": 1, "cmd": "load", "protocol": p}, {"id": 2, "cmd": "arm"}]
    lines.append({"id": 3, "cmd": "start"})
    con.feed(b"".join((json.dumps(r) + "\n").encode() for r in lines))
    got = replies(out)
    assert [r["ok"] for r in got] == [True, True, True], got
    assert app.board.wdt.feeds == fed + 3  # after each: the start's own first tick ran
    # Running, and no tick since: a request (or a flood of them) never feeds it.
    fed = app.board.wdt.feeds
    con.feed(b'{"id": 4, "cmd": "status"}\n{"id": 5, "cmd": "status"}\n')
    assert len(replies(out)) == 5
    assert app.board.wdt.feeds == fed


def test_the_log_written_at_a_sessions_end_feeds_the_watchdog_between_records():
    # A session's queued records are written in one pass at its end: on the rp2 port they
    # outlasted the 300 ms watchdog (docs/EMULATOR.md). Fed after each, while the tick lives.
    from tvns.journal import Journal

    class Log:
        def __init__(self):
            self.n = 0

        def append(self, kind, fields):
            self.n += 1

    j = Journal(Log())
    j.queue.extend([("state", {}), ("trigger", {}), ("state", {})])
    calls = []
    assert j.flush(lambda: calls.append(j.log.n)) is True
    assert calls == [1, 2, 3] and not j.queue


def test_a_reply_given_as_json_text_keeps_the_handlers_other_members():
    """commands.RAW_JSON (the `load` reply's figures, written from integers) is put in as it
    is; a member the handler gives beside it is not dropped. (No monkeypatch: the MicroPython
    tier runs this file too.)"""
    from tvns import commands

    con, _app, out = make()
    hello = commands.COMMANDS["hello"]
    try:
        commands.COMMANDS["hello"] = lambda c, r: {commands.RAW_JSON: '"a": [1, 2]', "b": "x"}
        assert ask(con, out, id=7, cmd="hello") == {"id": 7, "ok": True, "a": [1, 2], "b": "x"}
        commands.COMMANDS["hello"] = lambda c, r: {commands.RAW_JSON: '"a": 1'}
        assert ask(con, out, id=8, cmd="hello") == {"id": 8, "ok": True, "a": 1}
    finally:
        commands.COMMANDS["hello"] = hello
