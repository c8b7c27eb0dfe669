# Host only (never deployed, like every board/sim* module): the ESP32 silicon under the
# esp32 board code, with the API and the behaviour of MicroPython v1.28.0's esp32 port
# (ports/esp32: esp32_rmt.c, machine_pin.c, machine_timer.c, machine_wdt.c, machine_adc.c,
# machine_dac.c) on ESP-IDF 5.5.1. It runs under CPython and the MicroPython unix port.
# Longer than ~300 lines on purpose: one chip whose parts share its virtual clock and its
# counters; the module faces are apart already (simesp32mod.py, simesp32rmt.py).
# simesp32mod.new_chip() gives a Chip with `chip.machine` and `chip.esp32`, stand-ins for
# the two modules, on a virtual clock. What the real port does and this model keeps:
# - RMT(id=-1, *, pin=Pin, resolution_hz=, clock_div=, idle_level=, tx_carrier=,
#   num_symbols=64): pin must be a Pin; resolution and clock_div exclusive; 8 channels and
#   512 symbols of RMT memory on the ESP32; the divider is rounded as the IDF does.
# - write_pulses modes 1-3 exactly as esp32_rmt.c parses them; item durations are 15-bit
#   fields (a longer value is truncated, as silicon would); a 0 duration ends the frame;
#   the item buffer grows by realloc (counted: the tick must never make it grow).
# - write_pulses on a channel still transmitting BLOCKS until it is done (rmt_tx_wait_all_
#   done(-1)); the model advances the clock and counts it in chip.blocked_us.
# - active(False)/deinit() on a transmitting channel spin with interrupts off until the
#   transmission ends (ESP32, IDF <= 5.5.1): counted in chip.spin_us; over 300 ms the
#   interrupt watchdog panics (ChipPanic).
# - finite loop counts are not supported on the ESP32 (OSError); loop mode is modelled only
#   as far as refusing what the firmware must not do.
# - a call costs time: the transmission starts entry_us (+ jitter) into write_pulses and
#   the call returns return_us later. Channels therefore start one after the other.
# - chip.recording = False: nothing is logged and the model allocates nothing on the paths
#   the tick uses (pin writes and reads, write_pulses of a list, wait_done, read_uv,
#   DAC.write, Timer.fire), so the firmware's own allocations show under heap_lock().
# - Pin(OUT) after an RMT owned the pin routes the GPIO matrix back to the plain output
#   (gpio_output_enable -> matrix_out_default): the RMT keeps running, unseen.
# - Timer(id, ...) callbacks are soft; hard=True raises ValueError. Pin.irq has no `hard`.
# - input-only GPIO34-39: no output, internal pulls silently absent (IDF logs an error).
from tvns.board.sim import SimClock

SOURCE_HZ = 80000000
CU_PER_US = 80  # chip units: one RMT source clock cycle (12.5 ns)
PULSE_MAX = 32767
RMT_CHANNELS = 8
RMT_POOL = 512
RMT_MEM = 64
IWDT_MS = 300
NO_PAD = (20, 24, 28, 29, 30, 31)
INPUT_ONLY = (34, 35, 36, 37, 38, 39)
ADC_PINS = (32, 33, 34, 35, 36, 37, 38, 39, 0, 2, 4, 12, 13, 14, 15, 25, 26, 27)
PWRON_RESET, HARD_RESET, WDT_RESET, DEEPSLEEP_RESET, SOFT_RESET = 1, 2, 3, 4, 5


class ChipPanic(Exception):
    """What the real chip would do here: a Guru Meditation panic and a reset."""


class ChipClock(SimClock):
    """SimClock with time.sleep_ms / sleep_us: the virtual time module of a Chip."""

    def sleep_ms(self, ms):
        self.now_us += ms * 1000

    def sleep_us(self, us):
        self.now_us += us

    def spend_small(self, us):
        """Advance by us on the small ints only (no absolute time: a 32-bit port would box
        it): what the model does while it must allocate nothing (Chip.recording False)."""
        sub = self.sub_us + us
        ms = 0
        while sub >= 1000:
            sub -= 1000
            ms += 1
        self.sub_us = sub
        if ms:
            self.ms30 = self.ticks_add(self.ms30, ms)
        self.us30 = self.ticks_add(self.us30, us)


class Pad:
    """One GPIO pad: what drives it over time. timeline: [(t_us, src)], src an int level
    (plain GPIO output, or 0 when nothing drives it: the output stage pulls every input of
    the bridge down) or an RMT channel."""

    def __init__(self, gpio, recording):
        self.gpio = gpio
        self.recording = recording
        self.mode = None
        self.pull = None
        self.latch = 0
        self.route = None  # RMT channel owning the output, or None
        self.timeline = [(0, 0)]
        self.irq = None  # (handler, trigger, pin object)
        self.last_in = None

    def drive(self, t_us, src):
        if not self.recording[0]:
            return
        last_t, last = self.timeline[-1]
        if last is src or (isinstance(last, int) and isinstance(src, int) and last == src):
            return
        if last_t == t_us and len(self.timeline) > 1:
            self.timeline[-1] = (t_us, src)
        else:
            self.timeline.append((t_us, src))

    def output_src(self):
        if self.route is not None:
            return self.route
        if self.mode is not None and self.mode & 2:
            return self.latch
        return 0


class Channel:
    """An RMT TX channel: transmissions [(start_cu, [(dur_cu, level)], end_cu)]."""

    def __init__(self, chip, pad, div, idle_level, num_symbols):
        self.chip = chip
        self.pad = pad
        self.div = div  # source cycles per RMT tick
        self.idle_level = idle_level
        self.num_symbols = num_symbols
        self.tx = []
        self.quiet_end = -1  # us30 at which the last frame sent while not recording ends
        self.enabled = False
        self.deleted = False
        self.cap_items = 0
        self.grows = 0
        self.loop_count = 0

    def end_cu(self):
        return self.tx[-1][2] if self.tx else 0

    def busy(self):
        if not self.enabled:
            return False
        chip = self.chip
        if not chip.recording:  # small ints only: the quiet frame's end against us30
            clock = chip.clock
            return self.quiet_end >= 0 and clock.ticks_diff(self.quiet_end, clock.us30) > 0
        return chip.now_cu() < self.end_cu()

    def level_at(self, cu):
        if not self.tx:
            return self.idle_level
        for start, items, end in reversed(self.tx):
            if start <= cu < end:
                t = start
                for dur, level in items:
                    if cu < t + dur:
                        return level
                    t += dur
            if end <= cu:
                break
        return self.idle_level

    def edges(self, from_cu, to_cu):
        """[(t_cu, level)] for every change of this channel's output in [from_cu, to_cu)."""
        out = []
        level = self.idle_level
        for start, items, end in self.tx:
            if end <= from_cu or start >= to_cu:
                continue
            t = start
            for dur, lv in items:
                if from_cu <= t < to_cu and lv != level:
                    out.append((t, lv))
                level = lv
                t += dur
            if from_cu <= end < to_cu and level != self.idle_level:
                out.append((end, self.idle_level))
            level = self.idle_level
        return out


class Chip:
    def __init__(self, clock=None, entry_us=0, return_us=0, jitter_us=0, seed=1):
        self.clock = clock if clock is not None else ChipClock()
        self.entry_us = entry_us
        self.return_us = return_us
        self.jitter_us = jitter_us
        self._rng = seed & 0x7FFFFFFF or 1
        self.pads = {}
        self.inputs = {}  # gpio -> level, or a function giving it (what drives an input)
        self.adc_uv = {}  # gpio -> microvolts, or a function giving them
        self.channels = []
        self.dac_log = {}  # gpio -> [(t_us, code)]
        self.i2c_log = []  # (t_us, addr, bytes)
        self.timers = []
        self.wdt = None
        self.scheduled = []  # soft IRQ handlers waiting for the VM
        self.blocked_us = 0
        self.spin_us = 0
        self.warnings = []
        self.output_hooks = {}  # gpio -> fn(level, t_us) when a plain GPIO output changes
        self.reset_cause = PWRON_RESET
        self.irq_state = 1
        self._recording = [True]  # shared with the pads
        self.machine = None  # the module stand-ins: simesp32mod.new_chip() sets them
        self.esp32 = None

    @property
    def recording(self):
        return self._recording[0]

    @recording.setter
    def recording(self, on):
        self._recording[0] = on

    # ---- time ----
    def now_us(self):
        return self.clock.now_us

    def now_cu(self):
        return self.clock.now_us * CU_PER_US

    def spend(self, us):
        if self._recording[0]:
            self.clock.now_us += us
        else:
            self.clock.spend_small(us)

    def drive(self, pad, src):
        """What drives the pad changes now (logged only while recording)."""
        if self._recording[0]:
            pad.drive(self.clock.now_us, src)

    def latency(self, base):
        if not self.jitter_us:
            return base
        self._rng = (self._rng * 1103515245 + 12345) & 0x7FFFFFFF
        return base + (self._rng >> 8) % (self.jitter_us + 1)

    # ---- pads ----
    def pad(self, gpio):
        if gpio not in self.pads:
            self.pads[gpio] = Pad(gpio, self._recording)
        return self.pads[gpio]

    def input_level(self, gpio):
        v = self.inputs.get(gpio)
        if v is None:
            pad = self.pads.get(gpio)
            if pad is not None and pad.pull == 2 and gpio not in INPUT_ONLY:
                return 1
            return 0
        return v() if callable(v) else v

    def pad_level(self, gpio):
        """What a read of the pad returns now."""
        pad = self.pad(gpio)
        src = pad.output_src()
        if pad.route is not None:
            return src.level_at(self.now_cu()) if self._recording[0] else src.idle_level
        if pad.mode is not None and pad.mode & 2:
            return pad.latch
        return self.input_level(gpio)

    def edges(self, gpio, from_cu=0, to_cu=None):
        """[(t_cu, level)] of what the pad drives: plain GPIO levels and RMT frames, cut
        where the route changed (a Pin(OUT) or a chip reset takes the pad from the RMT)."""
        to_cu = self.now_cu() if to_cu is None else to_cu
        pad = self.pads.get(gpio)
        if pad is None:
            return []
        out = []
        level = 0
        tl = pad.timeline
        for i in range(len(tl)):
            t0 = tl[i][0] * CU_PER_US
            t1 = tl[i + 1][0] * CU_PER_US if i + 1 < len(tl) else to_cu
            src = tl[i][1]
            a, b = max(t0, from_cu), min(t1, to_cu)
            if a > b or (a == b and i + 1 < len(tl)):
                continue  # empty (a change at exactly to_cu still shows)
            if isinstance(src, Channel):
                start = src.level_at(a)
                seg = [(a, start)] + src.edges(a + 1, b)
            else:
                seg = [(a, src)]
            for t, lv in seg:
                if lv != level:
                    out.append((t, lv))
                    level = lv
        return out

    def poll_inputs(self):
        """Queue the soft IRQ handlers of inputs that changed (the VM runs them later)."""
        for gpio, pad in self.pads.items():
            if pad.irq is None:
                continue
            now = self.input_level(gpio)
            last, pad.last_in = pad.last_in, now
            if last is None or now == last:
                continue
            handler, trigger, pin = pad.irq
            if (now == 1 and trigger & 1) or (now == 0 and trigger & 2):
                self.scheduled.append((handler, pin))

    def run_scheduled(self):
        while self.scheduled:
            handler, arg = self.scheduled.pop(0)
            handler(arg)

    def reset(self, cause=WDT_RESET):
        """A chip reset: every pad floats (the stage pulls it down), RMT, timers, WDT gone."""
        t = self.now_us()
        for pad in self.pads.values():
            pad.route = None
            pad.mode = None
            pad.pull = None
            pad.irq = None
            pad.drive(t, 0)
        for ch in self.channels:
            ch.deleted = True
        for tm in self.timers:
            tm.running = False
        self.timers = []
        self.wdt = None
        self.scheduled = []
        self.reset_cause = cause


# ---- shared by the module stand-ins (simesp32mod.py, simesp32rmt.py) ----
ESP_ERR_INVALID_ARG = 258
ESP_ERR_NOT_FOUND = 261
ESP_ERR_NOT_SUPPORTED = 262
# The ADC's range per attenuation code (mV): readings outside it are not usable. Below
# the low end the ESP32 reads 0 (its dead zone), above the top it saturates.
ADC_WINDOW_MV = ((100, 950), (100, 1250), (150, 1750), (150, 2450))


class Module:
    pass


def seq(obj):
    if not isinstance(obj, (list, tuple)):
        raise TypeError("object isn't a tuple or list")
    return obj


def as_int(v):
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError("can't convert %s to int" % type(v).__name__)
    return v


def parse_pulses(duration, data):
    """(durations, levels) as esp32_rmt.c's write_pulses reads its arguments. Apart from
    write_pulses: its comprehensions would make cells of write_pulses' locals (and a cell is
    an allocation on every call, which the quiet path must not make)."""
    if not isinstance(data, (list, tuple)):  # mode 1: durations, levels toggling from data
        durs = [as_int(d) for d in seq(duration)]
        first = 1 if data else 0
        return durs, [(first + i) & 1 for i in range(len(durs))]
    if isinstance(duration, int) and not isinstance(duration, bool):  # mode 2
        return [duration] * len(data), [1 if x else 0 for x in data]
    durs = [as_int(d) for d in seq(duration)]  # mode 3
    if len(durs) != len(data):
        raise ValueError("duration and data must have same length")
    return durs, [1 if x else 0 for x in data]
