# Host only: the `machine` module stand-in of a Chip (simesp32hw.py), with MicroPython
# v1.28.0's esp32-port signatures, constants and errors, and new_chip(): a Chip with its
# `machine` and `esp32` (simesp32rmt.py) stand-ins. Built per chip, so two simulated boards
# never share a pin.
from tvns.board.simesp32hw import (
    ADC_PINS,
    ADC_WINDOW_MV,
    INPUT_ONLY,
    NO_PAD,
    Chip,
    Module,
    as_int,
)
from tvns.board.simesp32rmt import esp32_module


def new_chip(clock=None, entry_us=0, return_us=0, jitter_us=0, seed=1):
    """A Chip with its `machine` and `esp32` modules."""
    chip = Chip(clock, entry_us, return_us, jitter_us, seed)
    chip.machine = machine_module(chip)
    chip.esp32 = esp32_module(chip)
    return chip


def machine_module(chip):
    m = Module()

    class Pin:
        IN = 1
        OUT = 3
        OPEN_DRAIN = 7
        PULL_DOWN = 1
        PULL_UP = 2
        IRQ_RISING = 1
        IRQ_FALLING = 2

        def __init__(self, id, mode=None, pull=-1, *, value=None, drive=None, hold=None):
            if not isinstance(id, int) or not 0 <= id <= 39 or id in NO_PAD:
                raise ValueError("invalid pin")
            self.id = id
            chip.pad(id)
            if mode is not None or pull != -1 or value is not None:
                self.init(mode, pull, value=value)

        def init(self, mode=None, pull=-1, *, value=None, drive=None, hold=None):
            pad = chip.pad(self.id)
            if value is not None:
                pad.latch = 1 if value else 0
            if mode is not None:
                if self.id in INPUT_ONLY and mode & 2:
                    raise ValueError("pin can only be input")
                pad.mode = mode
                pad.route = None  # gpio_output_enable: the matrix's plain output, or none
                chip.drive(pad, pad.latch if mode & 2 else 0)
                pad.last_in = chip.input_level(self.id)
            elif value is not None and pad.route is None and pad.mode is not None and pad.mode & 2:
                chip.drive(pad, pad.latch)
            if pull != -1:
                pull = pull or 0
                if pull and self.id in INPUT_ONLY:
                    chip.warnings.append("GPIO%d: input-only pad has no internal pull" % self.id)
                else:
                    pad.pull = pull
            if value is not None:
                self._hook(pad)

        def _hook(self, pad):
            hook = chip.output_hooks.get(self.id)
            if hook is not None and pad.route is None and pad.mode is not None and pad.mode & 2:
                hook(pad.latch, chip.now_us())

        def value(self, v=None):
            if v is None:
                return chip.pad_level(self.id)
            pad = chip.pad(self.id)
            pad.latch = 1 if v else 0
            if pad.route is None and pad.mode is not None and pad.mode & 2:
                chip.drive(pad, pad.latch)
                self._hook(pad)
            return None

        def __call__(self, v=None):
            return self.value(v)

        def on(self):
            self.value(1)

        def off(self):
            self.value(0)

        def irq(self, handler=None, trigger=3, wake=None):
            pad = chip.pad(self.id)
            pad.irq = None if handler is None else (handler, trigger, self)
            pad.last_in = chip.input_level(self.id)
            return None

    class ADC:
        ATTN_0DB = 0
        ATTN_2_5DB = 1
        ATTN_6DB = 2
        ATTN_11DB = 3

        def __init__(self, pin, *, atten=-1):
            if not isinstance(pin, Pin):
                raise TypeError("expecting a pin")
            if pin.id not in ADC_PINS:
                raise ValueError("invalid pin")
            self.gpio = pin.id
            self.atten = 3 if atten == -1 else atten
            if not 0 <= self.atten <= 3:
                raise ValueError("invalid attenuation")

        def _mv(self):
            v = chip.adc_uv.get(self.gpio, 0)
            uv = v() if callable(v) else v
            lo, hi = ADC_WINDOW_MV[self.atten]
            mv = uv // 1000
            if mv < lo:
                return 0  # the dead zone near 0 V
            return hi if mv > hi else mv

        def read_uv(self):
            return self._mv() * 1000  # adc_cali_raw_to_voltage gives mV; the port x1000

        def read_u16(self):
            return self._mv() * 65535 // 3300

        def read(self):
            return self._mv() * 4095 // 3300

    class DAC:
        def __init__(self, pin):
            if not isinstance(pin, Pin):
                raise TypeError("expecting a pin")
            if pin.id not in (25, 26):
                raise ValueError("invalid Pin for DAC")
            self.gpio = pin.id
            pad = chip.pad(pin.id)
            pad.mode = None
            pad.route = None
            chip.drive(pad, 0)
            chip.dac_log.setdefault(pin.id, []).append((chip.now_us(), 0))

        def write(self, value):
            value = as_int(value)
            if not 0 <= value <= 255:
                raise ValueError("value out of range")
            self.value = value
            if chip.recording:
                chip.dac_log[self.gpio].append((chip.now_us(), value))

    class I2C:
        def __init__(self, id, *, scl, sda, freq=400000, timeout=50000):
            self.id = id
            self.scl = scl.id
            self.sda = sda.id
            self.freq = freq

        def writeto(self, addr, buf, stop=True):
            if chip.recording:
                chip.i2c_log.append((chip.now_us(), addr, bytes(buf)))
            return len(buf)

    class Timer:
        ONE_SHOT = 0
        PERIODIC = 1

        def __init__(
            self, id, *, mode=1, callback=None, period=-1, tick_hz=1000, freq=None, hard=False
        ):
            if not 0 <= id <= 3:
                raise ValueError("invalid Timer number")
            if hard:
                raise ValueError("hard Timers are not implemented")
            self.id = id
            self.mode = mode
            self.period = period
            self.callback = callback
            self.running = True
            chip.timers.append(self)

        def fire(self):
            """Host only: the soft callback as the VM would run it, IRQs first."""
            chip.run_scheduled()
            if self.running and self.callback is not None:
                self.callback(self)

        def deinit(self):
            self.running = False
            if self in chip.timers:
                chip.timers.remove(self)

    class WDT:
        def __init__(self, id=0, timeout=5000):
            if id != 0:
                raise ValueError()
            if timeout <= 0:
                raise ValueError("WDT timeout too short")
            self.timeout = timeout
            self.feeds = 0
            self.last_feed_us = chip.now_us()
            chip.wdt = self

        def feed(self):
            self.feeds += 1
            if chip.recording:
                self.last_feed_us = chip.now_us()

    def reset_cause():
        return chip.reset_cause

    def freq(hz=None):
        return 160000000 if hz is None else None

    def disable_irq():
        state, chip.irq_state = chip.irq_state, 0
        return state

    def enable_irq(state=1):
        chip.irq_state = state

    m.Pin, m.ADC, m.DAC, m.I2C, m.Timer, m.WDT = Pin, ADC, DAC, I2C, Timer, WDT
    m.reset_cause, m.freq, m.disable_irq, m.enable_irq = reset_cause, freq, disable_irq, enable_irq
    m.PWRON_RESET, m.HARD_RESET, m.WDT_RESET, m.DEEPSLEEP_RESET, m.SOFT_RESET = 1, 2, 3, 4, 5
    m.unique_id = lambda: b"\x24\x0a\xc4\x00\x00\x01"
    return m
