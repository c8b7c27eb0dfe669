"""Cycle-exact PIO pacing and edge timestamps for rp2040py 0.3.6.

What the emulator does on its own (rp2040py/peripherals/_pio.py `RPPIO.advance`): after each
emulated CPU instruction, and after each idle jump while the CPU sleeps, every running state
machine executes at most ONE instruction, and a machine owed more than 8 cycles has the rest
written off. That keeps DMA-fed FIFOs (the Pico W radio) in step, but a state machine at clock
divider 1 then runs at the CPU's instruction rate (about 1/1.6 of the clock while the CPU is
busy) and loses the time of every idle jump: measured with this firmware, 200 us phases came
out 313-349 us long and a 10 ms period 16.3 ms.

What this does: a proxy stands in for each block in rp2040.pio, the list the execution loop
walks (every attribute it does not define is the real block's). When a machine is due it runs
it at each of its due cycles in turn, never owing more than the emulator's write-off limit, so
a program runs exactly as many cycles as it asks for. While a step runs, `stamp_ns` holds the
emulated time of that cycle (the loop has already moved the clock to the end of the
instruction or jump), so a GPIO listener can timestamp PIO edges to the cycle (8 ns) instead
of to the end of a jump. Measured with the tvns program: 200 us phases, 20 us gaps and a 10 ms
period come out exact to the cycle, at the speed the emulator had without this.

Also: a machine that holds pins in a one-instruction loop (`set pins, v` that wraps to itself,
no delay: the firmware's kill machine once KILL_n has fallen) is "parked": it is not stepped on
its own (every cycle, in Python, for as long as it holds: 125,000 steps per emulated ms), only
together with every other step of its block, after the lower-numbered machines, so its writes
still win wherever they would on silicon (output priority) and nothing in between can glitch a
pin. Any CPU access to the block unparks it first.

Also: a change of SHIFTCTRL's FJOIN bits flushes both FIFOs of that machine (RP2040 datasheet,
SMx_SHIFTCTRL: "FIFOs are flushed when this bit is changed"). The pico-sdk clears FIFOs that
way (pio_sm_clear_fifos toggles FJOIN_RX twice) in pio_sm_init, which MicroPython's
StateMachine.init() calls; rp2040py 0.3.6 only stores the bits, so words put before an
init() stayed queued and the next sm.put() on the now full FIFO waited forever
(docs/EMULATOR.md). FIFO joining itself (8-deep FIFOs) is not modelled; the firmware does not
join.
"""

_NS_PER_CYCLE = 8  # 125 MHz
_SHIFTCTRL = {0x0D0 + 0x18 * i: i for i in range(4)}  # SMi_SHIFTCTRL offset -> machine
_FJOIN = 3 << 30  # FJOIN_TX, FJOIN_RX
_NEVER_FP = 1 << 62  # rp2040py's "never due"


def _holds_pins(m, instr, pc):
    """True when the machine's next instruction is `set <dest>, v` with no delay (and no
    side-set value) that wraps to itself: running it again changes nothing."""
    if (instr >> 13) != 0b111 or (instr >> 8) & 0x1F:
        return False
    ctrl = m.exec_ctrl
    return (ctrl >> 12) & 0x1F == pc and (ctrl >> 7) & 0x1F == pc and not m.exec_valid


def _countdown_step_fp(m, instr, pc):
    """Cycles (x256) per iteration when instr at pc is `jmp x-- <pc>`, else 0."""
    if (instr & 0xE0E0) != 0x0040 or (instr & 0x1F) != pc:
        return 0
    sideset_bits = (m.pin_ctrl >> 29) & 7
    delay = (instr >> 8) & ((1 << (5 - sideset_bits)) - 1)
    return (1 + delay) * m.div_fp


class ExactPio:
    """Proxy for one RPPIO in rp2040.pio (see module doc). `stopped` is a plain attribute,
    kept equal to the real block's by the register-write hook: the execution loop reads it
    after every instruction, so it must cost no more than a slot read.

    Delay loops (`label: jmp x-- label`, every segment of the tvns pulse program) are run in
    one go once a machine has executed the loop instruction once (its side-set is then on the
    pins and every further iteration only decrements X): the machine's next due time jumps to
    the iteration that falls through, X to 0. Anything that writes to the block's registers
    first rewinds that to the exact iteration (X and due time) at the current cycle."""

    __slots__ = (
        "real",
        "clock",
        "stamp_ns",
        "stopped",
        "_ff",
        "_looping",
        "_parked",
        "_ns",
        "_pre",
    )

    def __init__(self, real, clock):
        self.real = real
        self.clock = clock
        self.stamp_ns = None
        self.stopped = real.stopped
        self._ff = {}  # machine index -> (due of the first skipped iteration, X there, step_fp)
        self._looping = {}  # machine index -> pc of the delay loop it has entered
        self._parked = []  # machines holding their pins (module doc), in index order
        self._ns = clock.nanos  # emulated time of the machines' present cycle (catch_up)
        self._pre = 0  # cycles catch_up() ran of the stretch advance() is handed next

    def advance(self, cycles):
        """The execution loop's call, after an instruction or an idle jump of `cycles` (the
        clock already at its end), less what catch_up() ran of it before."""
        real = self.real
        if real.stopped:  # stopped behind our back (a chip reset): catch up and step nothing
            self.stopped = True
            self._ff.clear()
            self._looping.clear()
            self._parked = []
            self._pre = 0
            self._ns = self.clock.nanos
            return
        pre = self._pre
        if pre:
            self._pre = 0
            cycles -= pre
        now_ns = self.clock.nanos
        self._ns = now_ns
        if cycles > 0:
            end = real.cycle_fp + (cycles << 8)
            if end < real.next_due_fp:  # nothing due in this stretch: the common case
                real.cycle_fp = end
            else:
                self._run(cycles, now_ns - cycles * _NS_PER_CYCLE)

    def catch_up(self):
        """Run the machines up to the clock's present instant, before the host drives an input.

        rp2040py fires the alarms at the end of an idle jump (the CPU in WFI) before it hands
        the jump's cycles to the PIO: an input the host changes in such an alarm would be seen
        by a machine waiting on it (`wait 0 pin`: the kill machine) from the start of the jump,
        and its edges stamped up to the jump's length early (~20 us once the USB host stopped
        waking the CPU every ~38 us). On silicon the PIO ran every cycle before the input
        changed: so does this, and advance() then runs only the rest of the stretch."""
        if self.stopped or self.real.stopped:
            return
        k = int((self.clock.nanos - self._ns) / _NS_PER_CYCLE)
        if k <= 0:
            return
        self._run(k, self._ns)
        self._ns += k * _NS_PER_CYCLE
        self._pre += k

    def _run(self, cycles, base_ns):
        """Step every machine at each of its due cycles in the next `cycles`, the first of
        which is at emulated time base_ns."""
        real = self.real
        start = real.cycle_fp
        end = start + (cycles << 8)
        if end < real.next_due_fp:  # nothing due in this stretch: the common case
            real.cycle_fp = end
            return
        while True:
            due = real.next_due_fp
            if due > end:
                break
            if due < start:
                due = start
            real.cycle_fp = due
            if self._fast_forward(due):
                continue
            self.stamp_ns = base_ns + ((due - start) >> 8) * _NS_PER_CYCLE
            for m in self._parked:  # they write after the others in this cycle, as on silicon
                m.next_due_fp = due
            before = [(m, m.pc) for m in real.machines if m.enabled and m.next_due_fp <= due]
            real.advance(0)  # the machines due at exactly this cycle take one step
            for m, pc in before:
                self._ff.pop(m.index, None)
                instr = real.instructions[pc]
                if m.pc == pc and _countdown_step_fp(m, instr, pc):
                    self._looping[m.index] = pc
                else:
                    self._looping.pop(m.index, None)
                if m.pc == pc and not m.waiting and _holds_pins(m, instr, pc):
                    if m not in self._parked:
                        self._parked.append(m)
                        self._parked.sort(key=lambda x: x.index)
                    m.next_due_fp = _NEVER_FP
            if self._parked:
                real.recompute_due()
            if real.next_due_fp <= due:  # nothing moved on (all stalled): stop here
                break
        self.stamp_ns = None
        real.cycle_fp = end

    def _fast_forward(self, due):
        real = self.real
        for m in real.machines:
            if m.next_due_fp != due or not m.enabled or m.waiting or m.x == 0:
                continue
            pc = m.pc
            if self._looping.get(m.index) != pc:
                continue
            step_fp = _countdown_step_fp(m, real.instructions[pc], pc)
            if not step_fp:
                continue
            x0 = m.x
            self._ff[m.index] = (due, x0, step_fp)
            m.cycles += x0 * (step_fp // m.div_fp)
            m.x = 0
            m.next_due_fp = due + x0 * step_fp
            real.recompute_due()
            return True
        return False

    def rewind(self):
        """Undo fast-forwards and unpark to the exact state at the current cycle (before a
        register access by the CPU, which may stop, restart or inspect a machine)."""
        real = self.real
        if self._parked:
            for m in self._parked:  # due now again: it re-asserts its pins this cycle
                m.next_due_fp = real.cycle_fp
            self._parked = []
            real.recompute_due()
        if not self._ff:
            return
        now = real.cycle_fp
        for m in real.machines:
            ff = self._ff.pop(m.index, None)
            if ff is None:
                continue
            due, x0, step_fp = ff
            done = 0 if now < due else min(x0, (now - due) // step_fp + 1)
            m.cycles -= (x0 - done) * (step_fp // m.div_fp)
            m.x = x0 - done
            m.next_due_fp = due + done * step_fp
        real.recompute_due()

    def __getattr__(self, name):
        return getattr(self.real, name)


class _RegisterHook:
    """Stands in for a PIO block on the bus: forwards every access, then copies the block's
    running state to its proxy (the only way a block starts or stops is a register write)."""

    def __init__(self, real, proxy):
        self._real = real
        self._proxy = proxy

    def read_uint32(self, offset):
        return self._real.read_uint32(offset)

    def write_uint32(self, offset, value):
        self._proxy.rewind()
        self._proxy._ns = self._proxy.clock.nanos  # the machines are at this instruction
        old = self._shiftctrl(offset)
        self._real.write_uint32(offset, value)
        self._flush_on_join(offset, old)
        self._proxy.stopped = self._real.stopped

    def write_uint32_atomic(self, offset, value, atomic_type):
        self._proxy.rewind()
        self._proxy._ns = self._proxy.clock.nanos  # the machines are at this instruction
        old = self._shiftctrl(offset)
        self._real.write_uint32_atomic(offset, value, atomic_type)
        self._flush_on_join(offset, old)
        self._proxy.stopped = self._real.stopped

    def _shiftctrl(self, offset):
        i = _SHIFTCTRL.get(offset)
        return None if i is None else self._real.machines[i].shift_ctrl

    def _flush_on_join(self, offset, old):
        """Both FIFOs of the machine flushed when a write changed its FJOIN bits (module doc)."""
        if old is None:
            return
        m = self._real.machines[_SHIFTCTRL[offset]]
        if not (m.shift_ctrl ^ old) & _FJOIN:
            return
        m.tx_fifo.reset()
        m.rx_fifo.reset()
        dma = m.rp2040.dma
        dma.set_dreq(m.dreq_tx)  # TX not full: the DMA may write
        dma.clear_dreq(m.dreq_rx)  # RX empty: nothing to read
        m.check_wait()  # a machine stalled on a full RX FIFO may go on
        self._real.check_interrupts()

    def __getattr__(self, name):
        return getattr(self._real, name)


def install(mcu, clock):
    """Put the pacing proxies in place; returns them (their .stamp_ns is the edge time)."""
    if isinstance(mcu.pio[0], ExactPio):
        return list(mcu.pio)
    proxies = [ExactPio(p, clock) for p in mcu.pio]
    for key, periph in list(mcu.peripherals.items()):
        for proxy in proxies:
            if periph is proxy.real:
                mcu.peripherals[key] = _RegisterHook(proxy.real, proxy)
    mcu.pio = proxies
    return proxies
