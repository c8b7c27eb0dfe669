"""`tvns verify` on triggered protocols (docs/VERIFY.md "Triggered protocols"): the capture's
trigger wire places the bursts. A `tvns simulate --trigger` trace passes in each mode;
captures broken on purpose (a pulse outside the gate, a late burst, a cap broken, a marker
off, a train without an edge) fail with the check named; a triggered protocol without a
trigger channel is one line, exit 1; the same through a Saleae CSV (`trigger=` mapping) and
a sigrok session."""

import json
import shutil

import pytest
import verify_support as vc
from tiers import require
from tvns.board.simrun import simulate
from tvns.board.simtrace import iter_pulses
from tvns_tools import cli, trigtrace
from tvns_tools.verify import Unreadable

GATED = {
    **vc.BENCH,
    "name": "gated-25hz",
    "frequency_hz": 25,
    "pulse_width_us": 250,
    "interphase_gap_us": 20,
    "on_s": 30,
    "off_s": 0,
    "session_s": 30,
    "trigger": {"mode": "gate", "min_gap_s": 0.5, "max_trains_per_min": 30},
}
TRAIN = {**GATED, "name": "trains", "on_s": 2, "trigger": {"mode": "train", "min_gap_s": 1}}
START = {**GATED, "name": "started", "on_s": 5, "off_s": 5, "trigger": {"mode": "start"}}
EDGES = [(2.5, 1), (2.6, 0), (3.0, 1), (3.1, 0), (9.0, 1), (9.3, 0), (15.2, 1), (15.25, 0)]
BREATH = trigtrace.breathing(30)  # 15 breaths a minute, 2 s exhalation windows from 3 s
PERIOD_US = 40_000


def run(doc, trace):
    """The sim board's run as editable lists (times in us, PRE_US from the capture start)."""
    res = simulate(json.dumps(doc), trigger=trace)
    pre = vc.PRE_US
    pulses = [
        {"a": t + pre, "wa": w, "gap": g, "wb": w, "amp": amp}
        for t, amp, w, g in iter_pulses(res["segments"])
    ]
    wires = {
        "gate": [(t + pre, v) for t, v in res["gate_edges"]],
        "trigger": [(t + pre, v) for t, v in res["trigger_edges"] if t < res["sim_s"] * 1e6],
        "marker": [(t + pre, v) for t, v in res["marker_edges"]],
    }
    return pulses, wires, int(res["sim_s"] * 1e6) + pre + vc.POST_US


def write_vcd(path, pulses, wires, end_us):
    from vcd import VCDWriter

    with open(path, "w") as f:
        w = VCDWriter(f, timescale="1 us", date="today")
        names = ["phase_a", "phase_b", "sync", *wires]
        var = {n: w.register_var("capture", n, "wire", size=1, init=0) for n in names}
        events = vc.edges(pulses) + [(t, n, v) for n, seq in wires.items() for t, v in seq]
        for t, name, level in sorted(events, key=lambda e: (e[0], e[2])):
            w.change(var[name], t, level)
        w.close(end_us)
    return path


def bursts(pulses):
    return vc.train_starts(pulses, PERIOD_US)


@pytest.fixture(scope="module")
def gated(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trig")
    return (tmp, vc.protocol_file(tmp, GATED, "gated.json"), *run(GATED, BREATH))


def _check(doc, name):
    return next(r for r in doc["checks"] if r["check"] == name)


def test_simulated_gate_trace_passes_through_the_cli(tmp_path):
    """The done-when: `tvns simulate --trigger F --vcd V`, then `tvns verify V P` exits 0."""
    proto = vc.protocol_file(tmp_path, GATED, "gated.json")
    trace, vcd = tmp_path / "breath.csv", tmp_path / "gated.vcd"
    trigtrace.write(trace, BREATH)
    argv = ["simulate", proto, "--runtime", "cpython", "--trigger", trace, "--vcd", vcd]
    assert cli.main([str(a) for a in argv]) == 0
    assert cli.main(["verify", str(vcd), str(proto)]) == 0
    doc, failed = vc.run_verify(vcd, proto)
    assert failed == set()
    assert doc["capture"]["channels"]["trigger"] == "trigger"
    for name in ("trigger_gate", "trigger_latency", "trigger_stop", "marker", "ramp"):
        assert _check(doc, name)["status"] == "pass", name
    assert _check(doc, "trigger_rate")["measured"].startswith("max 7 in 60 s")
    text = (vc.ROOT / "docs" / "VERIFY.md").read_text()
    for row in doc["checks"]:
        assert "`%s`" % row["check"] in text, row["check"]


def test_gate_capture_passes_and_broken_ones_fail_named(gated):
    tmp, proto, pulses, wires, end_us = gated
    doc, failed = vc.run_verify(write_vcd(tmp / "ok.vcd", pulses, wires, end_us), proto)
    assert failed == set() and doc["counts"]["pulses"] == len(pulses) > 300
    starts = bursts(pulses)
    # a pulse in the middle of an inhalation (input inactive: 5..7 s of the trace)
    stray = dict(pulses[0], a=6_000_000 + vc.PRE_US)
    broken = sorted(pulses + [stray], key=lambda p: p["a"])
    _doc, failed = vc.run_verify(write_vcd(tmp / "out.vcd", broken, wires, end_us), proto)
    assert "trigger_gate" in failed
    # the third burst starts 3 ms late (all of it moved)
    k0, k1 = starts[2], starts[3]
    late = [dict(p, a=p["a"] + 3000) if k0 <= i < k1 else p for i, p in enumerate(pulses)]
    doc, failed = vc.run_verify(write_vcd(tmp / "late.vcd", late, wires, end_us), proto)
    assert "trigger_latency" in failed
    at = _check(doc, "trigger_latency")["first_mismatch_s"]
    assert at == pytest.approx(pulses[k0]["a"] / 1e6 + 0.003)
    # a burst that runs on a period after the input went inactive
    extra = dict(pulses[k1 - 1], a=pulses[k1 - 1]["a"] + 2 * PERIOD_US)
    over = sorted(pulses + [extra], key=lambda p: p["a"])
    _doc, failed = vc.run_verify(write_vcd(tmp / "over.vcd", over, wires, end_us), proto)
    assert {"trigger_stop", "trigger_gate"} <= failed
    # the marker of the second burst 150 ms late
    mk = [(t + 150_000 if i == 2 else t, v) for i, (t, v) in enumerate(wires["marker"])]
    moved = dict(wires, marker=mk)
    _doc, failed = vc.run_verify(write_vcd(tmp / "mk.vcd", pulses, moved, end_us), proto)
    assert failed == {"marker"}


def test_gate_caps_hold_in_the_capture(gated, tmp_path):
    """The same capture against stricter caps: what the firmware would have refused shows."""
    _tmp, _proto, pulses, wires, end_us = gated
    vcd = write_vcd(tmp_path / "c.vcd", pulses, wires, end_us)
    rate = dict(GATED, trigger={**GATED["trigger"], "max_trains_per_min": 5})
    _doc, failed = vc.run_verify(vcd, vc.protocol_file(tmp_path, rate, "rate.json"))
    assert "trigger_rate" in failed
    gap = dict(GATED, trigger={**GATED["trigger"], "min_gap_s": 3})
    _doc, failed = vc.run_verify(vcd, vc.protocol_file(tmp_path, gap, "gap.json"))
    assert "trigger_gap" in failed
    stim = dict(GATED, trigger={**GATED["trigger"], "max_stim_s": 5})
    doc, failed = vc.run_verify(vcd, vc.protocol_file(tmp_path, stim, "stim.json"))
    assert "trigger_stim" in failed
    assert _check(doc, "trigger_stim")["expected"] == "<= 125 pulses"


def test_low_polarity_reads_the_wire_inverted(tmp_path):
    doc_low = dict(GATED, trigger={**GATED["trigger"], "polarity": "low"})
    trace = [(0.0, 1)] + [(t, 1 - v) for t, v in BREATH]
    pulses, wires, end_us = run(doc_low, trace)
    proto = vc.protocol_file(tmp_path, doc_low, "low.json")
    vcd = write_vcd(tmp_path / "low.vcd", pulses, wires, end_us)
    _doc, failed = vc.run_verify(vcd, proto)
    assert failed == set()
    # read as active-high, every pulse is outside the gate
    _doc, failed = vc.run_verify(vcd, vc.protocol_file(tmp_path, GATED, "high.json"))
    assert "trigger_gate" in failed


def test_train_mode(tmp_path):
    pulses, wires, end_us = run(TRAIN, EDGES)
    proto = vc.protocol_file(tmp_path, TRAIN, "train.json")
    doc, failed = vc.run_verify(write_vcd(tmp_path / "t.vcd", pulses, wires, end_us), proto)
    assert failed == set()
    assert _check(doc, "trigger_train")["measured"] == "51 pulses (3 trains)"
    # the edge at 9.0 s removed from the record: that train has no edge
    trig = [(t, v) for t, v in wires["trigger"] if abs(t - vc.PRE_US - 9_150_000) > 200_000]
    vcd = write_vcd(tmp_path / "noedge.vcd", pulses, dict(wires, trigger=trig), end_us)
    _doc, failed = vc.run_verify(vcd, proto)
    assert "trigger_train" in failed
    # a train cut short (10 pulses of the second taken away)
    k = bursts(pulses)[1]
    short = pulses[: k + 30] + pulses[k + 40 :]
    vcd = write_vcd(tmp_path / "short.vcd", short, wires, end_us)
    _doc, failed = vc.run_verify(vcd, proto)
    assert "trigger_train" in failed


def test_start_mode_places_the_session_at_the_edge(tmp_path):
    pulses, wires, end_us = run(START, EDGES)
    proto = vc.protocol_file(tmp_path, START, "start.json")
    vcd = write_vcd(tmp_path / "s.vcd", pulses, wires, end_us)
    doc, failed = vc.run_verify(vcd, proto)
    assert failed == set()
    assert doc["alignment"]["session_start_s"] == pytest.approx(
        (vc.PRE_US + 2_500_000) / 1e6, abs=0.002
    )
    # the recorded edge 0.5 s later than the session began: the start does not follow it
    trig = [(t + 500_000 if t > 0 else t, v) for t, v in wires["trigger"]]
    vcd = write_vcd(tmp_path / "s2.vcd", pulses, dict(wires, trigger=trig), end_us)
    _doc, failed = vc.run_verify(vcd, proto)
    assert "trigger_start" in failed


def test_triggered_protocol_without_a_trigger_channel_is_one_line(gated, capsys):
    tmp, proto, pulses, wires, end_us = gated
    vcd = write_vcd(tmp / "notrig.vcd", pulses, {"gate": wires["gate"]}, end_us)
    with pytest.raises(Unreadable) as exc:
        vc.run_verify(vcd, proto)
    msg = str(exc.value)
    assert exc.value.exit_code == 1 and "\n" not in msg
    assert "no trigger channel" in msg and "--channels trigger=" in msg
    assert cli.main(["verify", str(vcd), str(proto)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tvns: ") and "Traceback" not in err


def test_saleae_csv_with_a_trigger_channel_mapping(gated):
    """Logic 2 export, Channel 0..5: the trigger and marker named with --channels."""
    tmp, proto, pulses, wires, end_us = gated
    names = ["phase_a", "phase_b", "sync", "gate", "trigger", "marker"]
    level = dict.fromkeys(names, 0)
    events = vc.edges(pulses) + [(t, n, v) for n, seq in wires.items() for t, v in seq]
    lines = ["Time [s]," + ",".join("Channel %d" % i for i in range(len(names)))]
    for t, name, v in sorted(events, key=lambda e: (e[0], e[2])):
        level[name] = v
        lines.append("%.9f,%s" % (t / 1e6, ",".join(str(level[n]) for n in names)))
    lines.append("%.9f,%s" % (end_us / 1e6, ",".join(str(level[n]) for n in names)))
    path = tmp / "saleae.csv"
    path.write_text("\n".join(lines) + "\n")
    spec = "phase_a=D0,phase_b=D1,sync=D2,gate=D3,trigger=D4,marker=D5"
    doc, failed = vc.run_verify(path, proto, channels=spec, sample_rate_hz=1e6)
    assert failed == set() and doc["capture"]["channels"]["trigger"] == "Channel 4"
    with pytest.raises(Unreadable):
        vc.run_verify(path, proto, channels="phase_a=D0,phase_b=D1", sample_rate_hz=1e6)


def test_sigrok_round_trip_of_a_triggered_trace(gated):
    require(shutil.which("sigrok-cli"), "sigrok-cli")
    tmp, proto, pulses, wires, end_us = gated
    sr = vc.to_sr(write_vcd(tmp / "sr.vcd", pulses, wires, end_us), tmp / "trig.sr")
    doc, failed = vc.run_verify(sr, proto)
    assert doc["capture"]["format"] == "sigrok session (.sr)"
    assert failed == set() and doc["capture"]["channels"]["trigger"] == "trigger"
    starts = bursts(pulses)
    late = [dict(p, a=p["a"] + 3000) if starts[2] <= i < starts[3] else p
            for i, p in enumerate(pulses)]  # fmt: skip
    sr = vc.to_sr(write_vcd(tmp / "sr_late.vcd", late, wires, end_us), tmp / "late.sr")
    _doc, failed = vc.run_verify(sr, proto)
    assert "trigger_latency" in failed
