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
"""

_NS_PER_CYCLE = 8  # 125 MHz


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

    __slots__ = ("real", "clock", "stamp_ns", "stopped", "_ff", "_looping")

    def __init__(self, real, clock):
        self.real = real
        self.clock = clock
        self.stamp_ns = None
        self.stopped = real.stopped
        self._ff = {}  # machine index -> (due of the first skipped iteration, X there, step_fp)
        self._looping = {}  # machine index -> pc of the delay loop it has entered

    def advance(self, cycles):
        real = self.real
        if real.stopped:  # stopped behind our back (a chip reset): catch up and step nothing
            self.stopped = True
            self._ff.clear()
            self._looping.clear()
            return
        start = real.cycle_fp
        end = start + (cycles << 8)
        if end < real.next_due_fp:  # nothing due in this stretch: the common case
            real.cycle_fp = end
            return
        base_ns = self.clock.nanos - cycles * _NS_PER_CYCLE
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
            before = [(m, m.pc) for m in real.machines if m.enabled and m.next_due_fp <= due]
            real.advance(0)  # the machines due at exactly this cycle take one step
            for m, pc in before:
                self._ff.pop(m.index, None)
                if m.pc == pc and _countdown_step_fp(m, real.instructions[pc], pc):
                    self._looping[m.index] = pc
                else:
                    self._looping.pop(m.index, None)
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
        """Undo fast-forwards to the exact state at the current cycle (before a register
        access by the CPU, which may stop, restart or inspect a machine)."""
        if not self._ff:
            return
        real = self.real
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
        self._real.write_uint32(offset, value)
        self._proxy.stopped = self._real.stopped

    def write_uint32_atomic(self, offset, value, atomic_type):
        self._proxy.rewind()
        self._real.write_uint32_atomic(offset, value, atomic_type)
        self._proxy.stopped = self._real.stopped

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
