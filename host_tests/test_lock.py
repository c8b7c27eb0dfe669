"""The investigator lock (SAFETY.md H25): PBKDF2-HMAC-SHA256 equal to CPython's, PINs of at
least 6 characters, the lock-out right at any uptime (across the 12.4-day ticks wrap and
at weeks), and Ctrl-C kept from the REPL while a PIN is set."""

import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sim_support import doc, loop
from tvns import errors as E
from tvns import lock as K
from tvns import session as S
from tvns.app import App
from tvns.board.sim import SimBoard
from tvns.console import Console
from tvns.pbkdf2 import hmac_sha256, pbkdf2_sha256

PIN = "271828"
DAY_MS = 86_400_000
WRAP_MS = 1 << 30  # time.ticks_ms() wraps here (12.4 days)


@settings(max_examples=60, deadline=None)
@given(
    password=st.binary(max_size=100),  # keys past the 64-byte block are hashed first
    salt=st.binary(max_size=40),
    iterations=st.integers(1, 40),
    dklen=st.integers(1, 70),
)
def test_pbkdf2_equals_cpython_hashlib(password, salt, iterations, dklen):
    want = hashlib.pbkdf2_hmac("sha256", password, salt, iterations, dklen)
    assert pbkdf2_sha256(password, salt, iterations, dklen) == want


def test_hmac_equals_cpython_hmac():
    import hmac

    for key in (b"", b"k", b"x" * 64, b"y" * 65, b"z" * 200):
        msg = b"the quick brown fox" * 3
        assert hmac_sha256(key, msg) == hmac.new(key, msg, "sha256").digest()


def test_pin_record_is_pbkdf2_with_the_tuned_iterations():
    rec = K.pin_record(PIN)
    assert rec["alg"] == "pbkdf2-sha256" and rec["iter"] == K.PIN_ITERATIONS >= 1000
    want = hashlib.pbkdf2_hmac("sha256", PIN.encode(), bytes.fromhex(rec["salt"]), rec["iter"])
    assert rec["hash"] == want.hex()
    assert K.verify_record(rec, PIN) and not K.verify_record(rec, "271829")


def _locked_out_app(start_us=0):
    board = SimBoard(start_us=start_us)
    app = App(board)
    app.lock.set_pin(PIN, None)
    for _ in range(3):
        with pytest.raises(E.TvnsError) as exc:
            app.lock.check("000000")
        assert exc.value.code == E.BAD_PIN
    return board, app


def _code(app, pin):
    try:
        app.lock.check(pin)
        return None
    except E.TvnsError as exc:
        return exc.code


def _advance(board, app, ms, step_ms=DAY_MS):
    """The main loop runs (every pass updates the uptime); big steps between passes."""
    while ms > 0:
        board.idle_ms(min(ms, step_ms))
        app.service()
        ms -= step_ms


def test_lock_out_across_the_ticks_wrap():
    board, app = _locked_out_app(start_us=(WRAP_MS - 10_000) * 1000)  # 10 s before the wrap
    _advance(board, app, K.PIN_LOCK_MS - 200, 100)
    assert _code(app, PIN) == E.PIN_LOCKED_OUT
    _advance(board, app, 200, 100)
    assert _code(app, PIN) is None


@pytest.mark.parametrize("days", [7, 13, 21])
def test_the_right_pin_is_accepted_days_after_a_lock_out(days):
    # The bug: a ticks_diff past 2**29 ms (6.2 days) read as "still locked" for days.
    board, app = _locked_out_app()
    _advance(board, app, days * DAY_MS)
    assert _code(app, PIN) is None


@pytest.mark.parametrize("uptime_days", [6.3, 12.5, 21])
def test_lock_out_lasts_exactly_its_time_at_weeks_of_uptime(uptime_days):
    board = SimBoard()
    app = App(board)
    app.lock.set_pin(PIN, None)
    _advance(board, app, int(uptime_days * DAY_MS))
    for _ in range(3):
        assert _code(app, "000000") == E.BAD_PIN
    _advance(board, app, K.PIN_LOCK_MS - 100, 100)
    assert _code(app, PIN) == E.PIN_LOCKED_OUT
    _advance(board, app, 100, 100)
    assert _code(app, "000000") == E.BAD_PIN  # the 4th: twice as long
    _advance(board, app, 2 * K.PIN_LOCK_MS - 100, 100)
    assert _code(app, PIN) == E.PIN_LOCKED_OUT
    _advance(board, app, 100, 100)
    assert _code(app, PIN) is None


def test_lock_ms_stays_small_however_many_wrong_pins():
    assert K.lock_ms(2) == 0 and K.lock_ms(3) == 30000 and K.lock_ms(10) == 3600000
    assert K.lock_ms(10**6) == K.PIN_LOCK_MAX_MS


# ---- Ctrl-C and the REPL ----
def _console(app, kbd):
    out = []
    return Console(app, out.append, kbd_intr=kbd.append), out


def _ask(con, out, **req):
    n = len(out)
    con.feed((json.dumps(dict(req, id=1)) + "\n").encode())
    return [json.loads(x) for x in out[n:] if '"event"' not in x][-1]


def test_ctrl_c_never_reaches_the_repl_while_a_pin_is_set():
    board = SimBoard()
    app = App(board)
    kbd = []
    con, out = _console(app, kbd)
    con.service()
    assert kbd == [3] and _ask(con, out, cmd="hello")["ctrl_c"] is True
    assert _ask(con, out, cmd="set_pin", new_pin=PIN)["ok"]
    con.service()
    assert kbd == [3, -1]  # micropython.kbd_intr(-1): the board's USB stack lets 0x03 through
    assert _ask(con, out, cmd="load", protocol=doc(), pin=PIN)["ok"]
    assert _ask(con, out, cmd="arm")["ok"] and _ask(con, out, cmd="start")["ok"]
    loop(app, 20000)
    con.feed(b"\x03")  # no KeyboardInterrupt: an orderly stop instead
    loop(app, 2000)
    assert app.session.state == S.STOPPED and app.scheduler.fault_code == 0
    st_ = _ask(con, out, cmd="status")
    assert st_["console"]["ctrl_c"] == 1
    con.feed(b'{"id": 2, "cmd": "hel\x03lo"}\n')  # the byte is dropped, the line served
    assert json.loads(out[-1])["ok"]
    # the investigator opens the REPL (for tvns deploy) until the next boot
    assert _ask(con, out, cmd="repl", pin="000000")["error"]["code"] == E.BAD_PIN
    assert _ask(con, out, cmd="repl", pin=PIN)["ok"]
    con.service()
    assert kbd[-1] == 3
    with pytest.raises(KeyboardInterrupt):
        con.feed(b"\x03")
    app = App(board)  # next boot: locked again
    con, out = _console(app, kbd)
    con.service()
    assert kbd[-1] == -1 and app.ctrl_c_allowed() is False


def test_without_a_pin_ctrl_c_interrupts_as_on_every_micropython_board():
    app = App(SimBoard())
    con, _out = _console(app, [])
    with pytest.raises(KeyboardInterrupt):
        con.feed(b"\x03")
