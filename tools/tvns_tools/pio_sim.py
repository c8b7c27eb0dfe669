"""Run the firmware's real PIO pulse program in the cycle-exact emulator (pioemu).

The program is the one firmware/tvns/board/rp2.py loads: it is assembled here by the
host fake of MicroPython's rp2.asm_pio (host_tests/fakes/rp2.py) from
firmware/tvns/board/rp2_pio.py, then run by pioemu one PIO clock at a time.

Time base: t = 0 is the cycle the state machine is enabled (sm.active(1) right after
engine.load); times are exact rationals, `fractions.Fraction(cycle, cycles_per_us)`
microseconds (at 125 MHz one cycle is 8 ns = Fraction(1, 125) us). A gate that rises at
t is seen by the `wait` in that same cycle, the dead man's `pull` takes the next, so the
first phase-A edge comes 2 cycles later (on silicon the GPIO input synchroniser adds 2
more cycles).

The TX FIFO is fed as the board's control tick feeds it (Feeder): the engine's load puts
the setup words and DEADMAN_PULSES off-time words; a 1 ms periodic tick tops it up again
after each pulse's pull, until the CPU stalls (Feeder.stall_cycle), after which the program
runs dry at `pull` with all pins low. The second state machine (the kill path) and the
RP2040's output priority between the two are in pio_block.py.

Pure emulation costs one pioemu step per PIO cycle (about 40 k cycles/s here, see
tools/bench_pio.py), too slow for 125 MHz periods; by default delay loops are
fast-forwarded (see run()), which makes a period cost a few dozen steps.
"""

import importlib.util
import pathlib
from collections import deque
from fractions import Fraction

ROOT = pathlib.Path(__file__).resolve().parents[2]
FAKE_RP2 = ROOT / "host_tests" / "fakes" / "rp2.py"

# Emulator pin layout. pioemu ignores in_base (pin indexes are absolute), so the gate is
# GPIO 0 here and the side-set pins follow it; on the board the same relative layout is
# set by in_base / sideset_base.
GATE_PIN = 0
SIDE_BASE = 1
PIN_A = SIDE_BASE
PIN_B = SIDE_BASE + 1
PIN_SYNC = SIDE_BASE + 2
_OUT_MASK = 0b111 << SIDE_BASE

_cache = {}


def _load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def fake_rp2():
    """The host rp2 fake, loaded under a private name (never as `rp2` in sys.modules)."""
    if "rp2" not in _cache:
        _cache["rp2"] = _load_module("_tvns_host_rp2", FAKE_RP2)
    return _cache["rp2"]


def pio_module():
    """firmware tvns.board.rp2_pio (needs firmware/ on sys.path for tvns.errors)."""
    from tvns_tools.firmware import import_firmware

    import_firmware()
    from tvns.board import rp2_pio

    return rp2_pio


def program():
    """(opcodes, wrap_target, wrap_top, sideset_count) of the firmware's pulse program."""
    if "prog" not in _cache:
        rp2 = fake_rp2()
        _cache["prog"] = rp2.program_info(pio_module().assemble(rp2))
    return _cache["prog"]


def _is_self_loop(opcode, pc):
    """`jmp x-- <itself>`: opcode kind 000, condition x-- (2), target = its own address."""
    return opcode >> 13 == 0 and (opcode >> 5) & 7 == 2 and opcode & 0x1F == pc


class Feeder:
    """The control tick's top-ups of the TX FIFO, as on the board: a periodic tick every
    tick_cycles tops the FIFO up to DEADMAN_PULSES words; none runs from stall_cycle on
    (a hung CPU). A word pulled at cycle c is replaced at the first tick after c."""

    def __init__(self, tick_cycles, stall_cycle=None):
        self.tick_cycles = tick_cycles
        self.stall_cycle = stall_cycle

    def refills(self, pull_cycle):
        tick = (pull_cycle // self.tick_cycles + 1) * self.tick_cycles
        return self.stall_cycle is None or tick < self.stall_cycle


def initial_fifo(words):
    """The TX FIFO after engine.load: (n_w, n_g, n_o) -> n_w, n_g, then one n_o per
    permitted pulse."""
    n_w, n_g, n_o = words
    return deque([n_w, n_g] + [n_o] * deadman_pulses())


def deadman_pulses():
    pio_module()
    from tvns import safety

    return safety.DEADMAN_PULSES


def run(words, gate, stop_cycle, fast=True, feeder=None):
    """Emulate from reset until stop_cycle; yields (before, after) states of pioemu.

    words: (n_w, n_g, n_o) as engine.load computes them (the FIFO starts as initial_fifo);
    gate(cycle) -> 0/1 is the gate pin level (a Gate, or any function; only a Gate lets
    `wait` stalls be fast-forwarded). feeder: when the tick refills the FIFO (default: a
    CPU that never stalls, so every pulled word is replaced before the next pull).
    fast: fast-forward delay loops and `wait` stalls. Once a `jmp x-- <itself>` has run
    (so its side-set is on the pins) every further iteration only does X -= 1 and
    clock += 1 + delay, and reads no pin; we jump the state over all but the last
    iteration (X = 1) and resume pioemu there, so the loop exit and everything else is
    still emulated. A `wait` that stalls reads only the gate, so it is skipped to the
    gate's next change. The tests check that fast and pure emulation give identical edges.
    """
    from dataclasses import replace

    from pioemu import State, emulate

    opcodes, wrap_target, wrap_top, side_count = program()
    delay_mask = (1 << (5 - side_count)) - 1
    deadman_pc = wrap_target + 1  # the `pull` right after the gate's `wait`
    n_o = words[2]
    state = State(
        transmit_fifo=initial_fifo(words),
        pin_directions=_OUT_MASK,  # side-set pins are outputs (pioemu masks inputs by this)
    )

    def source(s: State) -> int:
        return gate(s.clock) << GATE_PIN

    while state.clock < stop_cycle:
        gen = emulate(
            opcodes,
            stop_when=lambda _op, s: s.clock >= stop_cycle,
            initial_state=state,
            input_source=source,
            side_set_base=SIDE_BASE,
            side_set_count=side_count,
            wrap_target=wrap_target,
            wrap_top=wrap_top,
        )
        state = None
        for before, after in gen:
            yield before, after
            pc = after.program_counter
            if before.program_counter == deadman_pc and pc != deadman_pc:
                # The pulse took its word: the next tick puts another, unless the CPU hung.
                if feeder is None or feeder.refills(before.clock):
                    after.transmit_fifo.append(n_o)
            op = opcodes[pc]
            if fast and pc == before.program_counter == deadman_pc and not after.transmit_fifo:
                # Run dry at `pull` and no tick will ever feed it again: nothing changes.
                state = replace(after, clock=stop_cycle)
                break
            if (
                fast
                and pc == before.program_counter
                and op >> 13 == 1
                and hasattr(gate, "next_change")
            ):
                # Stalled on `wait`: nothing changes until the gate does.
                nxt = gate.next_change(after.clock)
                nxt = stop_cycle if nxt is None else min(nxt, stop_cycle)
                if nxt > after.clock:
                    state = replace(after, clock=nxt)
                    break
            if fast and pc == before.program_counter and _is_self_loop(op, pc):
                per_iter = 1 + ((op >> 8) & delay_mask)
                skip = min(after.x_register - 1, (stop_cycle - after.clock) // per_iter)
                if skip > 0:
                    state = replace(
                        after,
                        x_register=after.x_register - skip,
                        clock=after.clock + skip * per_iter,
                    )
                    break
        if state is None:
            return


def edges_in_cycles(words, gate, stop_cycle, fast=True, feeder=None):
    """[(cycle, a, b, sync)] for every change of the three output pins."""
    out = []
    last = 0
    for before, after in run(words, gate, stop_cycle, fast, feeder):
        pins = after.pin_values & _OUT_MASK
        if pins != last:
            # Side-set takes effect in the cycle the instruction issues (before.clock).
            out.append((before.clock, pins >> PIN_A & 1, pins >> PIN_B & 1, pins >> PIN_SYNC & 1))
            last = pins
    return out


class Gate:
    """Gate level from on-intervals in cycles [(on, off or None)]; knows its next change."""

    def __init__(self, spans):
        self.spans = list(spans)
        self._changes = sorted({t for span in self.spans for t in span if t is not None})

    def __call__(self, cycle):
        for on, off in self.spans:
            if cycle >= on and (off is None or cycle < off):
                return 1
        return 0

    def next_change(self, cycle):
        for t in self._changes:
            if t > cycle:
                return t
        return None


def gate_function(gate_us, cycles_per_us):
    """Gate from [(on_us, off_us or None), ...] intervals."""
    return Gate(
        (on * cycles_per_us, None if off is None else off * cycles_per_us) for on, off in gate_us
    )


def simulate(
    width_us,
    gap_us,
    period_us,
    gate_us=((0, None),),
    duration_us=None,
    clock_hz=125_000_000,
    with_sync=False,
    fast=True,
):
    """Edges of the emulated program: [(t_us, phase_a, phase_b)] (t_us a Fraction).

    gate_us: gate-on intervals [(on_us, off_us)], off_us None = stays on.
    duration_us: how long to emulate; default: the last gate edge plus two periods.
    with_sync: add the SYNC pin as a fourth item.
    fast: fast-forward delay loops (see run()); False = every cycle through pioemu.
    Raises tvns.errors.TvnsError when the board could not express the timing.
    """
    pio = pio_module()
    cpu = pio.cycles_per_us(clock_hz)
    words = pio.counts(width_us, gap_us, period_us, clock_hz)
    if duration_us is None:
        ends = [t for span in gate_us for t in span if t is not None]
        duration_us = max(ends, default=0) + 2 * period_us
    edges = edges_in_cycles(words, gate_function(gate_us, cpu), duration_us * cpu, fast)
    if with_sync:
        return [(Fraction(c, cpu), a, b, s) for c, a, b, s in edges]
    return [(Fraction(c, cpu), a, b) for c, a, b, _s in edges]
