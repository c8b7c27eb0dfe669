"""The emulator harness's host-side parts, without the emulator: firmware lookup, littlefs
images, the stage's arithmetic, pulse analysis, the model comparison, timeout scaling and
the `tvns emulate` argument errors. Fast; the emulated board itself is test_rp2emu.py."""

import json
import os
import subprocess
import sys

import pytest
from tvns_tools import transport
from tvns_tools.firmware import ROOT
from tvns_tools.rp2emu import capture, harness, image, stage


def test_find_firmware_order(tmp_path, monkeypatch):
    uf2 = tmp_path / "fw" / "firmware-RPI_PICO-v1.28.0.uf2"
    uf2.parent.mkdir()
    uf2.write_bytes(b"UF2")
    monkeypatch.setenv(image.ENV_FIRMWARE, str(uf2.parent))  # a folder holding one
    assert image.find_firmware() == uf2
    monkeypatch.setenv(image.ENV_FIRMWARE, str(tmp_path / "missing.uf2"))
    assert image.find_firmware() is None  # named and absent: not found, no fallback
    monkeypatch.delenv(image.ENV_FIRMWARE)
    root = tmp_path / "proj" / "wt"
    root.mkdir(parents=True)
    shared = tmp_path / "proj" / "shared" / "rp2"
    shared.mkdir(parents=True)
    (shared / uf2.name).write_bytes(b"UF2")
    assert image.find_firmware(root, retrieve=False) == shared / uf2.name


def test_littlefs_image_round_trip(tmp_path):
    files = {"main.py": b"print(1)\n", "tvns/board/rp2.mpy": b"M\x06", "board.json": b"{}"}
    img = image.build(files, tmp_path / "a.img")
    _start, bs, bc = image.layout()
    assert img.stat().st_size == bs * bc
    assert image.read(img) == files
    more = image.overlay(img, {"main.py": b"x", "emu_hooks.py": b"y"}, tmp_path / "b.img")
    assert image.read(more) == dict(files, **{"main.py": b"x", "emu_hooks.py": b"y"})


def test_loads_and_the_stage_arithmetic():
    assert [stage.load_ohms(x) for x in ("500", "2k", "10k", "open", "short", "4.7k")] == [
        500,
        2000,
        10000,
        None,
        0,
        4700,
    ]
    with pytest.raises(ValueError, match="load"):
        stage.load_ohms("2kk")
    cfg = harness.pico_config()
    st = stage.OutputStage(emu=None, config=cfg, load="10k")
    assert st.gpio["phase_a"] == cfg["pins"]["phase_a"]["gpio"]  # from the pin map
    assert st.hang_gpio not in {p["gpio"] for p in cfg["pins"].values()}
    assert st.current_ua(100) == (100, False)
    assert st.current_ua(1000) == (1000, True)  # OS-1's impedance term: 10 kohm at 1 mA
    assert st.current_ua(3000) == (2920, True)  # 29.2 V into 10 kohm: out of headroom
    st.set_load("2k")
    assert st.current_ua(8000) == (8000, False)  # the impedance term never trips 2 kohm
    # the ADC rounds down: at the ceiling a reading never exceeds it (firmware's k_q12 math)
    k_q12 = int(3300 * 1000 * 4096 / (4095 * 100) + 0.5)
    for ua in (100, 1000, cfg["ceiling_ua"], 9999):
        assert (st.adc_counts(ua) * k_q12) >> 12 <= ua
    assert st.adc_counts(10**6) == 4095


def _edges(pulses_at, width=200_000, gap=20_000, gate=None):
    out = []
    for t in pulses_at:
        out += [(t, "phase_a", 1), (t + width, "phase_a", 0)]
        out += [(t + width + gap, "phase_b", 1), (t + 2 * width + gap, "phase_b", 0)]
    return sorted(out)


def test_pulse_analysis_and_overlap():
    edges = _edges([0, 10_000_000])
    ps = capture.pulses(edges)
    assert [(p["width_a_ns"], p["gap_ns"], p["width_b_ns"]) for p in ps] == [
        (200_000, 20_000, 200_000)
    ] * 2
    assert capture.overlaps(edges) == []
    bad = sorted(edges + [(100_000, "phase_b", 1), (150_000, "phase_b", 0)])
    assert capture.overlaps(bad) == [100_000]


def test_model_comparison_catches_a_wrong_width():
    proto = {
        "schema": 1,
        "name": "t",
        "amplitude_ma": 0.3,
        "pulse_width_us": 200,
        "interphase_gap_us": 20,
        "frequency_hz": 100,
        "on_s": 1,
        "off_s": 0,
        "ramp_up_s": 1,
        "ramp_down_s": 1,
        "session_s": 2,
        "electrode_area_cm2": 1.0,
        "sham": False,
    }
    model, _ = harness.model_pulses(proto)
    t_us = [t for t, *_ in model]
    amps = [a for _t, a, *_ in model]
    gate = [(0, 1), (t_us[-1] * 1000 + 5_000_000, 0)]
    good = capture.pulses(_edges([t * 1000 for t in t_us]))
    assert harness.compare_with_model(proto, good, amps, gate) == []
    wide = capture.pulses(_edges([t * 1000 for t in t_us], width=203_000))
    assert any("width_a_ns" in p for p in harness.compare_with_model(proto, wide, amps, gate))
    early = [(0, 1), (t_us[-1] * 1000 - 50_000_000, 0)]  # pulses after the train closed
    assert any("outside" in p for p in harness.compare_with_model(proto, good, amps, early))


def test_timeout_scale_from_the_env_and_a_registered_port(monkeypatch, tmp_path):
    monkeypatch.delenv(transport.ENV_TIMEOUT_SCALE, raising=False)
    port = str(tmp_path / "ttyEMU")
    assert transport.timeout_scale(port) == 1.0
    undo = transport.register_emulated_port(port, 60)
    try:
        assert transport.timeout_scale(port) == 60.0
        monkeypatch.setenv(transport.ENV_TIMEOUT_SCALE, "3")
        assert transport.timeout_scale(port) == 3.0
        monkeypatch.setenv(transport.ENV_TIMEOUT_SCALE, "0.5")
        with pytest.raises(transport.ToolError, match=transport.ENV_TIMEOUT_SCALE):
            transport.timeout_scale(port)
    finally:
        undo()
    monkeypatch.delenv(transport.ENV_TIMEOUT_SCALE)
    assert transport.timeout_scale(port) == 1.0


def test_emulate_refuses_bad_arguments_without_a_traceback(tmp_path):
    env = dict(os.environ, TVNS_RP2_FIRMWARE=str(tmp_path / "none.uf2"))
    tvns = [sys.executable, "-m", "tvns_tools.cli", "emulate"]
    r = subprocess.run(tvns + ["--load", "3x"], capture_output=True, text=True, env=env)
    assert (
        r.returncode == 2 and r.stderr.startswith("tvns: load '3x'") and "Traceback" not in r.stderr
    )
    r = subprocess.run(tvns + ["--pty"], capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "no MicroPython rp2 UF2" in r.stderr and r.stdout == ""
    assert json.loads((ROOT / "hardware" / "boards" / "pico.json").read_text())["name"] == "pico"
