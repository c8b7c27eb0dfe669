"""Helpers for the rp2 board tests: host fakes loaded under private names.

The fakes are never registered as `machine` / `rp2` in sys.modules, so no other test
can see them; the board code gets them injected through build(config, machine, rp2).
"""

import importlib.util
import json
import pathlib

from tvns_tools import pio_sim

ROOT = pathlib.Path(__file__).resolve().parent.parent
FAKES = ROOT / "host_tests" / "fakes"
PICO_JSON = ROOT / "hardware" / "boards" / "pico.json"

_mods = {}


def fake_machine():
    if "machine" not in _mods:
        spec = importlib.util.spec_from_file_location("_tvns_fake_machine", FAKES / "machine.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        _mods["machine"] = mod
    return _mods["machine"]


def fakes():
    """(machine, rp2) fakes, reset to a clean record."""
    machine = fake_machine()
    rp2 = pio_sim.fake_rp2()
    machine.reset()
    rp2.reset()
    return machine, rp2


def pico_config():
    return json.loads(PICO_JSON.read_text())


class FakeTime:
    """time with ticks_* and sleep_ms; ticks advance 1 us per ticks_us() call."""

    def __init__(self):
        self.now_us = 0
        self.slept_ms = []

    def ticks_us(self):
        self.now_us += 1
        return self.now_us

    def ticks_ms(self):
        return self.now_us // 1000

    def ticks_diff(self, a, b):
        return a - b

    def ticks_add(self, a, b):
        return a + b

    def sleep_ms(self, ms):
        self.slept_ms.append(ms)
        self.now_us += ms * 1000


def build_board(config=None):
    from tvns.board import rp2 as board_rp2

    machine, rp2 = fakes()
    board = board_rp2.build(config or pico_config(), machine, rp2, FakeTime())
    return board, machine, rp2
