# Host only: the `esp32` module stand-in of a Chip (simesp32hw.py): esp32.RMT with
# MicroPython v1.28.0's esp32_rmt.c signatures, parsing, errors and timing (see the list at
# the top of simesp32hw.py), over the chip's channels, pads and virtual clock.
from tvns.board.simesp32hw import (
    CU_PER_US,
    ESP_ERR_INVALID_ARG,
    ESP_ERR_NOT_FOUND,
    ESP_ERR_NOT_SUPPORTED,
    IWDT_MS,
    PULSE_MAX,
    RMT_CHANNELS,
    RMT_MEM,
    RMT_POOL,
    SOURCE_HZ,
    Channel,
    ChipPanic,
    Module,
    as_int,
    parse_pulses,
)


def esp32_module(chip):
    e = Module()
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
                if as_int(resolution_hz) <= 0:
                    raise ValueError("resolution_hz must be positive")
            else:
                if not 1 <= as_int(clock_div) <= 255:
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
            durs, levels = parse_pulses(duration, data)
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
