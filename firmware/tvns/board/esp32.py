# ESP32 (DevKitC) board: implements docs/BOARD-INTERFACE.md; docs/ESP32.md says why.
#
# Needs MicroPython v1.28.0 or later for the esp32 port (the ESP-IDF 5 RMT driver:
# esp32.RMT(pin=..., resolution_hz=...), written in 1.27, fixed in 1.28).
#
# Importing this module touches nothing: `build(config)` checks the pin map
# (esp32_pins.py), then constructs the parts. machine/esp32/time are imported inside
# build() or injected (host tests pass the silicon model, board/simesp32hw.py).
#
# Parts: RMT pulse engine (esp32_rmt.py: one pulse per write, fed by the tick), amplitude
# DAC (esp32_dac.py: machine.DAC or an MCP4725, pending setpoint), current sense on ADC1
# with the eFuse calibration, compliance comparator, e-stop and the output stage's kill
# latch (esp32_io.py), the task watchdog (machine.WDT) and the control tick on a soft
# machine.Timer (the ESP32 has no hard timer callbacks). No radio: nothing here or
# anywhere on the device imports network or bluetooth; both stay off from reset.
from tvns import limits
from tvns.board import esp32_io, esp32_pins, esp32_rmt
from tvns.board.config import check_or_raise, gpio, num
from tvns.board.esp32_dac import build_dac
from tvns.board.trigger_in import PinTrigger
from tvns.errors import OUT_OF_RANGE, TvnsError
from tvns.store import FileStore

NAME = "esp32-devkitc"
_WDT_MIN_MS = 100
_WDT_MAX_MS = 60000


class Clock:
    """time.ticks_* (wrapping, MicroPython semantics)."""

    def __init__(self, time_mod):
        self.ticks_ms = time_mod.ticks_ms
        self.ticks_us = time_mod.ticks_us
        self.ticks_diff = time_mod.ticks_diff
        self.ticks_add = time_mod.ticks_add


class Watchdog:
    """machine.WDT (the ESP-IDF task watchdog; a timeout panics and resets the chip), made
    by start(): it cannot be stopped once running."""

    def __init__(self, machine, config):
        self._machine = machine
        self.timeout_ms = int(
            num(config, "wdt_timeout_ms", "wdt_timeout_ms", _WDT_MIN_MS, _WDT_MAX_MS, 300)
        )
        self._wdt = None

    def start(self):
        if self._wdt is None:
            self._wdt = self._machine.WDT(0, self.timeout_ms)

    def feed(self):
        if self._wdt is not None:
            self._wdt.feed()


class Ticker:
    """machine.Timer, soft (the ESP32 port schedules every timer callback). Each callback
    feeds the pulse engine a pulse due before now, then runs the control tick, which feeds it
    after its gate decision (a pulse due now): a pulse is written with the gate and
    amplitude of its own start, exactly as the sim board's engine starts it. The dead man:
    this feed runs only while the last tick returned; a tick that never returns (or a timer
    that never fires) starves the engine."""

    def __init__(self, machine, config, wdt, engine):
        self._machine = machine
        self.tick_ms = int(num(config, "tick_ms", "tick_ms", 1, 10, 1))
        self.timer_id = int(num(config, "timer_id", "timer_id", 0, 3, 0))
        self._wdt = wdt
        self._engine_feed = engine.feed
        self._sched_tick = None
        self.scheduler = None
        self._timer = None
        self._alive = False  # the last tick returned
        self._cb = self._run  # bound once: the timer must not allocate per call

    def _run(self, timer):
        if self._alive:
            self._engine_feed(True)
        self._alive = False
        self._sched_tick(timer)
        self._alive = True

    def start(self, scheduler):
        self.stop()
        try:
            import micropython

            micropython.alloc_emergency_exception_buf(100)
        except (ImportError, AttributeError):  # unix port / CPython
            pass
        self.scheduler = scheduler
        self._sched_tick = scheduler.tick_cb
        self._alive = True
        T = self._machine.Timer
        period = getattr(scheduler, "tick_ms", self.tick_ms)
        self._timer = T(self.timer_id, mode=T.PERIODIC, period=period, callback=self._cb)
        self._wdt.start()  # the board is running from here on: the loop must feed it

    def stop(self):
        if self._timer is not None:
            self._timer.deinit()
            self._timer = None
        self.scheduler = None


class Board:
    def __init__(self, config, machine, esp32, time_mod):
        check_or_raise(config)  # the rules every board shares, data per MCU (board/config.py)
        esp32_pins.check(config)
        self.name = config.get("name", NAME)
        self.ceiling_ua = int(num(config, "ceiling_ua", "ceiling_ua", 0, limits.CURRENT_MAX_UA))
        self._time = time_mod
        self._machine = machine
        self.clock = Clock(time_mod)
        rmt_cfg = esp32_rmt.read_config(config)
        tick_ms = int(num(config, "tick_ms", "tick_ms", 1, 10, 1))
        if tick_ms * 1000 + rmt_cfg["lead_min_us"] >= rmt_cfg["latency_us"]:
            raise TvnsError(
                OUT_OF_RANGE,
                "tick_ms must leave rmt.latency_us for the feed to be on time",
                "tick_ms",
            )
        sync = gpio(config, "sync", 39) if "sync" in config["pins"] else None
        out = (sync, gpio(config, "phase_a", 39), gpio(config, "phase_b", 39))
        self.engine = esp32_rmt.RmtEngine(
            machine, esp32, self.clock, rmt_cfg, out, gpio(config, "gate", 39)
        )
        self.dac = build_dac(machine, config, self.ceiling_ua, self.engine)
        self.latch = esp32_io.Latch(machine, config, time_mod)
        self.sense = esp32_io.Sense(machine, config, self.ceiling_ua, self.latch)
        self.estop = esp32_io.Estop(machine, config, self.latch)
        # The hardware kill path: OS-1's latch, where the map wires it (pins.latch_q).
        self.kill = None
        if "latch_q" in config["pins"]:
            self.kill = esp32_io.KillLatch(self.latch, self.estop)
        # The trigger input, read by the control tick (soft: about a millisecond plus the
        # RMT latency; docs/GATING.md), and the marker output (train onsets).
        self.trigger = None
        if "trigger" in config["pins"]:
            self.trigger = PinTrigger(machine, gpio(config, "trigger", 39))
        self.marker = None
        if "marker" in config["pins"]:
            self.marker = machine.Pin(gpio(config, "marker", 39), machine.Pin.OUT, value=0)
        self.wdt = Watchdog(machine, config)
        self.ticker = Ticker(machine, config, self.wdt, self.engine)
        # Session marker and daily exposure, on the board's flash (tvns/store.py).
        self.store = FileStore(config.get("state_file", "state.json"))
        self.calibration = {
            "dac": config.get("dac"),
            "sense": config.get("sense"),
            "rmt": rmt_cfg,
        }

    def reset_cause(self):
        """'watchdog' after a machine.WDT (task watchdog) reset, else None."""
        cause = getattr(self._machine, "reset_cause", None)
        wdt = getattr(self._machine, "WDT_RESET", None)
        if cause is not None and wdt is not None and cause() == wdt:
            return "watchdog"
        return None

    def disable_irq(self):
        return self._machine.disable_irq()

    def enable_irq(self, state):
        self._machine.enable_irq(state)

    def safe_off(self):
        # The one abort path (with interrupts off: registers only): no new pulse, both phases
        # low now, amplitude 0 (the MCP4725's transfer is scheduled). The kill latch (if
        # fitted) stays as it is: only arm/clear reset it, after a check.
        self.engine.gate(False)
        self.engine.stop()
        self.dac.set_ua(0)
        self.latch.clear_seen()

    def idle_ms(self, ms):
        self._time.sleep_ms(ms)


def build(config, machine=None, esp32=None, time_mod=None):
    """Construct the board from a pin-map dict; modules default to the real ones."""
    if machine is None:
        import machine
    if esp32 is None:
        import esp32
    if time_mod is None:
        import time as time_mod
    return Board(config, machine, esp32, time_mod)


def build_from_file(path):
    import json

    with open(path) as f:
        return build(json.load(f))
