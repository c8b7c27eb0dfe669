# Host stand-in for MicroPython's `machine` module (CPython and the micropython unix port).
#
# Only what the rp2 board code uses. Every object records what was done to it in the
# module-level `log` (a list of tuples) so tests can check e.g. "every output pin was
# driven low at boot" or "the DAC got code N for 1000 uA". Inputs are injected:
# `set_input(pin_id, level)` for pins, `ADC.values[id] = raw_u16` for the ADC.

_FREQ_HZ = [125_000_000]
log = []
# Set recording[0] = False to stop appending to `log` (e.g. under micropython.heap_lock(),
# where the fake's own bookkeeping must not be what allocates).
recording = [True]
pins = {}  # pin id -> {"mode", "pull", "value"}; the last state the code left it in
inputs = {}  # pin id -> level an external circuit drives (e-stop button, comparator)


def reset():
    """Forget everything (call at the start of each test)."""
    del log[:]
    pins.clear()
    inputs.clear()
    ADC.values.clear()
    recording[0] = True
    Timer.instances = []
    WDT.instances = []
    I2C.instances = []
    PWM.instances = []
    _FREQ_HZ[0] = 125_000_000
    _IRQ_ON[0] = True


def set_input(pin_id, level):
    inputs[pin_id] = level


def freq(hz=None):
    if hz is None:
        return _FREQ_HZ[0]
    _FREQ_HZ[0] = hz
    log.append(("freq", hz))


def _pin_id(p):
    return p.id if isinstance(p, Pin) else p


_READ = object()  # Pin.value()'s "no argument" (None is an argument: it drives low)


class Pin:
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    ALT = 3
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_FALLING = 4
    IRQ_RISING = 8

    def __init__(self, id, mode=-1, pull=-1, value=None):
        self.id = id
        pins.setdefault(id, {"mode": None, "pull": None, "value": 0})
        if mode != -1 or pull != -1 or value is not None:
            self.init(mode, pull, value)

    def init(self, mode=-1, pull=-1, value=None):
        st = pins[self.id]
        # As on the rp2 port: the output latch is set before the pin turns into an output.
        if value is not None:
            st["value"] = 1 if value else 0
        if mode != -1:
            st["mode"] = mode
        if pull != -1:
            st["pull"] = pull
        log.append(("pin_init", self.id, mode, pull, value))

    def value(self, v=_READ):
        st = pins[self.id]
        # As the rp2 port's machine_pin_call: no argument reads; any argument, None too,
        # sets the pin to its truth value.
        if v is _READ:
            if st["mode"] == Pin.OUT:
                return st["value"]
            if self.id in inputs:
                return inputs[self.id]
            return 1 if st["pull"] == Pin.PULL_UP else 0
        st["value"] = 1 if v else 0
        if recording[0]:
            log.append(("pin_value", self.id, st["value"]))
        return None

    def __call__(self, v=_READ):
        return self.value(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)


class PWM:
    instances = []

    def __init__(self, pin, freq=0, duty_u16=None):
        self.pin_id = _pin_id(pin)
        self._freq = 0
        self._duty = 0
        self.duties = []
        PWM.instances.append(self)
        if freq:
            self.freq(freq)
        if duty_u16 is not None:
            self.duty_u16(duty_u16)

    def freq(self, hz=None):
        if hz is None:
            return self._freq
        self._freq = hz
        log.append(("pwm_freq", self.pin_id, hz))

    def duty_u16(self, v=None):
        if v is None:
            return self._duty
        if not 0 <= v <= 65535:
            raise ValueError("duty out of range")
        self._duty = v
        self.duties.append(v)
        log.append(("pwm_duty", self.pin_id, v))

    def deinit(self):
        log.append(("pwm_deinit", self.pin_id))


class ADC:
    values = {}  # pin id -> raw reading (0..65535)

    def __init__(self, pin):
        self.pin_id = _pin_id(pin)

    def read_u16(self):
        return ADC.values.get(self.pin_id, 0)


class I2C:
    instances = []

    def __init__(self, id, scl=None, sda=None, freq=400_000):
        self.id = id
        self.scl = _pin_id(scl)
        self.sda = _pin_id(sda)
        self.freq = freq
        self.writes = []  # (addr, bytes)
        I2C.instances.append(self)

    def writeto(self, addr, buf, stop=True):
        self.writes.append((addr, bytes(buf)))
        log.append(("i2c_write", addr, bytes(buf)))
        return len(buf)

    def scan(self):
        return [0x60]


class Timer:
    ONE_SHOT = 0
    PERIODIC = 1
    instances = []

    def __init__(self, id=-1, mode=1, period=-1, freq=-1, callback=None, hard=False):
        self.id = id
        self.mode = mode
        self.period = period
        self.callback = callback
        self.hard = hard
        self.running = True
        Timer.instances.append(self)
        log.append(("timer", period, mode, hard))

    def fire(self):
        """Host only: call the callback as the hardware would."""
        if self.running and self.callback is not None:
            self.callback(self)

    def deinit(self):
        self.running = False
        log.append(("timer_deinit", self.period))


class WDT:
    instances = []

    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout
        self.feeds = 0
        WDT.instances.append(self)
        log.append(("wdt", timeout))

    def feed(self):
        self.feeds += 1


_IRQ_ON = [True]


def disable_irq():
    """As on the rp2 port (save_and_disable_interrupts): the previous PRIMASK, 0 when
    interrupts were on; they stay off until enable_irq(state) restores it."""
    was = _IRQ_ON[0]
    _IRQ_ON[0] = False
    if recording[0]:
        log.append(("disable_irq",))
    return 0 if was else 1


def enable_irq(state):
    _IRQ_ON[0] = state == 0
    if recording[0]:
        log.append(("enable_irq", state))


def irq_enabled():
    """Host only."""
    return _IRQ_ON[0]


def reset_cause():
    return 1


def unique_id():
    return b"\x00" * 8
