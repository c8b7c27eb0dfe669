"""Perception-threshold titration: the staircase's rules and limits (tvns/staircase.py), the
device's trials through the ordinary session path (validated, within the ceiling, ramped,
exposure counted, logged), and `tvns titrate --sim` answered through a pipe."""

import json
import subprocess
import sys

import pytest
from sim_support import loop
from tvns import errors as E
from tvns import limits as L
from tvns import titration as T
from tvns.app import App
from tvns.board.sim import SimBoard
from tvns.staircase import Staircase

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def subject(threshold_ua):
    return lambda amp_ua: amp_ua >= threshold_ua


def run_stair(threshold_ua, **kw):
    p = dict(start_ua=200, rise_ua=200, up_ua=100, down_ua=300, reversals=8, cap_ua=3000)
    p.update(kw)
    s = Staircase(**p)
    felt = subject(threshold_ua)
    while not s.answer(felt(s.amp_ua)):
        pass
    return s


def test_rises_by_0_2_until_felt_then_0_1_up_0_3_down_over_8_reversals():
    s = run_stair(1050)
    amps = [a for a, _f in s.trials]
    assert amps[:5] == [200, 400, 600, 800, 1000]  # not felt: +0.2 mA
    assert s.trials[5] == [1200, True]  # the first felt
    assert amps[6] == 900  # then -0.3 mA
    for (a, f), b in zip(s.trials[5:], amps[6:]):
        assert b == (a - 300 if f else a + 100)
    assert len(s.reversal_ua) == 8 and s.outcome == "threshold"
    assert s.threshold_ua() == (2 * sum(s.reversal_ua) + 8) // 16
    assert 900 <= s.threshold_ua() <= 1200


def test_never_above_the_cap_and_ends_without_a_threshold_when_the_cap_is_not_felt():
    s = run_stair(10_000, cap_ua=1500)
    assert max(a for a, _f in s.trials) == 1500
    assert s.outcome == "not_felt_at_cap" and s.threshold_ua() is None


def test_never_below_the_floor_and_bounded_in_trials():
    s = run_stair(0, start_ua=300)  # felt at everything: steps down to the floor
    assert min(a for a, _f in s.trials) == 100
    always = Staircase(200, 200, 100, 300, 20, 3000)
    k = 0
    while not always.answer(k % 3 == 0):  # an erratic subject
        k += 1
    assert len(always.trials) <= L.TITRATION_TRIALS_MAX


def _run_device(app, threshold_ma, params=None):
    T.start(app, params, None)
    while True:
        t = T.trial(app)
        loop(app, 100)
        while app.session.running():
            loop(app, 100)
        st = T.answer(app, t["amplitude_ma"] >= threshold_ma)
        if st["done"]:
            return st


def test_the_device_runs_trials_as_validated_sessions_and_logs_the_result(tmp_path):
    from tvns.log import Log, read_file

    log = Log(str(tmp_path / "s.jsonl"), sync=False)
    board = SimBoard()
    app = App(board, log)
    st = _run_device(app, 0.75)
    assert st["outcome"] == "threshold" and 0.6 <= st["threshold_ma"] <= 0.9
    recs = list(read_file(str(tmp_path / "s.jsonl")))
    tit = [r for r in recs if r["kind"] == "titration"]
    assert tit[0]["event"] == "start"
    trials = [r for r in tit if r["event"] == "trial"]
    assert len(trials) == st["trials"]
    result = tit[-1]
    assert result["event"] == "result" and result["threshold_ma"] == st["threshold_ma"]
    assert len(result["trials"]) == st["trials"]
    starts = [r for r in recs if r["kind"] == "session_start"]
    assert len(starts) == st["trials"]  # every trial is a session: limits, monitors, log
    assert all(s["meta"]["titration_trial"] for s in starts)
    assert app.exposure_used_ms() > 0  # the day's exposure counts titration stimulation


def test_trials_never_exceed_the_ceiling_and_keep_the_ramp_rule():
    board = SimBoard(ceiling_ua=1000)
    app = App(board)
    T.start(app, {"cap_ma": 3.0}, None)
    amps = []
    while True:
        t = T.trial(app)
        amps.append(t["amplitude_ma"])
        loop(app, 100)
        while app.session.running():
            loop(app, 100)
        segs = board.engine.drain([], flush=True)
        pulses = []
        for _s, _p, n, amp, _w, _g in segs:
            pulses += [amp] * n
        assert pulses and pulses[0] <= 100  # the ramp starts at the first 0.1 mA step
        assert all(b - a <= 100 for a, b in zip(pulses, pulses[1:]))
        assert max(pulses) <= 1000
        if T.answer(app, False)["done"]:
            break
    assert max(amps) == 1.0  # the cap is the ceiling here


def test_bad_params_are_named_and_change_nothing():
    app = App(SimBoard())
    for params, field in [
        ({"cap_ma": 6}, "params.cap_ma"),
        ({"rise_ma": 0.0005}, "params.rise_ma"),
        ({"reversals": 2.5}, "params.reversals"),
        ({"speed": 1}, "params.speed"),
    ]:
        with pytest.raises(E.TvnsError) as exc:
            T.start(app, params, None)
        assert exc.value.field == field
    assert app.titration is None
    with pytest.raises(E.TvnsError) as exc:
        T.trial(app)
    assert exc.value.code == E.BAD_STATE


def test_a_pin_locked_device_titrates_only_with_the_pin():
    app = App(SimBoard())
    app.lock.set_pin("246813", None)
    with pytest.raises(E.TvnsError) as exc:
        T.start(app, None, None)
    assert exc.value.code in (E.PIN_REQUIRED, E.BAD_PIN)
    assert T.start(app, None, "246813")["trials"] == 0


def test_tvns_titrate_sim_answered_through_a_pipe_doses_and_locks(tmp_path):
    answers = "n\nn\nn\ny\nn\ny\nn\ny\nn\ny\nn\ny\nn\ny\nn\ny\nn\ny\ny\ny\n"
    out = tmp_path / "dosed.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tvns_tools.cli",
            "titrate",
            "--sim",
            "--speed",
            "50",
            "--session",
            str(ROOT / "firmware" / "protocols" / "default.json"),
            "--offset-ma",
            "0.25",
            "--out",
            str(out),
            "--json",
        ],  # fmt: skip
        input=answers,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(ROOT),
    )
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    th = res["titration"]["threshold_ma"]
    assert res["titration"]["outcome"] == "threshold"
    assert res["session"]["amplitude_ma"] == pytest.approx(th + 0.25)
    assert json.loads(out.read_text())["amplitude_ma"] == res["session"]["amplitude_ma"]
    assert "trial 1: 0.200 mA" in proc.stderr


def test_tvns_titrate_quit_ends_without_a_threshold():
    proc = subprocess.run(
        [sys.executable, "-m", "tvns_tools.cli", "titrate", "--sim", "--speed", "50"],
        input="n\nq\n",
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(ROOT),
    )
    assert proc.returncode == 3
    assert "aborted" in proc.stdout


def test_the_report_shows_the_trigger_mode_and_the_titration_result(tmp_path):
    from tvns.log import Log
    from tvns_tools import report

    path = tmp_path / "log.jsonl"
    log = Log(str(path), sync=False)
    app = App(SimBoard(), log)
    st = _run_device(app, 0.75)
    gated = {
        "schema": 1, "name": "gated", "amplitude_ma": 1.0, "pulse_width_us": 250,
        "interphase_gap_us": 20, "frequency_hz": 25, "on_s": 10, "off_s": 0,
        "ramp_up_s": 5, "ramp_down_s": 5, "session_s": 10, "electrode_area_cm2": 1.0,
        "sham": False, "trigger": {"mode": "gate"},
    }  # fmt: skip
    app.load(gated)
    app.arm()
    app.start()
    app.board.set_trigger_trace([(app.board.clock.now_us + 2_000_000, 1)])
    while app.session.running():
        loop(app, 100)
    loop(app, 100)
    log.close()
    text = report.report(str(path), session=-1)
    assert "gate (polarity high" in text
    assert "%g mA (%d trials" % (st["threshold_ma"], st["trials"]) in text
