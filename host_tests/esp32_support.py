"""Helpers for the ESP32 tests: the DevKitC pin map, the firmware's esp32 board built on a
fresh silicon model (firmware/tvns/board/simesp32hw.py, simesp32mod.py: MicroPython
v1.28.0's esp32 semantics), and the pulses read back from what the pads drove. Not a test
module."""

import copy
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
ESP32_JSON = ROOT / "hardware" / "boards" / "esp32-devkitc.json"
FAKES_ESP32 = ROOT / "host_tests" / "fakes_esp32"


def esp32_config(**changes):
    """The DevKitC map; changes as dotted keys: esp32_config(**{"rmt.latency_us": 3000})."""
    cfg = json.loads(ESP32_JSON.read_text())
    for key, value in changes.items():
        d = cfg
        parts = key.split(".")
        for p in parts[:-1]:
            d = d.setdefault(p, {})
        if value is None:
            d.pop(parts[-1], None)
        else:
            d[parts[-1]] = value
    return cfg


def sim_config():
    """The map as the sim tests use it: the ceiling at 10 mA, so every valid protocol loads
    (the sense window still holds 110 % of it)."""
    return esp32_config(ceiling_ua=10000)


def build(config=None, entry_us=20, return_us=10, jitter_us=0, seed=1):
    """(board, chip) on a fresh chip whose clock is the board's time module."""
    from tvns.board import esp32 as board_esp32
    from tvns.board.simesp32mod import new_chip

    chip = new_chip(entry_us=entry_us, return_us=return_us, jitter_us=jitter_us, seed=seed)
    pins = (config or esp32_config())["pins"]
    chip.inputs[pins["estop"]["gpio"]] = 1  # released (normally closed loop)
    chip.inputs[pins["overcurrent"]["gpio"]] = 1  # OC_OK
    chip.inputs[pins["latch_q"]["gpio"]] = 0  # latch clear
    chip.adc_uv[pins["sense_adc"]["gpio"]] = 200_000  # the pedestal: 0 mA
    board = board_esp32.build(
        copy.deepcopy(config or esp32_config()), chip.machine, chip.esp32, chip.clock
    )
    return board, chip


def run_ms(board, chip, ms, tick_ms=1):
    """The board's soft timer every tick_ms: the engine's feed (no scheduler here)."""
    end = chip.clock.now_us + ms * 1000
    while chip.clock.now_us < end:
        chip.clock.now_us = (chip.clock.now_us // 1000 + tick_ms) * 1000
        chip.run_scheduled()
        board.engine.feed()


def highs(chip, gpio):
    """[(rise_us, fall_us)] of a pad, from its edges (fractions of a us kept as floats)."""
    out = []
    rise = None
    for t, level in chip.edges(gpio):
        if level:
            rise = t
        elif rise is not None:
            out.append((rise / 80, t / 80))
            rise = None
    return out


def pulses(chip, config=None):
    """[(a_rise, a_fall, b_rise, b_fall)] in us: each phase A with the phase B that starts
    after it and before the next phase A (None, None when there is none)."""
    pins = (config or esp32_config())["pins"]
    a = highs(chip, pins["phase_a"]["gpio"])
    b = highs(chip, pins["phase_b"]["gpio"])
    out = []
    for i, (ra, fa) in enumerate(a):
        nxt = a[i + 1][0] if i + 1 < len(a) else float("inf")
        mine = [iv for iv in b if ra <= iv[0] < nxt]
        out.append((ra, fa) + (mine[0] if mine else (None, None)))
    return out


def sim_esp32(**kw):
    """The ESP32 board model for the sim tests (same keywords as SimBoard)."""
    from tvns.board.simesp32 import SimEsp32Board

    return SimEsp32Board(sim_config(), **kw)


def boards():
    """{name: factory} of the boards the sim tests run on: the sim board and the ESP32 model."""
    from tvns.board.sim import SimBoard

    return {"sim": SimBoard, "esp32": sim_esp32}
