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


# The stage's inputs at rest: KILL_n, the e-stop loop and OC_OK high (released); the
# compliance comparator low. Unconnected, each reads asserted (pull-downs: fail closed).
AT_REST = {7: 1, 16: 1, 17: 1, 15: 0}


def build_board(config=None, inputs=AT_REST):
    from tvns.board import rp2 as board_rp2

    machine, rp2 = fakes()
    for gpio, level in inputs.items():
        machine.set_input(gpio, level)
    board = board_rp2.build(config or pico_config(), machine, rp2, FakeTime())
    return board, machine, rp2


def pulse_sm(rp2, config=None):
    """The fake of the pulse state machine (pio.sm of the pin map)."""
    sm_id = (config or pico_config())["pio"]["sm"]
    return [sm for sm in rp2.StateMachine.instances if sm.id == sm_id][-1]


def kill_sm(rp2, config=None):
    k_id = (config or pico_config())["pio"]["kill_sm"]
    return [sm for sm in rp2.StateMachine.instances if sm.id == k_id][-1]
