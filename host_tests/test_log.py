"""The session log (firmware/tvns/log.py) and its host tools (tools/tvns_tools/logs.py):
a real multi-session log from the firmware on the sim board, cut at every byte offset and
bit-flipped at every byte, must recover every complete record and invent nothing."""

import csv
import json
import os
import pathlib
import subprocess
import time
import zlib

import mp_log_checks as M
import pytest
from tvns import log as L
from tvns.board.simrun import simulate
from tvns.errors import TvnsError
from tvns_tools import cli, logs
from tvns_tools.firmware import micropython_binary

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
SHORT = dict(M.PROTOCOL, name="short-20s", session_s=20, on_s=5, off_s=3, ramp_up_s=2)
SHORT["ramp_down_s"] = 2


def _real_log(path, n=3):
    """n sessions of the firmware on the sim board, one with a latched fault."""
    log = L.Log(str(path), sync=False)
    for i in range(n):
        inject = [("overcurrent", 9000)] if i == 1 else []
        result = simulate(dict(SHORT, sham=(i == 2)), inject=inject)
        logs.log_simulation(log, result, unix_s=1_760_000_000 + 3600 * i)
    log.close()
    return path.read_bytes()


@pytest.fixture(scope="module")
def real_log(tmp_path_factory):
    path = tmp_path_factory.mktemp("real") / "log.jsonl"
    data = _real_log(path)
    return data, M.line_table(data)


def test_real_log_holds_what_the_firmware_did(real_log):
    data, table = real_log
    recs = [rec for _end, rec in table]
    assert [r["seq"] for r in recs] == list(range(1, len(recs) + 1))
    kinds = [r["kind"] for r in recs]
    assert kinds.count("session_start") == kinds.count("session_end") == 3
    assert any(r["kind"] == "fault" and r["fault"] == "overcurrent" for r in recs)
    assert all(line.endswith(b"\n") for line in data.splitlines(keepends=True))


def test_crc_is_zlib_crc32_over_the_line_without_its_crc_field(real_log):
    data, _table = real_log
    for line in data.splitlines(keepends=True):
        body = line[: -L._TAIL_BYTES] + b"}"
        assert int(line[-11:-3], 16) == zlib.crc32(body)
        assert json.loads(line)["crc"] == "%08x" % zlib.crc32(body)  # every line is JSON


def test_cut_at_every_byte_offset_recovers_every_complete_record(real_log, tmp_path, monkeypatch):
    data, table = real_log
    monkeypatch.chdir(tmp_path)
    t0 = time.perf_counter()
    for k in range(len(data) + 1):
        M.recover_at(data, table, k)
    elapsed = time.perf_counter() - t0
    print(
        "every-offset recovery: %d offsets, %d bytes, %.2f s" % (len(data) + 1, len(data), elapsed)
    )


class NoTruncate:
    """os without truncate or fsync: the MicroPython path (rewrite + rename) on CPython."""

    stat = staticmethod(os.stat)
    rename = staticmethod(os.rename)
    remove = staticmethod(os.remove)


def test_cut_without_truncate_rewrites_by_rename(real_log, tmp_path, monkeypatch):
    data, table = real_log
    monkeypatch.chdir(tmp_path)
    for k in M.sample_offsets(data, table, 7):
        M.recover_at(data, table, k, fs=NoTruncate)
    assert not (tmp_path / (M.CUT + ".tmp")).exists()


def test_a_flipped_bit_anywhere_loses_only_its_own_line(real_log, tmp_path):
    data, table = real_log
    starts = [0] + [end for end, _rec in table[:-1]]
    path = tmp_path / "flip.jsonl"
    for k in range(len(data)):
        flipped = bytearray(data)
        flipped[k] ^= 1 << (k % 8)
        path.write_bytes(flipped)
        i = max(n for n, s in enumerate(starts) if s <= k)
        lost = {i, i + 1} if data[k : k + 1] == b"\n" else {i}
        want = [rec for n, (_e, rec) in enumerate(table) if n not in lost]
        assert list(L.read_file(str(path))) == want, k
        s = L.scan(str(path))
        assert s["valid"] == len(want), k
        if max(lost) < len(table) - 1:
            assert s["bad_records"] >= 1 and s["torn_tail_bytes"] == 0, k
        else:
            assert s["torn_tail_bytes"] > 0, k  # damage at the end is a torn tail


def test_garbage_tails_are_cut(tmp_path):
    path = tmp_path / "log.jsonl"
    log = L.Log(str(path), sync=False)
    M.write_sessions(log, 1)
    log.close()
    good = path.read_bytes()
    # a flash page of zeros with a newline, then 20 kB without one (over LINE_MAX_BYTES)
    for tail in (b"\x00" * 256 + b"\n", b"\xff" * 20000, b'{"seq":99,"kind":"state"}\n'):
        path.write_bytes(good + tail)
        log = L.Log(str(path), sync=False)
        assert log.recovered["torn_tail_bytes"] == len(tail)
        recs = list(log.records())
        assert recs[:-1] == [rec for _e, rec in M.line_table(good)]
        assert recs[-1]["kind"] == "power_loss" and recs[-1]["torn_tail_bytes"] == len(tail)
        log.close()


def test_stale_rewrite_file_is_removed_and_the_original_kept(tmp_path):
    path = tmp_path / "log.jsonl"
    log = L.Log(str(path), sync=False)
    M.write_sessions(log, 1)
    log.close()
    (tmp_path / "log.jsonl.tmp").write_bytes(b'{"seq":1,"ki')  # power cut mid-rewrite
    log = L.Log(str(path), sync=False)
    assert not (tmp_path / "log.jsonl.tmp").exists()
    assert log.recovered["torn_tail_bytes"] == 0 and log.seq == 8
    log.close()


def test_rotation_never_splits_a_session_and_keeps_n_files(tmp_path):
    path = tmp_path / "log.jsonl"
    log = L.Log(str(path), max_bytes=1500, keep=2, sync=False)
    M.write_sessions(log, 7)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["log.1.jsonl", "log.2.jsonl", "log.jsonl"]
    for p in tmp_path.iterdir():
        kinds = [r["kind"] for r in L.read_file(str(p))]
        assert kinds[0] == "session_start"  # each file starts at a session
        assert kinds.count("session_start") == kinds.count("session_end")
        assert p.stat().st_size < 1500 + 1200  # at most one session past the limit
    recs = list(log.records())
    seqs = [r["seq"] for r in recs]
    assert seqs == list(range(seqs[0], log.seq + 1))  # continuous across files
    assert [r["seq"] for r in log.records(since_seq=log.seq - 2)] == [log.seq - 1, log.seq]
    log.close()


def test_power_cut_mid_rotation_keeps_seq_going(tmp_path):
    path = tmp_path / "log.jsonl"
    log = L.Log(str(path), max_bytes=10, keep=2, sync=False)
    M.write_sessions(log, 1)
    last = log.seq
    log.close()
    os.rename(path, tmp_path / "log.1.jsonl")  # the rename happened, the new file did not
    log = L.Log(str(path), max_bytes=10, keep=2, sync=False)
    assert log.seq == last
    assert log.append("state", {"t_s": 0.0, "state": "IDLE"}) == last + 1
    log.close()


def test_append_syncs_and_refuses_what_it_cannot_write(tmp_path):
    log = L.Log(str(tmp_path / "log.jsonl"))  # sync on: fsync per record
    assert log.append("state", {"t_s": 0.0, "state": "IDLE"}) == 1
    for kind, fields in (("nope", {}), ("state", {"seq": 3}), ("state", {"crc": "x"})):
        with pytest.raises(TvnsError):
            log.append(kind, fields)
    with pytest.raises(TvnsError):
        log.append("session_start", {"protocol": "x" * L.LINE_MAX_BYTES})
    assert log.append("power_loss") == 2  # nothing half-written by the refusals
    log.close()
    assert L.scan(str(tmp_path / "log.jsonl"))["valid"] == 2


def test_shared_checks_under_cpython(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in sorted(dir(M)):
        if name.startswith("test_"):
            getattr(M, name)()


@pytest.mark.mp_tier
def test_shared_checks_under_micropython(tmp_path):
    env = dict(os.environ, MICROPYPATH="%s:%s" % (ROOT / "firmware", HERE))
    proc = subprocess.run(
        [micropython_binary(), str(HERE / "mp_runner.py"), "mp_log_checks"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    out = proc.stdout + proc.stderr
    assert "3 passed, 0 failed" in out and proc.returncode == 0, out[-3000:]


# ---- host tools ----
def test_logs_check_and_export(real_log, tmp_path):
    data, table = real_log
    path = tmp_path / "log.jsonl"
    path.write_bytes(data[:-7])  # torn last line
    doc = logs.check(path)
    assert doc["valid"] == len(table) - 1
    assert doc["torn_tail_bytes"] == table[-1][0] - 7 - table[-2][0]
    assert doc["sessions"] == 3 and doc["bad_records"] == 0
    n = logs.to_csv(path, tmp_path / "out.csv")
    rows = list(csv.DictReader(open(tmp_path / "out.csv")))
    assert n == len(rows) == doc["valid"]
    assert list(rows[0])[:2] == ["seq", "kind"] and rows[1]["state"] == "ARMED"
    assert json.loads(rows[0]["protocol"])["name"] == "short-20s"
    logs.to_json(path, tmp_path / "out.json")
    assert json.loads((tmp_path / "out.json").read_text())["check"] == doc


def test_logs_cli_wiring(real_log, tmp_path, capsys):
    data, _table = real_log
    path = tmp_path / "log.jsonl"
    path.write_bytes(data)
    parser = cli.build_parser()
    args = parser.parse_args(["logs", "check", str(path), "--json"])
    assert cli.COMMANDS[args.command][0](args) == 0
    assert json.loads(capsys.readouterr().out)["sessions"] == 3
    args = parser.parse_args(["logs", "export", str(path), "--out", str(tmp_path / "x")])
    assert args.func(args) == 0
    assert (tmp_path / "x" / "log.csv").exists() and (tmp_path / "x" / "log.json").exists()
    path.write_bytes(data + b"torn")
    args = parser.parse_args(["logs", "check", str(path)])
    assert args.func(args) == 3
    with pytest.raises(logs.ToolError):
        logs.check(tmp_path / "missing.jsonl")


class _FailingFile:
    """Writes half of what it is given, then fails: a full or worn-out filesystem."""

    def __init__(self, f):
        self.f = f

    def write(self, data):
        self.f.write(data[: len(data) // 2])
        self.f.flush()
        raise OSError(28, "No space left on device")

    def __getattr__(self, name):
        return getattr(self.f, name)


def test_a_failed_write_is_cut_before_the_next_record(tmp_path):
    path = tmp_path / "log.jsonl"
    log = L.Log(str(path), sync=False)
    log.append("state", {"t_s": 0.0, "state": "IDLE"})
    log._f = _FailingFile(log._f)
    assert log.try_append("state", {"t_s": 1.0, "state": "ARMED"}) == 0 and log.errors == 1
    assert log.append("state", {"t_s": 2.0, "state": "RAMP_UP"}) == 2
    log.close()
    assert [r["state"] for r in L.read_file(str(path))] == ["IDLE", "RAMP_UP"]
    assert L.scan(str(path))["bad_records"] == 0


def test_log_format_doc_lists_every_kind():
    doc = (ROOT / "docs" / "LOG-FORMAT.md").read_text()
    for kind in L.KINDS:
        assert "| `%s` |" % kind in doc, kind
    assert "`LINE_MAX_BYTES`" in doc and str(L.LINE_MAX_BYTES) in doc


def test_lines_read_in_pieces_split_exactly_as_one_long_readline():
    """log._readline reads 256 bytes at a time (MicroPython's readline(n) allocates n bytes
    up front) and must cut every line where readline(limit) would: around the piece size,
    at the limit, with and without the newline, at the end of the file."""
    import io

    limit = L.LINE_MAX_BYTES + 1
    sizes = [0, 1, 255, 256, 257, 511, 512, 513, limit - 2, limit - 1, limit, limit + 1]
    sizes += [limit + 300, 3 * limit]
    for n in sizes:
        for tail in (b"\n", b""):
            data = bytes(48 + i % 10 for i in range(n)) + tail + b"next\n"
            want, got = io.BytesIO(data), io.BytesIO(data)
            while True:
                a, b = want.readline(limit), L._readline(got, limit)
                assert a == b, (n, tail, len(a), len(b))
                if not a:
                    break
