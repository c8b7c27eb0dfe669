"""Run by test_esp32_micropython.py under the MicroPython unix runtime with the ESP32 fakes
first on MICROPYPATH (host_tests/fakes_esp32: `machine` and `esp32` on one silicon model).
The firmware's esp32 board is built by its own build() from the real `import machine` /
`import esp32`, a session runs through App, and every soft-timer callback (feed, tick,
feed) runs under micropython.heap_lock(): nothing on the ESP32's tick path allocates.
Prints one line per check and `ESP32 OK` at the end."""

import json
import os
import sys

import esp32  # noqa: F401 - the fake, as board.build() would import it
import machine
import micropython
from tvns import session as S
from tvns.app import App
from tvns.board import esp32 as board_esp32

chip = machine.chip
clock = chip.clock
with open("hardware/boards/esp32-devkitc.json") as f:
    cfg = json.load(f)
cfg["state_file"] = sys.argv[1]  # a fresh path: the board's flash for this run
for stale in (cfg["state_file"], cfg["state_file"] + ".tmp", cfg["state_file"] + ".bak"):
    try:
        os.remove(stale)
    except OSError:
        pass
pins = cfg["pins"]
chip.inputs[pins["estop"]["gpio"]] = 1
chip.inputs[pins["overcurrent"]["gpio"]] = 1
chip.inputs[pins["latch_q"]["gpio"]] = 0
chip.inputs[pins["compliance"]["gpio"]] = 0
chip.adc_uv[pins["sense_adc"]["gpio"]] = 200000

# boot.py first, as on the chip: every output at its safe level (the map is board.json)
import boot  # noqa: E402 - on this host platform its own main() does nothing

boot.drive_safe(machine, boot.safe_pins(cfg))
for role in ("phase_a", "phase_b", "sync", "gate", "latch_reset"):
    assert chip.pad_level(pins[role]["gpio"]) == pins[role]["safe"], role
print("boot: safe levels")

board = board_esp32.build(cfg, time_mod=clock)
assert board.name == "esp32-devkitc"
app = App(board)
app.load(
    {
        "schema": 1, "name": "mp", "amplitude_ma": 1.0, "pulse_width_us": 250,
        "interphase_gap_us": 20, "frequency_hz": 100, "on_s": 0.5, "off_s": 0.5,
        "ramp_up_s": 1, "ramp_down_s": 1, "session_s": 4, "electrode_area_cm2": 1.0,
        "sham": False,
    }
)  # fmt: skip
app.arm()
app.start()
(timer,) = chip.timers
assert timer.callback is not None and not getattr(timer, "hard", False)
print("built, armed, started")


def sense_follows_the_setpoint():
    # the ADC sees what the DAC set (100 ohm x 1 on the 200 mV pedestal) while pulses run
    chip.adc_uv[pins["sense_adc"]["gpio"]] = 200000 + board.dac.value_ua * 100


def run(ms):
    """ms callbacks of the 1 ms soft timer, each under heap_lock (the fake's recording off)."""
    fire = timer.fire
    chip.recording = False
    for _ in range(ms):
        clock.now_us += 1000
        sense_follows_the_setpoint()
        micropython.heap_lock()
        try:
            fire()
        finally:
            micropython.heap_unlock()
    chip.recording = True


run(2500)  # ramp up, ON, OFF, ON: gate edges, ramp steps, a pulse per period
assert app.session.state in (S.ON, S.OFF, S.RAMP_DOWN), app.status()
written = board.engine.pulses()
assert written > 100, written
print("2.5 s of ticks allocation-free, %d pulses written" % written)
# the e-stop soft IRQ and the fault path (stop, DAC 0) under heap_lock too
chip.inputs[pins["estop"]["gpio"]] = 0
chip.poll_inputs()
run(2)
assert app.session.state == S.FAULT and board.dac.value_ua == 0 and not board.engine.gated
print("e-stop: FAULT, output off, allocation-free")
assert [c.grows for c in chip.channels if not c.deleted] == [1, 1, 1], "item buffers grew"
assert chip.blocked_us == 0 and chip.spin_us == 0
print("ESP32 OK")
