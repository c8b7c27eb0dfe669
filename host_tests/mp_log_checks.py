"""Session-log checks shared by both runtimes: pytest imports them (test_log.py) and the
MicroPython unix runtime runs them through mp_runner.py, where the log has no truncate and
cuts a torn tail by rewrite + rename. Files are written in the current directory.
Usage: cd TMP && MICROPYPATH=firmware:host_tests micropython host_tests/mp_runner.py
mp_log_checks"""

import os

from sim_support import doc
from tvns import log as L

SRC = "mpl_src.jsonl"
CUT = "mpl_cut.jsonl"
PROTOCOL = doc(name="synthetic", amplitude_ma=1.5, session_s=120)


def _rm(path):
    try:
        os.remove(path)
    except OSError:
        pass


def write_sessions(log, n_sessions, unix_s=None):
    """Append n synthetic sessions (the records App writes) to an open Log."""
    for i in range(n_sessions):
        log.append(
            "session_start",
            {
                "protocol": PROTOCOL,
                "firmware_version": "0.1.0",
                "board": "sim",
                "calibration": {"dac_gain": 1.0, "sense_offset_ua": 3},
                "unix_s": unix_s,
                "output_mode": "constant_current",
            },
        )
        t = 0.0
        for state in ("RAMP_UP", "ON", "OFF", "ON", "RAMP_DOWN"):
            log.append("state", {"t_s": t, "state": state})
            t += 5.0 if state == "RAMP_UP" else 30.0
        if i == 1:
            log.append("amplitude", {"t_s": 40.0, "amplitude_ma": 1.2, "source": "operator"})
            log.append("fault", {"t_s": 41.0, "fault": "lead_off", "latched": True})
        log.append(
            "session_end",
            {"t_s": 120.0, "duration_s": 120.0, "pulses": 2250, "charge_uc": 843.75},
        )
        log.append("state", {"t_s": 120.0, "state": "DONE"})


def build_source(n_sessions=3):
    for p in (SRC, CUT, CUT + ".tmp"):
        _rm(p)
    log = L.Log(SRC, sync=False)
    write_sessions(log, n_sessions)
    log.close()
    with open(SRC, "rb") as f:
        data = f.read()
    return data


def line_table(data):
    """[(end offset, record dict)] for each line of a clean file."""
    out = []
    start = 0
    while start < len(data):
        end = data.find(b"\n", start) + 1
        out.append((end, L.decode(data[start:end])))
        start = end
    return out


def expected_after_cut(table, k):
    """What a Log opened on the first k bytes must hold: every complete record, plus one
    power_loss record when bytes were cut."""
    keep = [rec for end, rec in table if end <= k]
    good_end = 0
    for end, _rec in table:
        if end <= k:
            good_end = end
    if k > good_end:
        last = keep[-1]["seq"] if keep else None
        open_session = None
        for rec in keep:
            if rec["kind"] == "session_start":
                open_session = rec["seq"]
            elif rec["kind"] == "session_end":
                open_session = None
        keep.append(
            {
                "seq": (last or 0) + 1,
                "kind": "power_loss",
                "torn_tail_bytes": k - good_end,
                "bad_records": 0,
                "open_session": open_session,
                "after_seq": last,
            }
        )
    return keep


def recover_at(data, table, k, fs=os):
    """Cut the log at byte k, open it, check the records and that seq continues."""
    with open(CUT, "wb") as f:
        f.write(data[:k])
    log = L.Log(CUT, fs=fs, sync=False)
    got = list(log.records())
    want = expected_after_cut(table, k)
    assert got == want, (k, got[-2:], want[-2:])
    seq = log.append("state", {"t_s": 0.0, "state": "IDLE"})
    assert seq == (want[-1]["seq"] if want else 0) + 1, (k, seq)
    log.close()
    # Opening again finds a clean file: nothing more is cut or added.
    log = L.Log(CUT, fs=fs, sync=False)
    assert log.recovered["torn_tail_bytes"] == 0, k
    assert len(list(log.records())) == len(want) + 1, k
    log.close()


def sample_offsets(data, table, step):
    """Every step-th byte, plus each line end and the bytes either side of it."""
    ks = set(range(0, len(data) + 1, step))
    for end, _rec in table:
        ks.update((end - 1, end, end + 1))
    return sorted(k for k in ks if 0 <= k <= len(data))


def test_crc32_matches_the_table_driven_fallback():
    for data in (b"", b"a", b"123456789", bytes(range(256)) * 3):
        assert L.crc32(data) & 0xFFFFFFFF == L.crc32_soft(data)
    assert L.crc32_soft(b"123456789") == 0xCBF43926  # the CRC-32 check value


def test_recovery_at_sampled_offsets():
    data = build_source(2)
    table = line_table(data)
    for k in sample_offsets(data, table, 37):
        recover_at(data, table, k)
    _rm(CUT)


def test_bad_line_in_the_middle_is_skipped_and_counted():
    data = build_source(1)
    table = line_table(data)
    mid = table[3][0] + 10  # inside the fifth line
    bad = data[:mid] + (b"X" if data[mid : mid + 1] != b"X" else b"Y") + data[mid + 1 :]
    with open(CUT, "wb") as f:
        f.write(bad)
    log = L.Log(CUT, sync=False)
    assert log.recovered == {"torn_tail_bytes": 0, "bad_records": 1, "open_session": None}
    got = list(log.records())
    assert got == [rec for i, (_e, rec) in enumerate(table) if i != 4]
    log.close()
    with open(CUT, "rb") as f:
        assert f.read() == bad  # the damaged line is kept on disk as evidence, not repaired
    _rm(CUT)
