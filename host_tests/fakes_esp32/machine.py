# Host stand-in for MicroPython's `machine` on the esp32 port, for the MicroPython unix
# runtime (MICROPYPATH=host_tests/fakes_esp32:firmware) and CPython. Everything comes from
# one simulated chip (firmware/tvns/board/simesp32hw.py, simesp32mod.py: MicroPython
# v1.28.0's esp32 semantics) on its own virtual clock: the board code gets that clock as
# its time module (`machine.chip.clock`), so RMT frames and ticks share one time line.
# Each write_pulses call costs 20 us before its frame starts and 10 us after.
from tvns.board.simesp32mod import new_chip

chip = new_chip(entry_us=20, return_us=10)
_m = chip.machine
Pin, ADC, DAC, I2C, Timer, WDT = _m.Pin, _m.ADC, _m.DAC, _m.I2C, _m.Timer, _m.WDT
reset_cause, freq, disable_irq, enable_irq = _m.reset_cause, _m.freq, _m.disable_irq, _m.enable_irq
unique_id = _m.unique_id
PWRON_RESET, HARD_RESET, WDT_RESET, DEEPSLEEP_RESET, SOFT_RESET = 1, 2, 3, 4, 5
