"""The daily exposure cap (SAFETY.md H11): a rolling 24 h window in the device's own
monotonic time, whatever the wall clock says. set_time (no PIN) is information for the log;
across a reboot no time is assumed to have passed; only the investigator's confirmation of
the clock (set_time with the PIN) moves device time forward."""

import json

import pytest
from sim_support import doc, loop
from tvns import errors as E
from tvns import limits as L
from tvns import session as S
from tvns.app import App
from tvns.board.sim import SimBoard
from tvns.console import Console
from tvns.exposure import CAP_MS, WINDOW_S

T0 = 1_779_930_000  # a Thursday in 2026, 01:00 UTC
HOUR = doc(session_s=3600, on_s=30, off_s=30)
SHORT = doc(session_s=10, ramp_up_s=1, ramp_down_s=1)
PIN = "246810"


def _session(app, d=HOUR, pin=None):
    app.load(d, pin)
    app.arm()
    app.start()
    loop(app, d["session_s"] * 1000 + 1000)
    assert app.session.state == S.DONE


def _refused(app, d=SHORT, pin=None):
    app.load(d, pin)
    with pytest.raises(E.TvnsError) as exc:
        app.arm()
    assert exc.value.code == E.EXPOSURE_CAP and exc.value.field == "session_s"
    assert app.session.state != S.ARMED


def _four_hours(app):
    app.set_time(T0)
    for _ in range(L.DAILY_EXPOSURE_MAX_S // 3600):
        _session(app)
    assert app.exposure_used_ms() == CAP_MS


def test_set_time_back_a_year_or_forward_a_day_never_reopens_the_cap():
    board = SimBoard()
    app = App(board)
    _four_hours(app)
    _refused(app)
    for unix_s in (T0 - 365 * 86400, T0 + 86400, T0 + 86400 * 2, T0 + 10 * 365 * 86400):
        app.set_time(unix_s)  # no PIN: the host's clock is information, not authority
        _refused(app)
    app = App(board)  # a reboot, then the clock a day on
    app.set_time(T0 + 86400 * 2)
    _refused(app)


def test_set_time_mid_session_changes_nothing():
    board = SimBoard()
    app = App(board)
    app.set_time(T0)
    app.load(HOUR)
    app.arm()
    app.start()
    loop(app, 600_000)
    before = app.exposure.record()
    app.set_time(T0 - 365 * 86400)  # served while stimulating, and changes nothing
    app.set_time(T0 + 3 * 86400)
    assert app.exposure.record() == before and app.exposure_used_ms() == 0
    with pytest.raises(E.TvnsError) as exc:  # a confirmation waits for the session's end
        app.set_time(T0 + 86400, pin=PIN)
    assert exc.value.code == E.BUSY
    loop(app, 3_001_000)
    assert app.exposure_used_ms() == 3600 * 1000


def test_the_window_rolls_in_device_time_within_one_boot():
    board = SimBoard()
    app = App(board)
    _four_hours(app)
    _refused(app)
    # Sessions ended at about 1, 2, 3 and 4 h of device time. 20 h later all four are in
    # the window, whatever the clock was set to meanwhile; one hour more and the first left.
    for _ in range(20):
        board.idle_ms(3600_000)
        app.service()
        app.set_time(T0 - 365 * 86400)
    _refused(app)
    board.idle_ms(3600_000)
    app.service()
    assert app.exposure_used_ms() == 3 * 3600 * 1000
    app.load(doc(session_s=3600))
    app.arm()
    assert app.session.state == S.ARMED


def test_across_reboots_no_time_is_assumed_to_pass():
    board = SimBoard()
    app = App(board)
    _four_hours(app)
    for _ in range(3):
        board.idle_ms(20 * 3600_000)  # 20 h of uptime, then a power cycle
        app.service()
        board.reset("power")
        app = App(board)  # uptime restarts at 0: the store's device time carries over
        app.set_time(T0 + 86400 * 7)
        _refused(app)
    # 60 h have passed in all, but device time only counts the 20 h of the last boot and
    # the time written with the last session: the cap holds until 24 h of device time.
    assert app.exposure.dev_s() < 4 * 3600 + 24 * 3600


def test_the_investigator_confirms_the_clock_with_the_pin():
    board = SimBoard()
    con_out = []
    app = App(board)
    con = Console(app, con_out.append)
    app.lock.set_pin(PIN, None)

    def ask(**req):
        n = len(con_out)
        con.feed((json.dumps(dict(req, id=1)) + "\n").encode())
        return json.loads(con_out[n])

    r = ask(cmd="set_time", unix_s=T0, pin=PIN)  # the first confirmation: an anchor
    assert r["ok"] and r["confirmed"] and r["advanced_s"] == 0
    for _ in range(4):
        _session(app, pin=PIN)
    _refused(app, pin=PIN)
    board.reset("power")  # the board is unplugged overnight
    app = App(board)
    con = Console(app, con_out.append)
    _refused(app, pin=PIN)
    assert not ask(cmd="set_time", unix_s=T0 + 86400 * 2, pin="135791")["ok"]  # wrong PIN
    r = ask(cmd="set_time", unix_s=T0 + 86400 * 2)  # the host's clock: no effect
    assert r["ok"] and r["confirmed"] is False
    _refused(app, pin=PIN)
    r = ask(cmd="set_time", unix_s=T0 + 86400 * 2, pin=PIN)
    assert r["ok"] and r["advanced_s"] > 86400
    assert app.exposure_used_ms() == 0
    app.load(HOUR, PIN)
    app.arm()
    # a confirmation backwards never moves device time back (nor forward)
    r = ask(cmd="set_time", unix_s=T0, pin=PIN)
    assert r["ok"] and r["advanced_s"] == 0


def test_an_interrupted_session_and_an_unconfirmed_reboot_keep_the_cap_full():
    board = SimBoard()
    app = App(board)
    app.set_time(T0)
    for _ in range(3):
        _session(app)
    app.load(HOUR)
    app.arm()
    app.start()
    loop(app, 60_000)
    board.reset("power")  # one minute in: counted in full at the next boot
    app = App(board)
    assert app.faults[0]["fault"] == "interrupted"
    assert app.exposure_used_ms() == CAP_MS
    assert app.exposure.entries[-1][1] == 3600 * 1000


def test_window_entries_stay_bounded_and_only_count_longer():
    board = SimBoard()
    app = App(board)
    tiny = doc(session_s=2, ramp_up_s=1, ramp_down_s=1, on_s=1, off_s=0)
    for _ in range(40):
        _session(app, tiny)
    rec = app.store.get("exposure")
    assert len(rec["entries"]) <= 16
    assert sum(ms for _e, ms in rec["entries"]) == app.exposure_used_ms() >= 40 * 2000
    assert WINDOW_S == 86400
