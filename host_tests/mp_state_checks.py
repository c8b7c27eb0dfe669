"""The device's persistent and operator-facing state, checked the same way under CPython
(test_state_shared.py imports these) and under both MicroPython runtimes (mp_runner.py, from
test_micropython.py: the PyPI unix port and the board-numerics build with 31-bit small ints
and single floats). Files are written in the current directory.
Usage: cd TMP && MICROPYPATH=firmware:host_tests micropython host_tests/mp_runner.py
mp_state_checks"""

import binascii
import json
import os

from sim_support import doc, loop
from tvns import errors as E
from tvns import lock as K
from tvns import session as S
from tvns import store as ST
from tvns.app import App
from tvns.board.sim import SimBoard
from tvns.console import Console
from tvns.exposure import CAP_MS
from tvns.log import Log
from tvns.pbkdf2 import hmac_sha256, pbkdf2_sha256

PIN = "112358"
STATE = "mps_state.json"
LOG = "mps_log.jsonl"
DAY_MS = 86400000

# (password, salt, iterations, dklen, hex): RFC 7914 section 11 and CPython's
# hashlib.pbkdf2_hmac("sha256", ...) for the rest.
_P, _S = b"passwordPASSWORDpassword", b"saltSALTsaltSALTsaltSALTsaltSALTsalt"
VECTORS = (
    (b"password", b"salt", 1, 32, "120fb6cffcf8b32c43e7225256c4f837"
     "a86548c92ccc35480805987cb70be17b"),
    (b"password", b"salt", 4096, 32, "c5e478d59288c841aa530db6845c4c8d"
     "962893a001ce4e11a4963873aa98134a"),
    (_P, _S, 4096, 40, "348c89dbcbd32b2f32d814b8116e84cf2b17347ebc1800181c4e2a1fb8dd53e1"
     "c635518c7dac47e9"),
    (b"pass\x00word", b"sa\x00lt", 4096, 16, "89b69d0516f829893c696226650a8687"),
    (b"x" * 100, b"salt", 3, 70, "59bfa49750dd5462ce38370a1e7abe0736ff334cf1c2f0d84f23a03435d660"
     "d1537367bcfb776a103c5ccee2fb714fb7ed7f2563b3eb88c72457fbae9f0191e5ec4f19e16620"),
)  # fmt: skip


def _rm(*paths):
    for p in paths:
        for suffix in ("", ".new", ".bak", ".damaged", ".tmp"):
            try:
                os.remove(p + suffix)
            except OSError:
                pass


def _hex(b):
    return binascii.hexlify(b).decode()


def _ask(con, out, **req):
    n = len(out)
    req["id"] = 1
    con.feed((json.dumps(req) + "\n").encode())
    got = [json.loads(x) for x in out[n:]]
    return [r for r in got if "event" not in r][-1]


def test_pbkdf2_vectors():
    for password, salt, n, dklen, want in VECTORS:
        assert _hex(pbkdf2_sha256(password, salt, n, dklen)) == want, (password, n)
    # RFC 4231 test case 2 for the HMAC underneath
    mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?")
    assert _hex(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


def test_pin_rules_and_record():
    rec = K.pin_record(PIN, 50)
    assert rec["alg"] == "pbkdf2-sha256" and len(rec["salt"]) == 32 and len(rec["hash"]) == 64
    assert K.verify_record(rec, PIN) and not K.verify_record(rec, "112359")
    assert ST.check({"v": ST.VERSION, "pin": rec}) is None
    for bad in ("12345", "", "1234567" * 5, "12 456", 123456):
        try:
            K.check_new_pin(bad)
            raise AssertionError("accepted %r" % (bad,))
        except E.TvnsError as exc:
            assert exc.code == E.BAD_FIELD and exc.field == "new_pin"
    K.check_new_pin("123456")


def test_store_never_crashes_on_garbage_and_locks():
    _rm(STATE)
    x = 12345
    for n in range(60):
        raw = bytearray()
        for _ in range(n * 3):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
            raw.append((x >> 16) & 0xFF)
        if n % 3 == 0:
            raw = bytearray(ST.encode({"v": 2, "pin_fails": n})) + raw
        with open(STATE, "wb") as f:
            f.write(raw)
        board = SimBoard()
        board.store = ST.FileStore(STATE, sync=False)
        app = App(board)
        if board.store.damaged:
            assert app.exposure_used_ms() == CAP_MS
            app.load(doc())
            try:
                app.arm()
                raise AssertionError("armed on a damaged store")
            except E.TvnsError as exc:
                assert exc.code == E.STORE_DAMAGED
    for data in ({"v": 2, "ceiling_ua": "5"}, {"v": 2, "exposure": [1, 2]}, {"v": 1}, [1]):
        assert ST.check(data) is not None, data
    _rm(STATE)


def test_store_round_trip_and_reset():
    _rm(STATE, LOG)
    board = SimBoard()
    board.store = ST.FileStore(STATE, sync=False)
    app = App(board)
    app.lock.set_pin(PIN, None)
    board.store.put("allocation", "sham")
    again = ST.FileStore(STATE)
    assert again.damaged is None and again.get("allocation") == "sham"
    with open(STATE, "rb") as f:
        raw = f.read()
    with open(STATE, "wb") as f:
        f.write(raw[:-3])
    board = SimBoard()
    board.store = ST.FileStore(STATE, sync=False)
    log = Log(LOG, sync=False)
    app = App(board, log)
    out = []
    con = Console(app, out.append)
    assert _ask(con, out, cmd="status")["store"]["ok"] is False
    assert _ask(con, out, cmd="reset_store", pin="000000")["error"]["code"] == E.BAD_PIN
    assert _ask(con, out, cmd="reset_store", pin=PIN)["pin_kept"] is True
    assert _ask(con, out, cmd="unblind", pin=PIN)["arm"] is None
    assert [r["action"] for r in log.records()] == ["damaged", "reset"]
    log.close()
    _rm(STATE, LOG)


def test_lock_out_right_across_the_wrap_and_after_weeks():
    board = SimBoard(start_us=((1 << 30) - 5000) * 1000)
    app = App(board)
    app.lock.set_pin(PIN, None)
    for _ in range(3):
        try:
            app.lock.check("000000")
        except E.TvnsError as exc:
            assert exc.code == E.BAD_PIN
    for _ in range(9):  # 9 days, crossing the ticks wrap and 2**29 ms
        board.idle_ms(DAY_MS)
        app.service()
    app.lock.check(PIN)  # not refused
    assert app.uptime.s >= 9 * 86400 and app.uptime.s < (1 << 30)


def test_exposure_ignores_the_host_clock():
    board = SimBoard()
    app = App(board)
    app.set_time(1779930000)
    d = doc(session_s=3600, on_s=30, off_s=30)
    for _ in range(4):
        app.load(d)
        app.arm()
        app.start()
        loop(app, 3601000)
    for t in (1779930000 - 86400 * 365, 1779930000 + 86400):
        app.set_time(t)
        app.load(doc(session_s=10, ramp_up_s=1, ramp_down_s=1))
        try:
            app.arm()
            raise AssertionError("armed past the cap")
        except E.TvnsError as exc:
            assert exc.code == E.EXPOSURE_CAP
    board.reset("power")
    assert App(board).exposure_used_ms() == CAP_MS


def test_start_failing_changes_nothing():
    board = SimBoard()
    app = App(board)
    app.load(doc())
    app.arm()

    def broken(*_a):
        raise E.TvnsError(E.PULSE_FIT, "cannot")

    board.engine.load = broken
    try:
        app.start()
        raise AssertionError("started")
    except E.TvnsError:
        pass
    assert app.session.state == S.ARMED and board.store.get("active") is None
    loop(app, 2000)
    assert app.exposure_used_ms() == 0 and app.session.state == S.ARMED


def test_ctrl_c_is_kept_from_the_repl_while_a_pin_is_set():
    app = App(SimBoard())
    out = []
    calls = []
    con = Console(app, out.append, kbd_intr=calls.append)
    assert _ask(con, out, cmd="set_pin", new_pin=PIN)["ok"]
    con.service()
    assert calls == [-1]
    con.feed(b"\x03")  # no KeyboardInterrupt
    assert _ask(con, out, cmd="status")["console"]["ctrl_c"] == 1


def test_log_read_pages_match_the_file():
    _rm(LOG)
    log = Log(LOG, sync=False)
    for i in range(40):
        log.append("state", {"t_s": i * 1.5, "state": "ON"})
    app = App(SimBoard(), log)
    out = []
    con = Console(app, out.append)
    got = b""
    offset = 0
    while True:
        r = _ask(con, out, cmd="log_read", offset=offset, length=500)
        data = binascii.a2b_base64(r["data"])
        assert r["crc"] == "%08x" % (binascii.crc32(data) & 0xFFFFFFFF)
        got += data
        offset = r["next"]
        if offset >= r["size"]:
            break
    with open(LOG, "rb") as f:
        assert f.read() == got
    assert _ask(con, out, cmd="log_read", file=2)["exists"] is False
    log.close()
    _rm(LOG)
