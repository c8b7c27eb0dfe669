"""start is all-or-nothing (SAFETY.md H43); the log says what will be delivered and refuses
a session it cannot record (H44); flash writes wait for a moment without output (H41);
each session counts its own pulses (H24)."""

import json

import pytest
from sim_support import doc, loop
from tvns import errors as E
from tvns import session as S
from tvns.app import App
from tvns.board.sim import SimBoard
from tvns.console import Console
from tvns.log import Log

SHORT = doc(session_s=20, ramp_up_s=2, ramp_down_s=2, on_s=5, off_s=5)


def _armed(tmp_path, d=SHORT, **kw):
    board = SimBoard(**kw)
    log = Log(str(tmp_path / "log.jsonl"), sync=False)
    app = App(board, log)
    app.load(d)
    app.arm()
    return board, app, log


def _kinds(log):
    return [r["kind"] for r in log.records()]


def _unchanged(board, app, log, before):
    assert app.session.state == S.ARMED
    assert board.store.get("active") is None
    assert app.exposure_used_ms() == 0 and not app._was_running
    assert not board.engine.gated and board.dac.value_ua == 0
    assert _kinds(log) == before
    loop(app, 5000)  # and nothing happens later either: no session to close
    assert _kinds(log) == before and app.exposure_used_ms() == 0
    assert app.session.state == S.ARMED


def _boom(exc):
    def fail(*_a, **_k):
        raise exc

    return fail


STEPS = {
    # step that fails -> how
    "allocation": lambda b, a: b.store.put("allocation", None),
    "schedule": lambda b, a: setattr(a.scheduler, "use_arm", _boom(MemoryError())),
    "engine": lambda b, a: setattr(b.engine, "load", _boom(E.TvnsError(E.PULSE_FIT, "x"))),
    "store": lambda b, a: setattr(b.store, "_write", _boom(OSError(28, "full"))),
    "log": lambda b, a: setattr(a.log, "_f", _Full()),
}


class _Full:
    def write(self, _b):
        raise OSError(28, "No space left on device")

    def flush(self):
        pass

    def close(self):
        pass

    def fileno(self):
        return -1


@pytest.mark.parametrize("step", list(STEPS))
def test_a_start_that_fails_at_any_step_changes_nothing(tmp_path, step):
    d = dict(SHORT, blinded=True)
    board = SimBoard()
    board.store.put("allocation", "active")
    log = Log(str(tmp_path / "log.jsonl"), sync=False)
    app = App(board, log)
    app.load(d)
    app.arm()
    app.service()  # the ARMED state record
    before = _kinds(log)
    STEPS[step](board, app)
    with pytest.raises((E.TvnsError, MemoryError)):
        app.start()
    if step == "store":
        assert board.store.damaged  # the store is locked now; nothing else changed
        board.store.damaged = None
    if step == "log":
        log._f = open(log.path, "ab")
        log._torn = False
        app.journal.failed = None
    _unchanged(board, app, log, before)


def test_a_start_that_fails_after_output_began_is_a_fault_with_the_books_closed(tmp_path):
    board, app, log = _armed(tmp_path)
    board.ticker.start = _boom(RuntimeError("no timer"))
    with pytest.raises(RuntimeError):
        app.start()
    assert not board.engine.gated and board.dac.value_ua == 0
    app.service()
    assert app.session.state == S.FAULT and app.status()["fault"] == "exception"
    assert board.store.get("active") is None
    end = [r for r in log.records() if r["kind"] == "session_end"][-1]
    assert end["duration_s"] == 0 and app.exposure_used_ms() == 0


def test_the_log_states_the_amplitude_a_lower_ceiling_will_deliver(tmp_path):
    board, app, log = _armed(tmp_path, doc(amplitude_ma=2.0, session_s=30))
    out = []
    con = Console(app, out.append)
    con.feed(b'{"id": 1, "cmd": "set_ceiling", "ceiling_ma": 1.2}\n')  # in ARMED
    assert json.loads(out[-1])["ok"] and app.session.state == S.ARMED
    app.start()
    loop(app, 32000)
    recs = list(log.records())
    assert [r["kind"] for r in recs[:2]] == ["session_start", "amplitude"]
    assert recs[1]["amplitude_ma"] == 1.2 and recs[1]["source"] == "ceiling"
    assert recs[0]["protocol"]["amplitude_ma"] == 2.0
    assert max(s[3] for s in board.engine.drain([], flush=True)) <= 1200


def test_each_session_counts_its_own_pulses(tmp_path):
    board, app, log = _armed(tmp_path)
    app.start()
    loop(app, 21000)
    first = app.status()["pulses"]
    assert first > 0
    app.load(SHORT)
    app.arm()
    app.start()
    loop(app, 21000)
    ends = [r for r in log.records() if r["kind"] == "session_end"]
    assert [e["pulses"] for e in ends] == [first, first]  # not 2 x first
    assert app.status()["pulses"] == first
    assert ends[1]["charge_uc"] == ends[0]["charge_uc"] > 0


def test_arm_refuses_when_the_log_cannot_take_a_record(tmp_path):
    board = SimBoard()
    log = Log(str(tmp_path / "log.jsonl"), sync=False)
    app = App(board, log)
    app.load(SHORT)
    app.journal.free_bytes = lambda: 4096  # a nearly full flash
    with pytest.raises(E.TvnsError) as exc:
        app.arm()
    assert exc.value.code == E.LOG_UNAVAILABLE and app.session.state == S.IDLE
    app.journal.free_bytes = lambda: 1 << 20
    app.journal.failed = "write failed ([Errno 5] EIO)"  # the last write failed
    out = []
    con = Console(app, out.append)
    con.feed(b'{"id": 1, "cmd": "status"}\n{"id": 2, "cmd": "hello"}\n')
    st_, hello = (json.loads(x) for x in out)
    assert st_["log"]["ok"] is False and hello["log"]["error"].startswith("write failed")
    con.feed(b'{"id": 3, "cmd": "arm"}\n')
    assert json.loads(out[-1])["error"]["code"] == E.LOG_UNAVAILABLE


def test_a_log_write_failure_mid_session_is_an_event_and_the_records_wait(tmp_path):
    board, app, log = _armed(tmp_path)
    out = []
    con = Console(app, out.append)
    app.start()
    good = log._f
    log._f = _Full()
    for _ in range(150):  # 15 s: RAMP_UP, ON, OFF (a flush, which fails), ON
        board.idle_ms(100)
        app.service()
        con.service()
    errs = [json.loads(x) for x in out if '"log_error"' in x]
    assert len(errs) == 1 and "No space" in errs[0]["error"]
    assert app.status()["log"]["errors"] >= 1 and app.journal.queue
    log._f = good
    log._torn = False
    loop(app, 10000)  # the session goes on; the records reach the log at its end
    kinds = _kinds(log)
    assert "session_start" in kinds and kinds[-1] == "session_end"
    assert [r["state"] for r in log.records() if r["kind"] == "state"][:4] == [
        "ARMED",
        "RAMP_UP",
        "ON",
        "OFF",
    ]


class _WriteWatch:
    """Wraps the log file: records each write with whether the gate was open."""

    def __init__(self, f, engine, app):
        self.f, self.engine, self.app = f, engine, app
        self.writes = []

    def write(self, b):
        self.writes.append((self.engine.gated, S.NAMES[self.app.session.state]))
        return self.f.write(b)

    def __getattr__(self, name):
        return getattr(self.f, name)


@pytest.mark.parametrize("off_s", [5, 0])
def test_no_flash_write_while_output_may_be_on(tmp_path, off_s):
    from tvns.store import FileStore

    d = doc(session_s=60, ramp_up_s=3, ramp_down_s=3, on_s=10, off_s=off_s)
    board = SimBoard()
    board.store = FileStore(str(tmp_path / "state.json"), sync=False)
    log = Log(str(tmp_path / "log.jsonl"), sync=False)
    app = App(board, log)
    app.lock.set_pin("123456", None)
    app.load(d, "123456")
    app.arm()
    app.start()
    watch = _WriteWatch(log._f, board.engine, app)
    log._f = watch
    store_writes = []
    real_write = board.store._write

    def store_write(data):
        store_writes.append((board.engine.gated, S.NAMES[app.session.state]))
        real_write(data)

    board.store._write = store_write
    loop(app, 6000)
    with pytest.raises(E.TvnsError):  # a wrong PIN mid-session: its count waits in RAM
        app.lock.check("000000")
    assert not store_writes and board.store.dirty
    loop(app, 56000)
    assert app.session.state == S.DONE
    assert watch.writes and not any(gated for gated, _s in watch.writes)
    assert store_writes and not any(gated for gated, _s in store_writes)
    states = {s for _g, s in watch.writes + store_writes}
    assert states <= {"OFF", "DONE"}, states  # in OFF phases, or after the session
    assert ("OFF" in states) == bool(off_s)
    assert FileStore(str(tmp_path / "state.json")).get("pin_fails") == 1
    recs = list(log.records())
    assert recs[0]["kind"] == "session_start" and recs[-1]["kind"] == "session_end"
