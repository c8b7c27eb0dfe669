"""Board pin maps (issue 10.17): the checks the hazard table depends on, as data per MCU, in
firmware/tvns/board/config.py. The firmware runs them at boot (rp2.build, before any pin is
touched) and the host before anything is copied (`tvns board check FILE`, `tvns deploy`)."""

import copy
import json
import pathlib
import subprocess
import sys

import pytest
from rp2_support import fakes, pico_config
from tvns.board import config as C
from tvns.board import rp2
from tvns.errors import MISSING, OUT_OF_RANGE, TYPE, TvnsError

ROOT = pathlib.Path(__file__).resolve().parent.parent

# An ESP32 DevKitC map in the shape of hardware/boards/*.json (the ESP32 board's own).
ESP32 = {
    "name": "esp32-devkitc",
    "mcu": "esp32",
    "ceiling_ua": 8000,
    "tick_ms": 1,
    "wdt_timeout_ms": 300,
    "pins": {
        "phase_a": {"gpio": 18, "dir": "out", "safe": 0},
        "phase_b": {"gpio": 19, "dir": "out", "safe": 0},
        "sync": {"gpio": 21, "dir": "out", "safe": 0},
        "gate": {"gpio": 22, "dir": "out", "safe": 0},
        "dac": {"gpio": 25, "dir": "out", "safe": 0},
        "sense_adc": {"gpio": 36, "dir": "in", "safe": None},
        "estop": {"gpio": 27, "dir": "in", "safe": None, "pull": "up"},
        "compliance": {"gpio": 26, "dir": "in", "safe": None, "pull": "up"},
    },
    "dac": {"kind": "dac", "full_scale_ua": 10000},
    "estop": {"active": 1},  # e-stop loop to 3V3 through NC contacts: high = pressed
}


def problems(cfg):
    return sorted((e.field, e.code) for e in C.check_map(cfg))


def changed(base, path, value):
    cfg = copy.deepcopy(base)
    *keys, last = path
    target = cfg
    for k in keys:
        target = target[k]
    if value is None:
        del target[last]
    else:
        target[last] = value
    return cfg


def test_the_shipped_maps_are_fit():
    assert problems(pico_config()) == []
    assert problems(ESP32) == []
    for path in sorted((ROOT / "hardware" / "boards").glob("*.json")):
        assert problems(json.loads(path.read_text())) == [], path.name


RP2040_BAD = (
    # the e-stop on the phase A GPIO: one role per GPIO
    (("pins", "estop", "gpio"), 2, ("pins.phase_a.gpio", OUT_OF_RANGE)),
    # every monitor 50x slower than SAFETY.md claims
    (("tick_ms",), 50, ("tick_ms", OUT_OF_RANGE)),
    (("tick_ms",), 1.5, ("tick_ms", TYPE)),
    (("ceiling_ua",), 50000, ("ceiling_ua", OUT_OF_RANGE)),
    (("ceiling_ua",), 0, ("ceiling_ua", OUT_OF_RANGE)),
    (("wdt_timeout_ms",), 100, ("wdt_timeout_ms", OUT_OF_RANGE)),
    (("wdt_timeout_ms",), 2001, ("wdt_timeout_ms", OUT_OF_RANGE)),
    (("wdt_timeout_ms",), None, ("wdt_timeout_ms", MISSING)),
    (("pins", "sense_adc", "gpio"), 22, ("pins.sense_adc.gpio", OUT_OF_RANGE)),  # no ADC
    (("pins", "gate", "gpio"), 30, ("pins.gate.gpio", OUT_OF_RANGE)),  # no GP30
    (("pins", "gate", "gpio"), 25, ("pins.gate.gpio", OUT_OF_RANGE)),  # the Pico's LED
    (("pins", "phase_a", "safe"), 1, ("pins.phase_a.safe", OUT_OF_RANGE)),
    (("pins", "estop", "dir"), "out", ("pins.estop.dir", OUT_OF_RANGE)),
    (("pins", "estop"), None, ("pins.estop", MISSING)),
    (("pins", "estopp"), {"gpio": 17, "dir": "in"}, ("pins.estopp", OUT_OF_RANGE)),
    (("pins", "dac_pwm"), None, ("pins.dac_pwm", MISSING)),  # dac.kind = pwm needs it
    (("mcu",), "stm32", ("mcu", OUT_OF_RANGE)),
    # fail-safe inputs: a cut wire must read as the fault
    (("pins", "estop", "pull"), "up", ("pins.estop.pull", OUT_OF_RANGE)),  # NC loop, active 0
    (("pins", "estop", "pull"), None, ("pins.estop.pull", OUT_OF_RANGE)),
    (("pins", "kill", "pull"), "up", ("pins.kill.pull", OUT_OF_RANGE)),
    (("pins", "overcurrent", "pull"), "up", ("pins.overcurrent.pull", OUT_OF_RANGE)),
    (("pins", "compliance", "pull"), "down", ("pins.compliance.pull", OUT_OF_RANGE)),
)


@pytest.mark.parametrize("path, value, want", RP2040_BAD)
def test_an_rp2040_map_with_a_hole_is_refused_naming_the_field(path, value, want):
    assert want in problems(changed(pico_config(), path, value))


def test_the_watchdog_range_holds_the_flash_write_advice():
    for ms in (200, 300, 1000, 2000):  # >= 1 s rides out a worst-case flash erase
        assert problems(changed(pico_config(), ("wdt_timeout_ms",), ms)) == []


def test_the_side_set_group_must_be_consecutive():
    cfg = changed(pico_config(), ("pins", "sync", "gpio"), 12)
    assert problems(cfg) == [("pins.sync.gpio", OUT_OF_RANGE)]


ESP32_BAD = (
    (("pins", "gate", "gpio"), 34, ("pins.gate.gpio", OUT_OF_RANGE)),  # input-only
    (("pins", "gate", "gpio"), 12, ("pins.gate.gpio", OUT_OF_RANGE)),  # strapping
    (("pins", "gate", "gpio"), 6, ("pins.gate.gpio", OUT_OF_RANGE)),  # SPI flash
    (("pins", "estop", "gpio"), 1, ("pins.estop.gpio", OUT_OF_RANGE)),  # the console UART
    (("pins", "gate", "gpio"), 24, ("pins.gate.gpio", OUT_OF_RANGE)),  # no GPIO24
    (("pins", "dac", "gpio"), 27, ("pins.dac.gpio", OUT_OF_RANGE)),  # DAC on 25/26 only
    (("pins", "sense_adc", "gpio"), 4, ("pins.sense_adc.gpio", OUT_OF_RANGE)),  # ADC2
    (("pins", "estop", "pull"), "down", ("pins.estop.pull", OUT_OF_RANGE)),  # active 0? no: 1
    (("pins", "estop", "gpio"), 35, ("pins.estop.pull", OUT_OF_RANGE)),  # no internal pull
    (("dac", "kind"), "pwm", ("dac.kind", OUT_OF_RANGE)),  # the ESP32 board has no PWM DAC
    (("tick_ms",), 10, ("tick_ms", OUT_OF_RANGE)),
)


@pytest.mark.parametrize("path, value, want", ESP32_BAD)
def test_an_esp32_map_with_a_hole_is_refused_naming_the_field(path, value, want):
    assert want in problems(changed(ESP32, path, value))


def test_every_problem_is_reported_at_once():
    cfg = changed(pico_config(), ("tick_ms",), 50)
    cfg["ceiling_ua"] = 50000
    cfg["pins"]["estop"]["gpio"] = 2
    fields = {f for f, _c in problems(cfg)}
    assert {"tick_ms", "ceiling_ua", "pins.phase_a.gpio"} <= fields
    for e in C.check_map(cfg):
        assert e.field in e.message  # each message names its field


def test_the_firmware_refuses_a_bad_map_at_boot_before_touching_a_pin():
    machine, rp2_fake = fakes()
    cfg = changed(pico_config(), ("pins", "estop", "gpio"), 2)
    with pytest.raises(TvnsError) as e:
        rp2.build(cfg, machine, rp2_fake, None)
    assert e.value.field == "pins.phase_a.gpio" and "estop" in e.value.message
    assert not [x for x in machine.log if x[0] == "pin_init"]
    cfg = changed(pico_config(), ("tick_ms",), 50)
    with pytest.raises(TvnsError) as e:
        rp2.build(cfg, machine, rp2_fake, None)
    assert e.value.field == "tick_ms"


def test_the_esp32_board_runs_the_same_checks_at_boot():
    from esp32_support import build, esp32_config

    with pytest.raises(TvnsError) as e:
        build(esp32_config(tick_ms=50))
    assert e.value.field == "tick_ms"
    build()  # the shipped map boots


def _tvns(*args):
    return subprocess.run(
        [sys.executable, "-m", "tvns_tools.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_tvns_board_check(tmp_path):
    r = _tvns("board", "check", ROOT / "hardware" / "boards" / "pico.json")
    assert r.returncode == 0 and "fit for the rp2040" in r.stdout, r.stderr
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(changed(changed(pico_config(), ("tick_ms",), 50), ("ceiling_ua",), 50000))
    )
    r = _tvns("board", "check", bad)
    assert r.returncode == 2 and "tick_ms" in r.stderr and "ceiling_ua" in r.stderr, r.stderr
    r = _tvns("board", "check", bad, "--json")
    doc = json.loads(r.stdout)
    assert r.returncode == 2 and doc["valid"] is False
    assert {e["field"] for e in doc["errors"]} == {"tick_ms", "ceiling_ua"}
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    r = _tvns("board", "check", broken)
    assert r.returncode == 2 and r.stderr.startswith("tvns: ")


def test_deploy_checks_the_map_before_it_connects(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(changed(pico_config(), ("ceiling_ua",), 50000)))
    # no such port: a deploy that connected first would fail on the port, not on the map
    r = _tvns("deploy", "--port", tmp_path / "no-port", "--board", "rp2", "--config", bad)
    assert r.returncode == 2 and "ceiling_ua" in r.stderr and "mpremote" not in r.stderr


# The Pico's 40 header pins in order (Raspberry Pi Pico datasheet, pinout), written out
# independently of tools/tvns_tools/boardcheck.py's table.
PICO_PINOUT = (
    "GP0 GP1 GND GP2 GP3 GP4 GP5 GND GP6 GP7 GP8 GP9 GND GP10 GP11 GP12 GP13 GND GP14 GP15 "
    "GP16 GP17 GND GP18 GP19 GP20 GP21 GND GP22 RUN GP26 GP27 GND GP28 ADC_VREF 3V3 3V3_EN "
    "GND VSYS VBUS"
).split()


def test_the_pico_map_gives_the_physical_pin_beside_every_gpio():
    """Issue 13: physical Pico pin numbers beside GPIO numbers: every pin of pico.json has
    its `header` (as the ESP32 map names its DevKitC pins), and it is the pin that GPIO is
    on."""
    from tvns_tools import boardcheck

    assert len(PICO_PINOUT) == 40
    assert boardcheck.PICO_PHYSICAL == {
        int(label[2:]): n for n, label in enumerate(PICO_PINOUT, 1) if label.startswith("GP")
    }
    cfg = pico_config()
    for name, spec in cfg["pins"].items():
        assert PICO_PINOUT[spec["header"] - 1] == "GP%d" % spec["gpio"], name
    assert boardcheck.header_errors(cfg) == []


def test_a_wrong_physical_pin_in_the_pico_map_is_refused_naming_it(tmp_path):
    bad = tmp_path / "bad.json"
    cfg = changed(pico_config(), ("pins", "estop", "header"), 20)  # GP16 is pin 21
    cfg = changed(cfg, ("pins", "sense_adc", "header"), 30)  # pin 30 is RUN
    bad.write_text(json.dumps(cfg))
    r = _tvns("board", "check", bad, "--json")
    doc = json.loads(r.stdout)
    assert r.returncode == 2 and doc["valid"] is False
    msgs = {e["field"]: e["message"] for e in doc["errors"]}
    assert set(msgs) == {"pins.estop.header", "pins.sense_adc.header"}
    assert "GPIO16 is physical pin 21 of the pico" in msgs["pins.estop.header"]
    assert "GPIO26 is physical pin 31" in msgs["pins.sense_adc.header"]
    # the same map on another module is not held to the Pico's pinout
    other = changed(cfg, ("name",), "my-rp2040-board")
    bad.write_text(json.dumps(other))
    assert _tvns("board", "check", bad).returncode == 0
