# Host only: the `machine` and `esp32` module stand-ins of a Chip (simesp32hw.py), with
# MicroPython v1.28.0's esp32-port signatures, constants and errors. Built per chip, so two
# simulated boards never share a pin.
from tvns.board.simesp32hw import (
    ADC_PINS,
    CU_PER_US,
    INPUT_ONLY,
    IWDT_MS,
    NO_PAD,
    PULSE_MAX,
    RMT_CHANNELS,
    RMT_MEM,
    RMT_POOL,
    SOURCE_HZ,
    Channel,
    Chip,
    ChipPanic,
)

ESP_ERR_INVALID_ARG = 258
ESP_ERR_NOT_FOUND = 261
ESP_ERR_NOT_SUPPORTED = 262
# The ADC's range per attenuation code (mV): readings outside it are not usable. Below
# the low end the ESP32 reads 0 (its dead zone), above the top it saturates.
_ADC_WINDOW_MV = ((100, 950), (100, 1250), (150, 1750), (150, 2450))


class _Module:
    pass


def new_chip(clock=None, entry_us=0, return_us=0, jitter_us=0, seed=1):
    """A Chip with its `machine` and `esp32` modules."""
    chip = Chip(clock, entry_us, return_us, jitter_us, seed)
    chip.machine = machine_module(chip)
    chip.esp32 = esp32_module(chip)
    return chip


def _seq(obj):
    if not isinstance(obj, (list, tuple)):
        raise TypeError("object isn't a tuple or list")
    return obj


def _int(v):
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError("can't convert %s to int" % type(v).__name__)
    return v


def _parse(duration, data):
    """(durations, levels) as esp32_rmt.c's write_pulses reads its arguments. Apart from
    write_pulses: its comprehensions would make cells of write_pulses' locals (and a cell is
    an allocation on every call, which the quiet path must not make)."""
    if not isinstance(data, (list, tuple)):  # mode 1: durations, levels toggling from data
        durs = [_int(d) for d in _seq(duration)]
        first = 1 if data else 0
        return durs, [(first + i) & 1 for i in range(len(durs))]
    if isinstance(duration, int) and not isinstance(duration, bool):  # mode 2
        return [duration] * len(data), [1 if x else 0 for x in data]
    durs = [_int(d) for d in _seq(duration)]  # mode 3
    if len(durs) != len(data):
        raise ValueError("duration and data must have same length")
    return durs, [1 if x else 0 for x in data]


def machine_module(chip):
    m = _Module()

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
            lo, hi = _ADC_WINDOW_MV[self.atten]
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
            value = _int(value)
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


def esp32_module(chip):
    e = _Module()
    Pin = chip.machine.Pin

    def _deactivate(ch):
        if ch.enabled:
            now = chip.now_cu()
            end = ch.end_cu()
            if now < end:
                # rmt_disable on the ESP32 (IDF <= 5.5.1): interrupts off until the frame ends
                spin = (end - now + CU_PER_US - 1) // CU_PER_US
                chip.spin_us += spin
                chip.spend(spin)
                if spin > IWDT_MS * 1000:
                    raise ChipPanic("interrupt watchdog: rmt_disable spun %d ms" % (spin // 1000))
            ch.enabled = False

    class RMT:
        PULSE_MAX = PULSE_MAX

        def __init__(
            self, id=-1, *, pin=None, resolution_hz=None, clock_div=None, idle_level=False,
            tx_carrier=None, num_symbols=RMT_MEM,
        ):  # fmt: skip
            if pin is None:
                raise TypeError("'pin' argument required")
            if not isinstance(pin, Pin):
                raise TypeError("expecting a pin")
            if resolution_hz is not None and clock_div is not None:
                raise ValueError("resolution_hz and clock_div are mutually exclusive")
            if resolution_hz is None and clock_div is None:
                resolution_hz = 10000000
            elif resolution_hz is not None:
                if _int(resolution_hz) <= 0:
                    raise ValueError("resolution_hz must be positive")
            else:
                if not 1 <= _int(clock_div) <= 255:
                    raise ValueError("clock_div must be between 1 and 255")
                resolution_hz = SOURCE_HZ // clock_div
            if num_symbols < RMT_MEM or num_symbols % 2:
                raise ValueError("num_symbols must be even and at least %d" % RMT_MEM)
            live = [c for c in chip.channels if not c.deleted]
            if (
                len(live) >= RMT_CHANNELS
                or sum(c.num_symbols for c in live) + num_symbols > RMT_POOL
            ):
                raise OSError(ESP_ERR_NOT_FOUND)
            div = (SOURCE_HZ + resolution_hz // 2) // resolution_hz  # as the IDF rounds it
            if not 1 <= div <= 256:
                raise OSError(ESP_ERR_INVALID_ARG)
            if SOURCE_HZ % resolution_hz:
                chip.warnings.append(
                    "RMT resolution %d Hz rounded to %d" % (resolution_hz, SOURCE_HZ // div)
                )
            self.resolution_hz = resolution_hz
            pad = chip.pad(pin.id)
            self._ch = ch = Channel(chip, pad, div, 1 if idle_level else 0, num_symbols)
            chip.channels.append(ch)
            pad.route = ch  # the GPIO matrix now routes this channel to the pad
            chip.drive(pad, ch)

        def _live(self):
            if self._ch.deleted:
                raise OSError("already deinitialized")
            return self._ch

        def write_pulses(self, duration, data=True):
            ch = self._live()
            if not chip.recording and isinstance(duration, list) and isinstance(data, list):
                return self._quiet(ch, duration, data)
            if ch.enabled:
                end, now = ch.end_cu(), chip.now_cu()
                if now < end:  # rmt_tx_wait_all_done(-1): blocks until the frame ends
                    wait = (end - now + CU_PER_US - 1) // CU_PER_US
                    chip.blocked_us += wait
                    chip.spend(wait)
            else:
                ch.enabled = True
            durs, levels = _parse(duration, data)
            if not durs:
                raise ValueError("No pulses")
            n_items = (len(durs) + 1) // 2
            if n_items > ch.cap_items:  # m_realloc of the item buffer
                ch.cap_items = n_items
                ch.grows += 1
            if ch.loop_count > 0:
                raise OSError(ESP_ERR_NOT_SUPPORTED)  # no finite loop count on the ESP32
            items = []
            for d, lv in zip(durs, levels):
                d &= 0x7FFF  # a 15-bit field: silicon truncates, it does not saturate
                if d == 0:
                    break  # a 0 duration is the end-of-frame marker
                items.append((d * ch.div, lv))
            chip.spend(chip.latency(chip.entry_us))
            start = chip.now_cu()
            total = 0
            for d, _lv in items:
                total += d
            end = start + total
            if ch.loop_count == -1:
                end = 1 << 62  # loops until stopped; the firmware never asks for it
            ch.tx.append((start, items, end))
            chip.spend(chip.latency(chip.return_us))

        def _quiet(self, ch, durs, levels):
            # Mode 3 without logging or allocating (small ints only): only the frame's end.
            clock = chip.clock
            if ch.busy():  # rmt_tx_wait_all_done(-1)
                wait = clock.ticks_diff(ch.quiet_end, clock.us30)
                chip.blocked_us += wait
                chip.spend(wait)
            ch.enabled = True
            n = len(durs)
            if n != len(levels):
                raise ValueError("duration and data must have same length")
            if n == 0:
                raise ValueError("No pulses")
            if (n + 1) // 2 > ch.cap_items:
                ch.cap_items = (n + 1) // 2
                ch.grows += 1
            total = 0
            for i in range(n):
                d = durs[i] & 0x7FFF
                if d == 0:
                    break
                total += d * ch.div
            chip.spend(chip.latency(chip.entry_us))
            ch.quiet_end = clock.ticks_add(clock.us30, (total + CU_PER_US - 1) // CU_PER_US)
            chip.spend(chip.latency(chip.return_us))

        def wait_done(self, *, timeout=0):
            ch = self._live()
            if not ch.busy():
                return True
            if timeout == 0:
                return False
            wait = (ch.end_cu() - chip.now_cu() + CU_PER_US - 1) // CU_PER_US
            if timeout > 0:
                wait = min(wait, timeout * 1000)
            chip.blocked_us += wait
            chip.spend(wait)
            return not ch.busy()

        def active(self, *args):
            ch = self._live()
            if not args:
                return ch.busy()
            if args[0]:
                raise ValueError("activate by calling write_pulses()")
            _deactivate(ch)
            return False

        def loop_count(self, n):
            ch = self._live()
            if n < -1:
                raise ValueError("arg must be -1, 0 or positive")
            if ch.busy() and ch.loop_count != 0 and n == 0:
                _deactivate(ch)
            ch.loop_count = n

        def loop(self, enable):
            self.loop_count(-1 if enable else 0)

        def clock_div(self):
            return SOURCE_HZ // self.resolution_hz

        @staticmethod
        def source_freq():
            return SOURCE_HZ

        def deinit(self):
            ch = self._ch
            if ch.deleted:
                return
            _deactivate(ch)
            ch.deleted = True
            if ch.pad.route is ch:  # rmt_del_channel releases the pad: nothing drives it
                ch.pad.route = None
                ch.pad.mode = None
                chip.drive(ch.pad, 0)

    e.RMT = RMT
    return e
