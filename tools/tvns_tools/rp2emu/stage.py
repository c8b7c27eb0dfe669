# Longer than ~300 lines: one model of OS-1 whose parts (source, sense hold, comparators,
# e-stop, injected faults) share one state updated by pin events on the engine thread.
"""The virtual output stage: what hardware/README.md's stage would do, attached to the
emulated chip's pins and run on its clock (every callback here runs on the engine thread).

Reads, from the pins the pin map names (hardware/boards/pico.json, never hard-coded):
  phase_a / phase_b (the H-bridge), the amplitude setpoint (dac_pwm's PWM duty through the
  RC filter, or an MCP4725's I2C fast-write codes when dac.kind is "mcp4725").
Drives:
  sense_adc  the peak-hold of the sense amplifier, as the ADC would convert it;
  compliance the current source's headroom comparator;
  estop      the e-stop contact (normally open to GND when estop.active is 0, normally
             closed when it is 1: a cut cable then reads as pressed);
  extra inputs others add with add_input() (a kill line, a comparator readback, ...).

The model is the reference stage OS-1 (hardware/DESIGN.md), written down in docs/EMULATOR.md:
- The current source delivers the setpoint (full_scale_ua x duty + offset_ua, the pin map's
  DAC calibration taken as exact), never more than the hardware limiter (limit_ua, 10.49 mA)
  and never more than compliance_v / R into the load (30 V rail less the sink's 0.8 V
  headroom). Open load: no current.
- The sense is a sample-and-hold that tracks the current during phase A and is cleared while
  the gate is low, so the ADC shows the last pulse's current; hold_tau_ms adds an RC bleed
  instead (a peak detector, for what-ifs).
- The ADC converts with the firmware's own calibration (4095 counts = vref_mv at the
  amplifier output) and rounds down: a reading is never above the true current.
- The lead-off comparator is sampled at the end of phase A and cleared while the gate is low:
  high when the sink ran out of headroom or the load needs more than 6.81 kohm x I + 0.59 V
  (OS-1's impedance term: trips 10 kohm from 0.18 mA, never 2 kohm).
"""

import math

LOADS = {"500": 500, "2k": 2000, "10k": 10000, "open": None, "short": 0}
FAULTS = ("open", "short", "overcurrent", "estop", "estop_cut", "stuck_dac", "hang", "hang_cpu")
# OS-1 (hardware/DESIGN.md): 30 V rail, the sink needs 0.8 V; limiter at 10.49 mA; the
# impedance comparator trips when the load needs more than IMPEDANCE_OHMS x I + IMPEDANCE_V.
COMPLIANCE_V = 29.2
LIMIT_UA = 10490
IMPEDANCE_OHMS = 6810
IMPEDANCE_V = 0.59
OC_TRIP_UA = 10980  # OS-1's overcurrent comparator on the sense resistor (OC_OK low above it)
HANG_GPIO_PREFERENCE = (22, 21, 20, 19, 18, 14, 13, 12, 11, 10)  # a spare pin for the hang hook


def load_ohms(name):
    """'2k' -> 2000, '500' -> 500, 'open' -> None, 'short' -> 0; also plain numbers/'4.7k'."""
    key = str(name).strip().lower()
    if key in LOADS:
        return LOADS[key]
    try:
        if key.endswith("k"):
            return int(float(key[:-1]) * 1000)
        return int(float(key))
    except ValueError:
        raise ValueError(
            "load %r: give ohms (500, 2k, 10k, 4.7k), open or short" % (name,)
        ) from None


def pin(config, name):
    """GPIO number of a pin-map entry, or None when the board has no such pin."""
    spec = config.get("pins", {}).get(name)
    return None if spec is None else int(spec["gpio"])


def spare_gpio(config, skip=()):
    used = {int(s["gpio"]) for s in config.get("pins", {}).values()} | set(skip)
    for g in HANG_GPIO_PREFERENCE:
        if g not in used:
            return g
    raise ValueError("no spare GPIO for the hang hook")


class OutputStage:
    def __init__(
        self,
        emu,
        config,
        load="2k",
        compliance_v=None,
        limit_ua=LIMIT_UA,
        hold_tau_ms=None,
    ):
        self.emu = emu
        self.config = config
        self.r_ohms = load_ohms(load)
        self.load = str(load)
        if compliance_v is None:  # a pin map may state its stage's; else OS-1's
            compliance_v = config.get("stage", {}).get("compliance_v", COMPLIANCE_V)
        self.compliance_v = float(compliance_v)
        self.limit_ua = int(limit_ua)
        self.hold_tau_ms = hold_tau_ms
        dac = config.get("dac", {})
        self.dac_kind = dac.get("kind", "pwm")
        self.fs_ua = int(dac.get("full_scale_ua", 10000))
        self.dac_offset_ua = int(dac.get("offset_ua", 0))
        sense = config.get("sense", {})
        # ADC counts per uA at the amplifier output (firmware convention: 4095 = vref).
        self._counts_per_ua = (
            4095.0
            * sense.get("r_ohms", 100)
            * sense.get("amp_gain", 1)
            / (sense.get("vref_mv", 3300) * 1000.0)
        )
        self._comp_active = int(sense.get("compliance_active", 1))
        self._estop_active = int(config.get("estop", {}).get("active", 0))
        # The e-stop contact goes to the rail its pin's pull is not: a pull-down pin is wired
        # to 3V3 (OS-1's normally-closed loop), a pull-up pin to GND (a button). It is normally
        # closed when "pressed" reads as the pull's level (pressing opens it).
        est = config.get("pins", {}).get("estop", {})
        self._estop_rail = est.get("pull", "up") == "down"  # True: the contact drives high
        self._estop_nc = (0 if self._estop_rail else 1) == self._estop_active
        self.gpio = {
            name: pin(config, name)
            for name in (
                "phase_a",
                "phase_b",
                "sync",
                "gate",
                "dac_pwm",
                "compliance",
                "estop",
                "sense_adc",
                "kill",
                "overcurrent",
            )
        }
        self.hang_gpio = spare_gpio(config)
        # with the hang line: the hung loop also disables interrupts (no tick either)
        self.hang_cpu_gpio = spare_gpio(config, skip=(self.hang_gpio,))
        self.faults = {}  # kind -> injection time (ns)
        self.events = []  # (t_ns, "inject"|"clear", kind)
        self.stuck_ua = None
        self.held_ua = 0  # the peak-hold's value
        self.held_at_ns = 0
        self.comp_high = False  # the comparator's held output
        self.phase_high = {"phase_a": False, "phase_b": False}  # the bridge's inputs now
        self.pulses = []  # (t_ns, current_ua, setpoint_ua) at every phase-A start
        self.phases = 0
        self._extra = {}  # name -> (gpio, level_fn(stage) -> bool | None)
        self._mcp_code = 0
        self._mcp_bytes = []
        self._attached = False
        self.estop_pressed = False

    # ---- wiring (engine thread) ----
    def attach(self):
        """Connect to the chip: call once, before or after the emulator starts."""
        self.emu.call(self._attach)
        return self

    def _attach(self):
        mcu = self.emu.mcu
        outs = [self.gpio[n] for n in ("phase_a", "phase_b", "sync", "gate", "dac_pwm")]
        self.emu.wire_loopback([g for g in outs if g is not None])
        for name in ("phase_a", "phase_b"):
            g = self.gpio[name]
            mcu.gpio[g].add_listener(self._phase_listener(name))
        if self.gpio["gate"] is not None:
            mcu.gpio[self.gpio["gate"]].add_listener(self._gate_listener())
        if self.dac_kind == "mcp4725":
            self._attach_mcp4725()
        if self.hold_tau_ms:
            self._bleed = self.emu.clock.create_alarm(self._bleed_step)
            self._bleed.schedule(100_000)
        self._attached = True
        self._drive_inputs()

    def _phase_listener(self, name):
        from rp2040py.gpio_pin import GPIOPinState

        high = GPIOPinState.HIGH

        def on_change(value, _old):
            on = value == high
            if on == self.phase_high[name]:
                return
            self.phase_high[name] = on
            if on:
                self._phase_start(name)
            else:
                self._drive_kill()  # no current through the sense resistor: OC_OK lets go

        return on_change

    def _gate_listener(self):
        from rp2040py.gpio_pin import GPIOPinState

        high = GPIOPinState.HIGH

        def on_change(value, _old):
            if value != high:  # gate low clears the sample-and-hold and the lead-off flag
                self.held_ua = 0
                self.comp_high = False
                self._update_adc()
                self._drive_comparator()

        return on_change

    def _attach_mcp4725(self):
        dac = self.config.get("dac", {})
        bus = self.emu.mcu.i2c[int(dac.get("i2c_id", 0))]
        addr = int(dac.get("i2c_addr", 0x60))

        def on_connect(address, _mode):
            self._mcp_bytes = []
            bus.complete_connect(address == addr)

        def on_write(value):
            self._mcp_bytes.append(value)
            bus.complete_write(True)

        def on_stop():
            b = self._mcp_bytes
            if len(b) >= 2 and (b[0] & 0xC0) == 0:  # fast write, power-down bits 00
                self._mcp_code = ((b[0] & 0x0F) << 8) | b[1]
            self._mcp_bytes = []
            bus.complete_stop()

        bus.on_connect = on_connect
        bus.on_write_byte = on_write
        bus.on_stop = on_stop

    # ---- the physics ----
    def setpoint_ua(self):
        """The current the source is told to drive now (engine thread)."""
        if self.stuck_ua is not None:
            return self.stuck_ua
        return self._dac_ua()

    def _dac_ua(self):
        if self.dac_kind == "mcp4725":
            frac = self._mcp_code / 4095.0
        else:
            frac = self._pwm_fraction(self.gpio["dac_pwm"])
        if frac <= 0:
            return 0
        return max(0, int(self.fs_ua * frac + self.dac_offset_ua))

    def _pwm_fraction(self, g):
        from rp2040py.gpio_pin import FUNCTION_PWM

        io = self.emu.mcu.gpio[g]
        if io.function_select != FUNCTION_PWM:
            return 1.0 if io.output_enable and io.output_value else 0.0
        ch = self.emu.mcu.pwm.channels[(g >> 1) & 7]
        if not ch.csr & 1:  # slice disabled: the output stays at its last level, low here
            return 0.0
        level = (ch.cc >> 16) if g & 1 else (ch.cc & 0xFFFF)
        return min(level, ch.top + 1) / (ch.top + 1)

    def current_ua(self, setpoint_ua=None):
        """(current into the load, out of compliance?) for a phase starting now."""
        i = self.setpoint_ua() if setpoint_ua is None else setpoint_ua
        if "short" in self.faults:
            i = 10**9  # the sink transistor shorted: only the load and the rail limit it
        else:
            i = min(i, self.limit_ua)
        r = None if "open" in self.faults else self.r_ohms
        if r is None:
            return 0, True
        if r > 0 and i * r / 1e6 > self.compliance_v:
            return int(self.compliance_v / r * 1e6), True
        return i, i > 0 and i * r / 1e6 > IMPEDANCE_OHMS * i / 1e6 + IMPEDANCE_V

    def _phase_start(self, name):
        self.phases += 1
        if name != "phase_a":
            self._drive_kill()  # the overcurrent comparator watches phase B's current too
            return
        setpoint = self.setpoint_ua()
        ua, comp = self.current_ua(setpoint)
        t_ns = self.emu.edge_ns()
        self.pulses.append((t_ns, ua, setpoint))
        self._sample(ua, comp, t_ns)
        for g, fn in self._extra.values():
            self._drive(g, fn(self))

    def _sample(self, ua, comp, t_ns):
        """OS-1 samples the sense and the lead-off flag during phase A."""
        self.held_ua = ua
        self.held_at_ns = t_ns
        self.comp_high = comp
        self._update_adc()
        self._drive_comparator()

    def current_now_ua(self):
        """The current through the sense resistor now: a phase's, else none."""
        if not (self.phase_high["phase_a"] or self.phase_high["phase_b"]):
            return 0
        return self.current_ua()[0]

    def _bleed_step(self):
        self._update_adc()
        self._bleed.schedule(100_000)

    def held_now_ua(self):
        if not self.hold_tau_ms:
            return self.held_ua
        dt_ms = (self.emu.now_ns - self.held_at_ns) / 1e6
        return self.held_ua * math.exp(-dt_ms / self.hold_tau_ms)

    def adc_counts(self, ua):
        """12-bit ADC reading for a sensed current, rounded down, clipped at full scale."""
        return min(4095, max(0, int(math.floor(ua * self._counts_per_ua + 1e-9))))

    def _update_adc(self):
        g = self.gpio["sense_adc"]
        if g is not None and 26 <= g <= 29:
            self.emu.mcu.adc.channel_values[g - 26] = self.adc_counts(self.held_now_ua())

    # ---- inputs the stage drives ----
    def _drive(self, gpio, level):
        """level True/False drives the pin; None leaves it floating (its pull decides)."""
        self.emu.drive(gpio, level)  # the PIO first runs up to this instant, as on silicon

    def _drive_comparator(self):
        g = self.gpio["compliance"]
        if g is not None:
            self._drive(g, self.comp_high == bool(self._comp_active))
        self._drive_kill()

    def _drive_kill(self):
        if self.gpio["overcurrent"] is not None:
            self._drive(self.gpio["overcurrent"], self._oc_ok())
        if self.gpio["kill"] is not None:
            self._drive(self.gpio["kill"], self._kill_level())

    def _estop_closed(self):
        if "estop_cut" in self.faults:
            return False  # the cable is cut: the contact is open whatever the button does
        pressed = "estop" in self.faults or self.estop_pressed
        return not pressed if self._estop_nc else pressed

    def _estop_level(self):
        """A closed contact drives its rail; an open one floats (the pin's pull decides)."""
        return self._estop_rail if self._estop_closed() else None

    def _oc_ok(self):
        """OS-1's overcurrent comparator (U14A on the sense resistor, not the hold): low while
        more than OC_TRIP_UA flows, or while the `overcurrent` fault holds it tripped."""
        return "overcurrent" not in self.faults and self.current_now_ua() <= OC_TRIP_UA

    def _kill_level(self):
        """OS-1's KILL_n: high while the e-stop loop is closed and OC_OK is high."""
        loop = self._estop_closed() if self._estop_nc else not self._estop_closed()
        return loop and self._oc_ok()

    def _drive_inputs(self):
        if self.gpio["estop"] is not None:
            self._drive(self.gpio["estop"], self._estop_level())
        self._drive_kill()
        self._drive_comparator()
        self._drive(self.hang_gpio, "hang" in self.faults or "hang_cpu" in self.faults)
        self._drive(self.hang_cpu_gpio, "hang_cpu" in self.faults)
        for g, fn in self._extra.values():
            self._drive(g, fn(self))
        self._update_adc()

    def add_input(self, name, gpio, level_fn):
        """Another input the stage drives: level_fn(stage) -> True/False/None (floating),
        re-evaluated at every phase start and every inject/clear."""
        self._extra[name] = (int(gpio), level_fn)
        if self._attached:
            self.emu.call(self._drive_inputs)

    # ---- faults (thread-safe: host code calls these) ----
    def inject(self, kind, stuck_ua=None):
        if kind not in FAULTS:
            raise ValueError("fault %r: one of %s" % (kind, ", ".join(FAULTS)))
        self.emu.call(self._inject, kind, stuck_ua)

    def _inject(self, kind, stuck_ua=None):
        self.faults[kind] = self.emu.now_ns
        self.events.append((self.emu.now_ns, "inject", kind))
        if kind == "stuck_dac":
            self.stuck_ua = self._dac_ua() if stuck_ua is None else int(stuck_ua)
        if self.phase_high["phase_a"] and kind in ("open", "short", "stuck_dac"):
            ua, comp = self.current_ua()  # mid phase A: the hold follows the new current
            self._sample(ua, comp, self.emu.now_ns)
        self._drive_inputs()

    def clear(self, kind):
        self.emu.call(self._clear, kind)

    def _clear(self, kind):
        self.faults.pop(kind, None)
        self.events.append((self.emu.now_ns, "clear", kind))
        if kind == "stuck_dac":
            self.stuck_ua = None
        if kind in ("open", "short"):
            self.comp_high = False
        self._drive_inputs()

    def inject_at(self, t_ns, kind, stuck_ua=None):
        """Inject at an exact emulated time (an alarm on the engine thread)."""
        self.emu.at_ns(t_ns, lambda: self._inject(kind, stuck_ua))

    def press_estop(self, pressed=True):
        def _set():
            self.estop_pressed = pressed
            self._drive_inputs()

        self.emu.call(_set)

    def set_load(self, load):
        self.r_ohms = load_ohms(load)
        self.load = str(load)
