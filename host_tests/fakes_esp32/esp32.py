# Host stand-in for MicroPython's `esp32` module (the RMT class), on the chip of the
# `machine` stand-in beside it (host_tests/fakes_esp32/machine.py).
from machine import chip

RMT = chip.esp32.RMT
