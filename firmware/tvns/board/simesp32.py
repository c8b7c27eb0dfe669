# Host only: the esp32 board model for the simulator. The firmware's real ESP32 board
# Longer than ~300 lines: the ESP32 board model wires the firmware's board to the silicon
# model in one place (pads, latch, sense, engine recorder, trigger and marker).
# (board/esp32.py: RMT engine, pending DAC, sense, e-stop, kill latch, soft Timer, WDT)
# runs on the silicon model (simesp32hw.py) in the sim board's virtual time, behind the
# output stage OS-1 (hardware/DESIGN.md): a kill latch set by the e-stop loop or the
# overcurrent comparator, which cuts the bridge in hardware, reset by the firmware's pulse.
#
# SimEsp32Board keeps SimBoard's test-facing API (estop.asserted, sense.short/load_ohm,
# engine.drain/pulses/gated/cut_pulses, inject, jitter_ms), so every sim test can run on
# it; what the engine records is what the RMT frames put on the phase pins, pulse by pulse.
# The control tick runs where the board's periodic soft Timer would: on the 1 ms grid, at
# the scheduler's deadlines and the engine's (each pulse's commit), late by the jitter.
import json

from tvns.board import esp32 as board_esp32
from tvns.board.sim import OPEN_OHM, SimBoard, SimEstop, SimSense
from tvns.board.simesp32hw import CU_PER_US, PWRON_RESET, WDT_RESET, ChipClock
from tvns.board.simesp32mod import new_chip

OC_TRIP_UA = 10980  # OS-1's overcurrent comparator (hardware/DESIGN.md)


def load_config(path):
    with open(path) as f:
        return json.load(f)


class Stage:
    """OS-1's kill path: KILL = e-stop loop open or overcurrent; the latch sets on KILL
    (and at power-on) and cuts the bridge; LRST_n low while KILL is gone resets it."""

    def __init__(self, board):
        self._board = board
        self.latched = True  # power-on reset sets it
        self.trips = []  # (t_us, cause)

    def kill(self):
        b = self._board
        return b.estop.asserted or b.sense.raw_ua() > OC_TRIP_UA

    def update(self):
        if self.kill() and not self.latched:
            self.latched = True
            self.trips.append((self._board.clock.now_us, "kill"))

    def on_lrst(self, level, _t_us):
        if level == 0 and not self.kill():
            self.latched = False


class Esp32SimSense(SimSense):
    """SimSense's load model feeds the chip's ADC and comparator pins; the firmware's Sense
    reads them. The idle probe of the stage (self_test) is the sim board's, plus the
    firmware's own latch check."""

    def __init__(self, board, engine, load_ohm, compliance_mv):
        super().__init__(engine, load_ohm, compliance_mv)
        self._board = board

    def raw_ua(self):
        return SimSense.read_ua(self)

    def model_ua(self):
        return 0 if self._board.stage.latched else self.raw_ua()

    def model_compliance(self):
        return not self._board.stage.latched and SimSense.read_compliance(self)

    def read_ua(self):
        return self._board.fw.sense.read_ua()

    def read_compliance(self):
        return self._board.fw.sense.read_compliance()

    def self_test(self):
        code = self._board.fw.sense.self_test()
        return code if code else SimSense.self_test(self)


class Esp32SimEstop(SimEstop):
    def __init__(self, board):
        super().__init__()
        self._board = board

    def pressed(self):
        return self._board.fw.estop.pressed()


class WdtView:
    """The firmware's machine.WDT as the sim board sees it (expiry resets the chip)."""

    def __init__(self, board):
        self._board = board

    fed_before = 0  # feeds of the watchdogs of earlier boots

    @property
    def feeds(self):
        w = self._board.chip.wdt
        return self.fed_before + (w.feeds if w is not None else 0)

    @property
    def timeout_ms(self):
        return self._board.fw.wdt.timeout_ms

    @property
    def active(self):
        return self._board.chip.wdt is not None

    def start(self):
        self._board.fw.wdt.start()

    def feed(self):
        self._board.fw.wdt.feed()

    def expires_us(self):
        w = self._board.chip.wdt
        return -1 if w is None else w.last_feed_us + w.timeout * 1000


class TickerView:
    def __init__(self, board):
        self._board = board

    @property
    def scheduler(self):
        return self._board.fw.ticker.scheduler

    def start(self, scheduler):
        self._board.fw.ticker.start(scheduler)

    def stop(self):
        self._board.fw.ticker.stop()


class SimEsp32Board(SimBoard):
    """The sim board with the firmware's ESP32 board on the silicon model. entry_us and
    return_us: what one write_pulses call costs before its frame starts and after (the
    A->B start skew is about their sum); latency_jitter_us adds a random 0..N to each."""

    def __init__(self, config, entry_us=20, return_us=10, latency_jitter_us=0, **kw):
        super().__init__(**kw)
        self.clock = ChipClock(self.clock.now_us)  # with sleep_us: the firmware's time module
        self.config = dict(config)
        self.config["state_file"] = "/nonexistent/tvns-sim/state.json"  # store: MemoryStore
        self.name = config.get("name", board_esp32.NAME)
        self.ceiling_ua = min(self.ceiling_ua, int(config["ceiling_ua"]))
        self.chip = new_chip(self.clock, entry_us, return_us, latency_jitter_us, kw.get("seed", 1))
        from tvns.board.simesp32rec import RmtRecorder

        self.estop = Esp32SimEstop(self)
        self.engine = RmtRecorder(self)
        self.sense = Esp32SimSense(
            self, self.engine, kw.get("load_ohm", 1000), kw.get("compliance_mv", 30000)
        )
        self.stage = Stage(self)
        self.wdt = WdtView(self)
        self.ticker = TickerView(self)
        self._boot()

    # ---- the firmware's board on the chip ----
    def _boot(self):
        chip = self.chip
        pins = self.config["pins"]
        sense = self.config["sense"]
        gain = sense.get("amp_gain", 1) * sense["r_ohms"]
        ped_uv = sense.get("pedestal_mv", 0) * 1000
        chip.inputs[pins["estop"]["gpio"]] = lambda: 0 if self.estop.asserted else 1
        chip.inputs[pins["compliance"]["gpio"]] = lambda: 1 if self.sense.model_compliance() else 0
        chip.inputs[pins["overcurrent"]["gpio"]] = lambda: (
            0 if self.sense.raw_ua() > OC_TRIP_UA and not self.stage.latched else 1
        )
        chip.inputs[pins["latch_q"]["gpio"]] = lambda: 1 if self.stage.latched else 0
        chip.adc_uv[pins["sense_adc"]["gpio"]] = lambda: int(self.sense.model_ua() * gain) + ped_uv
        chip.output_hooks[pins["latch_reset"]["gpio"]] = self.stage.on_lrst
        self.fw = board_esp32.build(self.config, chip.machine, chip.esp32, self.clock)
        self.kill = self.fw.kill
        self.dac = self.fw.dac
        # The trigger input and the marker are the firmware's (the tick reads the pad).
        if self.fw.trigger is not None:
            self.trigger = self.fw.trigger
            self._trigger_gpio = pins["trigger"]["gpio"]
        if self.fw.marker is not None:
            self.marker = self.fw.marker
        self.engine.attach(self.fw.engine)
        self.fw.engine = self.engine  # the firmware's safe_off stops through the recorder
        self.ceiling_ua = min(self.ceiling_ua, self.fw.ceiling_ua)
        self.dac.ceiling_ua = self.ceiling_ua

    def reset_cause(self):
        return self.fw.reset_cause()

    def _trigger_edge(self, level):
        """The trigger input's pad changes (a trace edge): the firmware's tick reads it."""
        self.chip.inputs[self._trigger_gpio] = level
        t = (self.clock.now_us // 1000 + 1) * 1000
        if self._tick_at_us < 0 or t < self._tick_at_us:
            self._tick_at_us = t

    def safe_off(self):
        self.fw.safe_off()

    def reset(self, cause):
        """A chip reset: every pad floats, the RMT stops mid-frame; the firmware boots again
        (a new board object on the same chip); OS-1's power-on reset sets the latch."""
        self.engine.cut()
        self.wdt.fed_before = self.wdt.feeds
        self.chip.reset(WDT_RESET if cause == "watchdog" else PWRON_RESET)
        self.stage.latched = True
        self.stalled = False
        self.resets += 1
        self.last_reset = cause
        self.reset_log.append((self.clock.now_us, cause))
        self._boot()

    def _apply(self, kind):
        """SimBoard's faults, with OS-1 as the kill path: the stage's latch (not the engine)
        cuts the bridge; the firmware sees it through its pins."""
        self.injected.append((self.clock.now_us, kind))
        self.chip.poll_inputs()  # edges before the latch cuts the current
        if kind == "overcurrent":
            self.sense.short = True
        elif kind == "lead_off":
            self.sense.load_ohm = OPEN_OHM
        elif kind == "estop":
            self.estop.asserted = True
        elif kind == "stall":
            self.stalled = True
        elif kind == "reset":
            self.reset("power")
        elif kind == "host_loss":
            self.host_lost = True
        self.chip.poll_inputs()
        self.stage.update()

    # ---- virtual time ----
    def _engine_due_us(self):
        """Absolute time of the engine's next need of a tick, or -1."""
        fw = self.fw
        clock = self.clock
        due = self.engine._fw.next_due_us()  # the firmware engine behind the recorder
        best = -1
        if due is not None:
            best = clock.now_us + clock.ticks_diff(due, clock.ticks_us())
        if fw.dac.setpoint_ua != fw.dac.value_ua:  # a setpoint waits for the pulse to end
            end = self.engine.busy_until_us()
            if end > clock.now_us and (best < 0 or end < best):
                best = end
        return best

    def idle_ms(self, ms):
        clock = self.clock
        end_us = clock.now_us + (ms + self._jitter()) * 1000
        last_tick_us = -1
        while True:
            nxt, what = end_us, 0
            sch = self.ticker.scheduler
            if sch is not None and not self.stalled:
                # the periodic 1 ms timer: the first tick at or after each deadline
                due_us = -1
                if sch.session.running():
                    wait_ms = clock.ticks_diff(sch.due_ms, clock.ticks_ms())
                    due_us = (clock.now_us // 1000 + (wait_ms if wait_ms > 0 else 0)) * 1000
                eng = self._engine_due_us()
                if eng >= 0:
                    eng = (eng + 999) // 1000 * 1000
                    if due_us < 0 or eng < due_us:
                        due_us = eng
                if due_us >= 0:
                    due_us += self._jitter() * 1000
                    if due_us <= last_tick_us:  # ticked there already: the next ms (no spin)
                        due_us = (last_tick_us // 1000 + 1) * 1000
                    elif due_us < clock.now_us:
                        due_us = clock.now_us  # overdue: now
                    if due_us < nxt:
                        nxt, what = due_us, 1
            if self._pending and self._pending[0][0] < nxt:
                nxt, what = self._pending[0][0], 2
            wdt_us = self.wdt.expires_us()
            if wdt_us >= 0 and wdt_us < nxt:
                nxt, what = wdt_us, 3
            if what == 0:
                break
            if nxt > clock.now_us:
                clock.now_us = nxt
            if what == 1:
                last_tick_us = clock.now_us
                self._tick(sch)
            elif what == 2:
                self._apply(self._pending.pop(0)[1])
                if not self.stalled and self.ticker.scheduler is not None:
                    clock.now_us = (clock.now_us // 1000 + 1) * 1000
                    self._tick(self.ticker.scheduler)
            else:
                self.reset("watchdog")
        if end_us > clock.now_us:
            clock.now_us = end_us
        sch = self.ticker.scheduler
        if sch is not None and not self.stalled:
            self._tick(sch)

    def _tick(self, sch):
        """One callback of the board's soft Timer: pending pin IRQs first, then the tick
        and the engine's feed (board/esp32.py Ticker)."""
        self.tick_calls += 1
        self.chip.poll_inputs()
        self.stage.update()
        timers = self.chip.timers
        if timers:
            timers[0].fire()


def cu_to_us(cu):
    return cu // CU_PER_US
