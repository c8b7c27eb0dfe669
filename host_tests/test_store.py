"""The persistent store fails closed (SAFETY.md H40): checksummed, written atomically with
the previous copy kept; a damaged store (bad bytes, bad checksum, ill-typed values, a
version-1 file) boots the device locked: hello/status/log answer, arm is refused with
`store_damaged` and exposure is taken as the full cap, until `reset_store`. Never a crash."""

import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
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

PIN = "314159"
SHORT = doc(session_s=10, ramp_up_s=1, ramp_down_s=1)


def _board(path):
    board = SimBoard()
    board.store = ST.FileStore(str(path), sync=False)
    return board


def _console(app):
    out = []
    con = Console(app, out.append)

    def ask(**req):
        n = len(out)
        con.feed((json.dumps(dict(req, id=7)) + "\n").encode())
        return [json.loads(x) for x in out[n:] if '"event"' not in x][-1]

    return ask


def _assert_locked(app):
    """The locked state: answers, refuses arm with store_damaged, exposure at the cap."""
    ask = _console(app)
    assert ask(cmd="hello")["ok"] and ask(cmd="hello")["store"]["ok"] is False
    st_ = ask(cmd="status")
    assert st_["ok"] and st_["store"]["damaged"] and st_["exposure_used_s"] == CAP_MS / 1000
    assert ask(cmd="log")["ok"]
    assert ask(cmd="load", protocol=SHORT)["ok"]  # harmless: arm is refused
    r = ask(cmd="arm")
    assert not r["ok"] and r["error"]["code"] == E.STORE_DAMAGED
    assert app.session.state == S.IDLE
    assert app.exposure_used_ms() == CAP_MS


def _good_store(path):
    board = _board(path)
    app = App(board)
    app.lock.set_pin(PIN, None)
    board.store.put("allocation", "sham")
    board.store.put("ceiling_ua", 2000)
    return board


def test_a_store_round_trips_with_a_checksum_and_keeps_the_previous_copy(tmp_path):
    path = tmp_path / "state.json"
    _good_store(path)
    raw = path.read_bytes()
    body, crc, end = raw.rsplit(b"\n", 2)
    assert end == b"" and len(crc) == 8
    assert json.loads(body)["v"] == ST.VERSION
    assert (tmp_path / "state.json.bak").exists()  # the copy before the last write
    again = ST.FileStore(str(path))
    assert again.damaged is None and again.get("allocation") == "sham"
    assert again.get("pin")["alg"] == "pbkdf2-sha256" and PIN not in raw.decode()


@pytest.mark.parametrize("flip", [0, 5, 20, -12, -3])
def test_a_few_bad_bytes_lock_the_device_instead_of_forgetting(tmp_path, flip):
    path = tmp_path / "state.json"
    _good_store(path)
    raw = bytearray(path.read_bytes())
    raw[flip] ^= 0x20
    path.write_bytes(bytes(raw))
    board = _board(path)
    app = App(board)
    assert board.store.damaged
    _assert_locked(app)
    assert app.scheduler.ceiling_ua == board.ceiling_ua or True  # arm is refused anyway


# every key of the store, each with a value of the wrong type or out of range
_Z16, _Z32 = "00" * 16, "00" * 32
_EXP = {"dev_s": 0, "unix_s": None, "entries": []}
ILL = {
    "v": [1, "2", None, 2.0, True],
    "active": [
        1,
        "x",
        [],
        {"name": 5, "session_ms": 1},
        {"name": "a"},
        {"name": "a", "session_ms": -1},
    ],
    "exposure": [
        [0, 5],
        dict(_EXP, dev_s=-1),
        dict(_EXP, entries=[[0]]),
        dict(_EXP, unix_s="x"),
        dict(_EXP, entries=[[0, 1.5]]),
        dict(_EXP, entries=[[0, 1]] * 17),
    ],
    "allocation": ["placebo", 1, True, ["active"]],
    "ceiling_ua": [0, -5, 10**9, "2000", 2.5, True],
    "pin": [
        {"salt": _Z16, "hash": _Z32},  # the version-1 format
        "1234",
        {"alg": "md5", "iter": 1, "salt": _Z16, "hash": _Z32},
        {"alg": "pbkdf2-sha256", "iter": 0, "salt": _Z16, "hash": _Z32},
        {"alg": "pbkdf2-sha256", "iter": 9, "salt": "zz" * 16, "hash": _Z32},
    ],
    "pin_fails": [-1, "3", 1.0, [1]],
    "surprise": [1],
}


@pytest.mark.parametrize("key, bad", [(k, v) for k in ILL for v in ILL[k]])
def test_ill_typed_values_in_every_key_lock_the_device(tmp_path, key, bad):
    path = tmp_path / "state.json"
    data = {"v": ST.VERSION, key: bad}
    path.write_bytes(ST.encode(data))  # a valid checksum over an ill-typed content
    board = _board(path)
    app = App(board)  # never crashes
    assert board.store.damaged and key in board.store.damaged
    _assert_locked(app)
    # the same through the sim board's memory store
    board = SimBoard()
    board.store._data = dict(data)
    app = App(board)
    assert board.store.damaged
    assert app.exposure_used_ms() == CAP_MS


@settings(max_examples=150, deadline=None)
@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes_never_crash_the_boot(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("s") / "state.json"
    path.write_bytes(raw)
    board = _board(path)
    app = App(board)
    assert board.store.damaged  # random bytes never carry a right checksum
    ask = _console(app)
    assert ask(cmd="status")["store"]["ok"] is False
    assert app.exposure_used_ms() == CAP_MS


@settings(max_examples=150, deadline=None)
@given(
    data=st.dictionaries(
        st.sampled_from(ST.KEYS + ("x",)),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
            lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
            max_leaves=6,
        ),
    )
)
def test_arbitrary_json_in_every_key_never_crashes_the_boot(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("s") / "state.json"
    path.write_bytes(ST.encode(data))
    board = _board(path)
    app = App(board)
    ask = _console(app)
    assert ask(cmd="status")["ok"] and ask(cmd="hello")["ok"]
    if board.store.damaged:
        assert app.exposure_used_ms() == CAP_MS
    else:
        assert ST.check(data) is None


def test_reset_store_without_a_pin_ever_set_logs_itself(tmp_path):
    path = tmp_path / "state.json"
    path.write_bytes(b"\xff" * 40)  # erased flash
    log = Log(str(tmp_path / "log.jsonl"), sync=False)
    board = _board(path)
    app = App(board, log)
    ask = _console(app)
    assert ask(cmd="reset_store")["pin_kept"] is False
    assert board.store.damaged is None and app.store.get("pin") is None
    kinds = [(r["kind"], r.get("action")) for r in log.records()]
    assert kinds == [("store", "damaged"), ("store", "reset")]
    assert (tmp_path / "state.json.damaged").read_bytes() == b"\xff" * 40  # evidence kept
    # re-provisioned: the exposure window starts full (it may have held a day's sessions)
    assert app.exposure_used_ms() == CAP_MS
    app.load(SHORT)
    with pytest.raises(E.TvnsError) as exc:
        app.arm()
    assert exc.value.code == E.EXPOSURE_CAP
    r = ask(cmd="reset_store")
    assert r["error"]["code"] == E.BAD_STATE  # only a damaged store is reset


def test_reset_store_with_the_pin_from_the_backup(tmp_path):
    path = tmp_path / "state.json"
    _good_store(path)
    path.write_bytes(path.read_bytes()[:-5])  # torn
    board = _board(path)
    app = App(board)
    ask = _console(app)
    assert ask(cmd="reset_store")["error"]["code"] == E.PIN_REQUIRED
    assert ask(cmd="reset_store", pin="000000")["error"]["code"] == E.BAD_PIN
    assert board.store.damaged
    r = ask(cmd="reset_store", pin=PIN)
    assert r["ok"] and r["pin_kept"] is True
    assert app.store.get("allocation") is None and app.store.get("ceiling_ua") is None
    assert ask(cmd="allocate", pin=PIN, arm="active")["ok"]  # the same PIN, PBKDF2 again
    assert ask(cmd="clear_exposure", pin=PIN)["ok"]
    assert ask(cmd="load", pin=PIN, protocol=SHORT)["ok"] and ask(cmd="arm")["ok"]
    assert ST.FileStore(str(path)).damaged is None  # and it survives a reboot


def test_a_version_1_store_and_its_salted_sha256_pin_unlock_nothing(tmp_path):
    import hashlib

    salt = "ab" * 16
    old_pin = "4711"
    old = {
        "pin": {"salt": salt, "hash": hashlib.sha256(bytes.fromhex(salt) + b"4711").hexdigest()},
        "allocation": "active",
        "exposure": [20000, 100],
    }
    path = tmp_path / "state.json"
    path.write_text(json.dumps(old))  # the old format: plain JSON, no checksum
    board = _board(path)
    app = App(board)
    ask = _console(app)
    assert board.store.damaged
    for cmd in ("unblind", "allocate", "clear_exposure", "set_pin", "repl"):
        r = ask(cmd=cmd, pin=old_pin, arm="sham", new_pin="777777")
        assert r["error"]["code"] == E.STORE_DAMAGED, cmd
    assert ask(cmd="load", protocol=SHORT)["ok"]
    assert ask(cmd="arm")["error"]["code"] == E.STORE_DAMAGED
    # its only use: re-provisioning once, which re-hashes the PIN with PBKDF2
    assert ask(cmd="reset_store", pin="9999")["error"]["code"] == E.BAD_PIN
    assert ask(cmd="reset_store", pin=old_pin)["pin_kept"] is True
    rec = app.store.get("pin")
    assert rec["alg"] == "pbkdf2-sha256" and rec["iter"] == K.PIN_ITERATIONS
    assert ask(cmd="unblind", pin=old_pin)["ok"]
    assert not K.verify_record(old["pin"], old_pin)  # never outside reset_store


class _CutFs:
    """os, with the n-th rename or write failing: a power cut between the steps."""

    def __init__(self, fail_at):
        self.calls = 0
        self.fail_at = fail_at

    def __getattr__(self, name):
        fn = getattr(os, name)
        if name not in ("rename", "fsync"):
            return fn

        def cut(*a):
            self.calls += 1
            if self.calls == self.fail_at:
                raise OSError(5, "cut")
            return fn(*a)

        return cut


@pytest.mark.parametrize("fail_at", [1, 2, 3])
def test_a_cut_between_the_write_steps_leaves_the_old_or_the_new_copy(tmp_path, fail_at):
    path = tmp_path / "state.json"
    store = ST.FileStore(str(path))
    store.put("allocation", "active")
    store.fs = _CutFs(fail_at)
    with pytest.raises(E.TvnsError) as exc:
        store.put("allocation", "sham")
    assert exc.value.code == E.STORE_DAMAGED and store.damaged  # locked from now on
    again = ST.FileStore(str(path))  # the next boot
    assert again.damaged is None
    assert again.get("allocation") in ("active", "sham")
    if fail_at == 3:  # .new was complete: the boot finishes the renames
        assert again.get("allocation") == "sham"


def test_a_failed_write_of_the_session_end_keeps_the_marker(tmp_path, monkeypatch):
    path = tmp_path / "state.json"
    board = _board(path)
    app = App(board)
    app.load(SHORT)
    app.arm()
    app.start()

    def full(name, mode="r"):
        if "w" in mode:
            raise OSError(28, "No space left on device")
        return open(name, mode)

    monkeypatch.setattr(ST, "open", full, raising=False)  # the write at the end fails
    loop(app, 12000)
    monkeypatch.undo()
    assert app.session.state == S.DONE and board.store.damaged
    assert app.exposure_used_ms() == CAP_MS  # locked: the cap, whatever was delivered
    board2 = _board(path)  # after a reboot the marker is still there: counted in full
    app2 = App(board2)
    assert app2.faults[0]["fault"] == "interrupted"
    assert app2.exposure_used_ms() == SHORT["session_s"] * 1000
