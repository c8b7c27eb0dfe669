"""The firmware's triggered PIO programs (board/rp2_pio.assemble_triggered) in the
cycle-exact emulator (pioemu), cycle by cycle: the trigger input, the firmware's gate, the
dead-man TX FIFO fed by a 1 ms tick, and the three output pins.

Emulated layout (pioemu ignores in_base: pin indexes are absolute): the trigger input is pin
0 (`wait pol pin 0`), the side-set pins A, B, SYNC are 1-3, the firmware's gate is pin 4
(jmp_pin). On the board in_base = the trigger GPIO and jmp_pin = the gate GPIO give the same
relative layout. Times are cycles of the state machine's clock (divider 1); the emulator has
no input synchroniser: on silicon every input is seen SYNC_CYCLES (2) later.

Every cycle is emulated (no fast-forward): use a low clock (a few MHz) to keep periods
short; cycle counts of the program's fixed costs do not depend on the clock.
"""

from collections import deque

from tvns_tools import pio_sim

TRIG_PIN = 0
GATE_PIN = 4
_OUT = 0b111 << pio_sim.SIDE_BASE


def program(mode, active):
    """(opcodes, wrap_target, wrap_top, sideset_count) of the triggered program."""
    rp2 = pio_sim.fake_rp2()
    return rp2.program_info(pio_sim.pio_module().assemble_triggered(rp2, mode, active))


def level_at(spans, cycle):
    """1 inside any [on, off) span (off None: for good), else 0."""
    for on, off in spans:
        if cycle >= on and (off is None or cycle < off):
            return 1
    return 0


def run(mode, active, words, trigger, gate, stop_cycle, tick_cycles=None, stall_cycle=None):
    """Edges [(cycle, a, b, sync)] of the program from its enabling (cycle 0) to stop_cycle.
    words: (n_w, n_g, n_o) for this mode (rp2_pio.counts(..., mode)); trigger(cycle) -> the
    input pin's level (electrical, before polarity); gate(cycle) -> the firmware's gate.
    tick_cycles: the 1 ms tick that tops the TX FIFO up to DEADMAN_PULSES words (None: every
    pulled word is replaced at once); none from stall_cycle on (a hung CPU).
    Also returns the cycles at which the dead-man `pull` took a word."""
    from pioemu import State, emulate

    ops, wrap_target, wrap_top, side_count = program(mode, active)
    n_w, n_g, n_o = words
    feed = pio_sim.deadman_pulses()
    pull_pc = next(pc for pc in range(wrap_target, len(ops)) if ops[pc] >> 13 == 4)
    state = State(transmit_fifo=deque([n_w, n_g] + [n_o] * feed), pin_directions=_OUT)
    owed = []  # cycles at which a tick puts back a word taken before it

    def source(s: State) -> int:
        return trigger(s.clock) << TRIG_PIN | gate(s.clock) << GATE_PIN

    edges, pulls = [], []
    last = 0
    for before, after in emulate(
        ops,
        stop_when=lambda _op, s: s.clock >= stop_cycle,
        initial_state=state,
        input_source=source,
        side_set_base=pio_sim.SIDE_BASE,
        side_set_count=side_count,
        jmp_pin=GATE_PIN,
        wrap_target=wrap_target,
        wrap_top=wrap_top,
    ):
        if before.program_counter == pull_pc and after.program_counter != pull_pc:
            pulls.append(before.clock)
            if tick_cycles is None:
                after.transmit_fifo.append(n_o)
            else:
                tick = (before.clock // tick_cycles + 1) * tick_cycles
                if stall_cycle is None or tick < stall_cycle:
                    owed.append(tick)
        while owed and owed[0] <= after.clock:
            owed.pop(0)
            after.transmit_fifo.append(n_o)
        pins = after.pin_values & _OUT
        if pins != last:
            p = pins >> pio_sim.SIDE_BASE
            edges.append((before.clock, p & 1, p >> 1 & 1, p >> 2 & 1))
            last = pins
    return edges, pulls


def pulse_starts(edges):
    """Cycles at which phase A rises."""
    out, prev = [], 0
    for c, a, _b, _s in edges:
        if a and not prev:
            out.append(c)
        prev = a
    return out


def trigger_latency(mode, active=1, clock_hz=4_000_000, width_us=20, gap_us=0, period_us=1000):
    """Input edge to the first phase-A edge, in cycles, for edges at several phases of the
    waiting machine (the gate open since cycle 0, the input inactive until the edge):
    {edge cycle: latency}. On silicon add rp2_pio.SYNC_CYCLES for the input synchroniser."""
    pio = pio_sim.pio_module()
    words = pio.counts(width_us, gap_us, period_us, clock_hz, mode)
    out = {}
    for edge in (100, 101, 102, 103, 257, 1000):
        spans = [(edge, None)]

        def trig(c, spans=spans):
            v = level_at(spans, c)
            return v if active else 1 - v

        edges, _pulls = run(mode, active, words, trig, lambda c: 1, edge + 200)
        starts = pulse_starts(edges)
        out[edge] = starts[0] - edge if starts else None
    return out


def run_fast(mode, active, words, trigger, gate, stop_cycle, feeder=None):
    """run() for long stretches at the board's clock (`tvns simulate --engine pio
    --trigger`): yields pioemu's (before, after) states, as pio_sim.run does for the
    untriggered program. trigger, gate: pio_sim.Gate (level 1 inside spans of cycles; they
    know their next change). feeder: pio_sim.Feeder (None: every pulled word is replaced).

    Fast-forwarded, exactly (the tests compare with run()): a `jmp x-- <itself>` delay loop
    to its last iteration; a `wait` that stalls to the next change of either input; the
    gated program's spin while the input is active and the gate shut (top: `wait` passes,
    `jmp pin` falls through, `jmp top`: side-set 0, no register touched) by whole turns up
    to that change; a `pull` that ran dry with no tick left to the end."""
    from dataclasses import replace

    from pioemu import State, emulate

    ops, wrap_target, wrap_top, side_count = program(mode, active)
    delay_mask = (1 << (5 - side_count)) - 1
    n_o = words[2]
    pull_pc = next(pc for pc in range(wrap_target, len(ops)) if ops[pc] >> 13 == 4)
    top = wrap_target
    # the spin: an unconditional `jmp top` (kind 000, condition 0, target top) closes it
    # (the train program has none: its `jmp top` leads to a `wait` that stalls)
    spin = [pc for pc in range(top, pull_pc) if ops[pc] >> 13 == 0 and ops[pc] & 0xFF == top]
    if mode != 1:
        spin = []
    spin_cycles = (
        sum(1 + ((ops[pc] >> 8) & delay_mask) for pc in range(top, spin[0] + 1)) if spin else 0
    )
    state = State(transmit_fifo=pio_sim.initial_fifo(words), pin_directions=_OUT)

    def source(s: State) -> int:
        return trigger(s.clock) << TRIG_PIN | gate(s.clock) << GATE_PIN

    def next_change(c):
        found = [x for x in (trigger.next_change(c), gate.next_change(c)) if x is not None]
        return min(found + [stop_cycle])

    while state.clock < stop_cycle:
        gen = emulate(
            ops,
            stop_when=lambda _op, s: s.clock >= stop_cycle,
            initial_state=state,
            input_source=source,
            side_set_base=pio_sim.SIDE_BASE,
            side_set_count=side_count,
            jmp_pin=GATE_PIN,
            wrap_target=wrap_target,
            wrap_top=wrap_top,
        )
        state = None
        for before, after in gen:
            yield before, after
            pc, bpc = after.program_counter, before.program_counter
            if bpc == pull_pc and pc != pull_pc:
                if feeder is None or feeder.refills(before.clock):
                    after.transmit_fifo.append(n_o)
            op = ops[pc]
            if pc == bpc == pull_pc and not after.transmit_fifo:
                state = replace(after, clock=stop_cycle)  # dry, and no tick will feed it
                break
            if pc == bpc and op >> 13 == 1:
                nxt = next_change(before.clock)  # the levels it just read hold until then
                if nxt > after.clock:
                    state = replace(after, clock=nxt)
                    break
            if pc == bpc and pio_sim._is_self_loop(op, pc):
                per_iter = 1 + ((op >> 8) & delay_mask)
                skip = min(after.x_register - 1, (stop_cycle - after.clock) // per_iter)
                if skip > 0:
                    state = replace(
                        after,
                        x_register=after.x_register - skip,
                        clock=after.clock + skip * per_iter,
                    )
                    break
            if pc == top and bpc in spin:
                # every turn reads the inputs at its first two cycles: turns that end
                # before the next change after the last turn's reads do the same
                nxt = next_change(after.clock - spin_cycles)
                turns = (nxt - after.clock) // spin_cycles
                if turns > 0:
                    state = replace(after, clock=after.clock + turns * spin_cycles)
                    break
        if state is None:
            return


def edges_of(steps):
    """[(cycle, a, b, sync)] for every change of the three output pins in run_fast()'s
    steps (side-set acts in the cycle its instruction issues)."""
    out, last = [], 0
    for before, after in steps:
        pins = after.pin_values & _OUT
        if pins != last:
            p = pins >> pio_sim.SIDE_BASE
            out.append((before.clock, p & 1, p >> 1 & 1, p >> 2 & 1))
            last = pins
    return out
