"""Two state machines of one PIO block, cycle by cycle: the pulse machine (pio_sim.run) and
the kill machine (board/rp2_pio.assemble_kill), each emulated by pioemu (which models one
machine), their pin writes combined with the RP2040's output priority.

The rule (RP2040 datasheet, section 3.5.6.1 "Output Priority"): PIO keeps one output level
per GPIO; in each cycle every state machine may write some pins (side-set, OUT, SET, MOV
PINS); when several write the same pin in the same cycle the highest-numbered machine's
write wins; a pin nobody writes keeps its level. Side-set is a write on the cycle its
instruction issues (stalled or not, once: a stalled instruction does not write again while
it waits, and neither do its delay cycles). The firmware's safe stop and a chip reset hand
the pins back to GPIO low: above every machine.

The emulated layout is per machine: the pulse machine sees the gate on pin 0 and drives
pins 1-3 (pio_sim); the kill machine sees KILL_n on pin 0 and the inputs above it at their
board offsets (in_base relative, as on the chip) and writes pins 1-3 with `set pins`.
"""

import json
from fractions import Fraction

from tvns_tools import pio_sim

_OUT = 0b111  # A, B, SYNC as a 3-bit value (bit 0 = A)


def pulse_writes(steps, opcodes=None):
    """Write runs [(start, end, value)] of the pulse machine from pio_sim.run's steps (or
    pio_trigger.run_fast's, with that program's opcodes): value written at every cycle of
    [start, end)."""
    opcodes = opcodes or pio_sim.program()[0]
    runs = []
    prev_after = None
    prev_stall_pc = -1
    for before, after in steps:
        pc = before.program_counter
        op = opcodes[pc]
        if prev_after is not None and before.clock > prev_after.clock:
            # A fast-forward gap: a delay loop's iterations each wrote the same side-set;
            # a stall (`wait`, `pull`) wrote nothing.
            if pio_sim._is_self_loop(op, pc) and prev_after.program_counter == pc:
                value = prev_after.pin_values >> pio_sim.PIN_A & _OUT
                runs.append((prev_after.clock, before.clock, value))
        stalled = after.program_counter == pc and op >> 13 in (1, 4)
        if not (stalled and prev_stall_pc == pc):
            runs.append((before.clock, before.clock + 1, after.pin_values >> pio_sim.PIN_A & _OUT))
        prev_stall_pc = pc if stalled else -1
        prev_after = after
    return runs


def kill_program(snapshot_bits):
    """(opcodes, wrap_target, wrap_top) of the firmware's kill program."""
    rp2 = pio_sim.fake_rp2()
    ops, wt, wtop, _side = rp2.program_info(pio_sim.pio_module().assemble_kill(rp2, snapshot_bits))
    return ops, wt, wtop


def kill_offsets():
    """{input name: bit in the kill snapshot} and the snapshot width, from the Pico pin map
    (inputs at their GPIO distance above pins.kill, as the board's in_base gives them)."""
    pins = json.loads((pio_sim.ROOT / "hardware" / "boards" / "pico.json").read_text())["pins"]
    k = pins["kill"]["gpio"]
    bits = {n: (pins[n]["gpio"] - k) % 32 for n in ("estop", "overcurrent")}
    return bits, max(bits.values()) + 1


def kill_run(kill_cycle, stop_cycle, levels=None, snapshot_bits=None):
    """Emulate the kill machine from its arming (cycle 0) to stop_cycle. kill_cycle: when
    KILL_n falls (None: never). levels: {bit: level} of the other snapshot inputs after the
    fall (e.g. {10: 0} for OC_OK low; the rest stay high). Returns (write runs, pushed
    snapshot or None)."""
    from pioemu import State, emulate

    if snapshot_bits is None:
        snapshot_bits = kill_offsets()[1]
    ops, wrap_target, wrap_top = kill_program(snapshot_bits)
    if kill_cycle is None or kill_cycle >= stop_cycle:
        return [], None
    mask_out = _OUT << pio_sim.PIN_A
    released = ((1 << snapshot_bits) - 1) & ~mask_out  # every input high
    fired = released & ~1  # KILL_n low
    for bit, level in (levels or {}).items():
        fired = (fired & ~(1 << bit)) | (level << bit)

    def inputs(s: State) -> int:
        return released if s.clock < kill_cycle else fired

    # The wait stalls, reading only KILL_n: start at the fall (fast-forward), as pio_sim does.
    state = State(clock=kill_cycle, pin_directions=mask_out, pin_values=0)
    runs = []
    for before, after in emulate(
        ops,
        stop_when=lambda _op, s: s.clock >= stop_cycle,
        initial_state=state,
        input_source=inputs,
        set_base=pio_sim.PIN_A,
        set_count=3,
        auto_push=True,
        push_threshold=snapshot_bits,
        shift_isr_right=False,
        wrap_target=wrap_target,
        wrap_top=wrap_top,
    ):
        op = ops[before.program_counter]
        if op >> 13 == 7:  # `set pins, 0`: a write, and from here one every cycle, for good
            runs.append((before.clock, stop_cycle, after.pin_values >> pio_sim.PIN_A & _OUT))
            snap = after.receive_fifo[0] if after.receive_fifo else None
            return runs, snap
    return runs, None


def combine(runs_by_priority, stop_cycle):
    """Per-cycle output of several writers [(runs), ...], lowest priority first, by the
    output-priority rule. Returns the level changes [(cycle, value)] from level 0."""
    bounds = {0, stop_cycle}
    for runs in runs_by_priority:
        for a, b, _v in runs:
            if a < stop_cycle:
                bounds.add(a)
                bounds.add(min(b, stop_cycle))
    cuts = sorted(bounds)
    idx = [0] * len(runs_by_priority)
    level = 0
    out = []
    for a in cuts[:-1]:
        value = None
        for i, runs in enumerate(runs_by_priority):  # the last (highest) writer wins
            j = idx[i]
            while j < len(runs) and runs[j][1] <= a:
                j += 1
            idx[i] = j
            if j < len(runs) and runs[j][0] <= a < runs[j][1]:
                value = runs[j][2]
        if value is not None and value != level:
            out.append((a, value))
            level = value
    return out


def block_edges(
    words,
    gate,
    stop_cycle,
    feeder=None,
    kill_cycle=None,
    kill_levels=None,
    off_cycle=None,
    snapshot_bits=None,
    machine=None,
):
    """Edges [(cycle, a, b, sync)] of the PIO block's output pins: the pulse machine, the
    kill machine above it, and the GPIO takeover (safe stop or chip reset) at off_cycle.
    Also returns the kill machine's snapshot (None if it never fired). machine: (steps,
    opcodes) of another pulse program (a triggered one); default the untriggered one."""
    if machine is None:
        machine = (pio_sim.run(words, gate, stop_cycle, True, feeder), None)
    writers = [pulse_writes(*machine)]
    kruns, snap = kill_run(kill_cycle, stop_cycle, kill_levels, snapshot_bits)
    writers.append(kruns)
    if off_cycle is not None and off_cycle < stop_cycle:
        writers.append([(off_cycle, stop_cycle, 0)])
    edges = [(c, v & 1, v >> 1 & 1, v >> 2 & 1) for c, v in combine(writers, stop_cycle)]
    return edges, snap


def _cycles(t_us, cpu):
    return int(round(t_us * cpu))


def replay(result, duration_s, clock_hz=125_000_000):
    """A `tvns simulate` result through the PIO block: the gate as the firmware drove it
    (result["gate_edges"]), the TX FIFO fed by a 1 ms tick until an injected stall, KILL_n
    falling at an injected overcurrent or e-stop (the board's hardware path), the pins taken
    back to GPIO low when the firmware latched a fault or the chip reset. Returns
    ([(t_us Fraction, phase_a, phase_b, sync)], gate windows [(on_us, off_us)], the kill
    snapshot or None)."""
    from tvns import protocol

    pio = pio_sim.pio_module()
    proto, _ = protocol.validate(result["protocol"])
    cpu = pio.cycles_per_us(clock_hz)
    end = _cycles(duration_s * 1e6, cpu)
    words = pio.counts(proto.width_us, proto.gap_us, proto.period_us, clock_hz)
    spans, on = [], None
    for t_us, level in result.get("gate_edges", []):
        c = _cycles(t_us, cpu)
        if level and on is None:
            on = c
        elif not level and on is not None:
            spans.append((on, c))
            on = None
    if on is not None:
        spans.append((on, None))
    stall = kill = None
    levels = {}
    bit_of, bits = kill_offsets()
    for t_s, kind in result.get("injected", []):
        c = _cycles(t_s * 1e6, cpu)
        if kind == "stall" and stall is None:
            stall = c
        elif kind in ("overcurrent", "estop") and result.get("kill_path", True):
            if kill is None:
                kill = c
            # OC_OK low (GP17) for an overcurrent, the e-stop loop open (GP16) for an e-stop
            levels[bit_of["overcurrent" if kind == "overcurrent" else "estop"]] = 0
    offs = [f["t_s"] for f in result.get("faults", []) if f.get("latched")]
    offs += [t for t, _cause in result.get("resets", [])]
    off = _cycles(min(offs) * 1e6, cpu) if offs else None
    feeder = pio_sim.Feeder(1000 * cpu, stall)
    gate = pio_sim.Gate(spans)
    machine = _triggered(result, proto, gate, end, feeder, cpu, clock_hz)
    if machine is not None:
        words = None  # the triggered program's own, in machine
    edges, snap = block_edges(words, gate, end, feeder, kill, levels, off, bits, machine)
    gate_us = [(Fraction(a, cpu), Fraction(end if b is None else b, cpu)) for a, b in spans]
    return [(Fraction(c, cpu), a, b, s) for c, a, b, s in edges], gate_us, snap


def _triggered(result, proto, gate, end, feeder, cpu, clock_hz):
    """(steps, opcodes) of the triggered program (board/rp2_pio.assemble_triggered) fed the
    run's trigger trace, for a protocol in gate or train mode; None otherwise (start mode
    runs the untriggered program: its edge only starts the session's clock). The input
    reaches the program SYNC_CYCLES after the pin, as through the RP2040's synchroniser:
    the emulator has none. The gate is the firmware's, as for the untriggered replay."""
    from tvns_tools import pio_trigger

    spec = proto.trigger
    pio = pio_sim.pio_module()
    if spec is None or spec.mode not in (pio.MODE_GATE, pio.MODE_TRAIN):
        return None
    words = pio.counts(proto.width_us, proto.gap_us, proto.period_us, clock_hz, spec.mode)
    spans, on = [], None
    for t_us, level in result.get("trigger_edges", []):
        c = _cycles(t_us, cpu) + pio.SYNC_CYCLES
        if level and on is None:
            on = c
        elif not level and on is not None:
            spans.append((on, c))
            on = None
    if on is not None:
        spans.append((on, None))
    trig = pio_sim.Gate(spans)
    steps = pio_trigger.run_fast(spec.mode, spec.active, words, trig, gate, end, feeder)
    return steps, pio_trigger.program(spec.mode, spec.active)[0]
