# The PIO programs and their timing arithmetic (RP2040 / RP2350).
#
# Kept apart from the engine (board/rp2_engine.py) so the host can assemble and emulate the
# very same programs without `machine`: `assemble(rp2)` / `assemble_kill(rp2, bits)` take
# the rp2 module (the real one on the board, the host fake in tests) and return what
# rp2.asm_pio produced.
#
# The pulse machine drives three side-set pins: bit 0 phase A, bit 1 phase B, bit 2 SYNC
# (SYNC is high for the whole pulse: phase A start to phase B end, gap included, so a
# scope triggers on every pulse). Side-set is not optional: every instruction states
# all three pins, so no instruction can leave a phase high by accident.
#
# Dead man: every pulse pulls one word from the TX FIFO (its off-time count). The control
# tick tops the FIFO up to safety.DEADMAN_PULSES words; a hung CPU stops the top-ups, so
# at most that many pulses follow (the machine then waits at `pull`, all pins low).
#
# Pulse program (cycle costs; n_w, n_g are setup words, n_o the per-pulse word):
#   setup   pull; mov isr, osr        ISR = n_w  (phase width count)
#           pull; mov y, osr          Y   = n_g  (gap count, 0 = no gap)
#   top:    wait 1 pin 0      side 0  gate (in_base); 1 cycle when the gate is high
#           pull              side 0  dead man: OSR = n_o; 1 cycle when the FIFO has a word
#           mov x, isr        side A  \
#   a:      jmp x-- a         side A   > phase A = 1 + (n_w + 1) + 1 = n_w + 3
#           jmp !y b          side A  /  (no gap: straight to phase B)
#           mov x, y          side S  \  gap = 1 + (n_g + 1) = n_g + 2
#   g:      jmp x-- g         side S  /
#   b:      mov x, isr  [1]   side B  \  phase B = 2 + (n_w + 1) = n_w + 3
#   bl:     jmp x-- bl        side B  /
#           mov x, osr        side 0  \  off = 1 + (n_o + 1) + 1 (wait) + 1 (pull) = n_o + 4
#   o:      jmp x-- o         side 0  /
#           (wrap to top)
# So, in cycles: W = n_w + 3, G = 0 or n_g + 2 (n_g >= 1), O = n_o + 4, and the period
# is 2W + G + O exactly: every segment is straight-line code, no branch depends on
# anything but the counts. The gate is only sampled at `top`, between pulses: dropping
# it mid-pulse lets the pulse and its off time finish, and no new pulse starts; the pull
# comes after the wait, so a closed gate holds no word back (no permission is spent
# waiting). Gate to first edge: 2 cycles (wait, pull) + 2 for the GPIO input synchroniser.
# Phases A and B change on the same clock edge when G = 0 and are never both high in
# any cycle (no instruction side-sets both).
#
# Triggered programs (a protocol with a trigger block, docs/GATING.md): the same pulse body,
# but `top` waits on the trigger input (in_base = the trigger GPIO, `wait pol pin 0` with the
# protocol's polarity) and then tests the firmware's gate with `jmp pin` (jmp_pin = the gate
# GPIO): no pulse unless both are active. One of them is in the PIO's instruction memory
# at a time (engine.load swaps it with PIO.remove_program: 32 instructions are shared with
# the kill program).
#   gate mode:  top:  wait pol pin 0   side 0   the input active (stalls: a fixed latency)
#                     jmp pin go       side 0   the firmware's gate open?
#                     jmp top          side 0   no: look again
#               go:   pull ...                  (the pulse body as above, wrap to top)
#     off = 1 + (n_o + 1) + 1 (wait) + 1 (jmp pin) + 1 (pull) = n_o + 5
#   train mode: top:  wait !pol pin 0  side 0   the input inactive first ...
#                     wait pol pin 0   side 0   ... then active: an edge
#                     jmp pin go       side 0   the firmware's gate open? else the edge is
#                     jmp top          side 0   refused (and used up)
#               go:   pull ...                  (the pulse body)
#                     jmp pin go       side 0   after each off time: the train goes on while
#                     (wrap to top)             the gate is open, whatever the input does
#     off = 1 + (n_o + 1) + 1 (jmp pin) + 1 (pull) = n_o + 4, as the untriggered program
# Input edge to the first phase-A edge, with the gate open and the machine waiting at the
# `wait` (stalled): the wait passes in the cycle it sees the level, jmp pin, pull, then the
# `mov x, isr` that side-sets A: TRIGGER_TO_EDGE_CYCLES = 3 after the input synchroniser's 2,
# 5 cycles = 40 ns at 125 MHz, the same every time (pio_block.trigger_latency measures it).
# Falling out of the gate (gate mode) is sampled only at `top`: the pulse in flight and its
# off time finish, so a burst ends within one period of the input going inactive.
#
# Kill program (a second machine in the same PIO block, higher-numbered, so that in a cycle
# where both write a pin its write wins: RP2040 datasheet 3.5.6.1, "Output Priority"):
#           wait 0 pin 0              KILL_n low (in_base = the kill GPIO)
#           in pins, bits             snapshot of the inputs from KILL_n up (autopush: the
#                                     firmware reads the cause from the RX FIFO)
#   loop:   set pins, 0               A, B, SYNC (set pins) low, every cycle, for good
#           (wrap to loop)
# Kill to both phases low: 2 cycles after the wait sees the pin (+2 input synchroniser),
# wherever the pulse machine is; its timing is untouched. Only a reload (sm.init) re-arms.
#
# ruff: noqa: F821  (the program body uses the assembler's names, as rp2.asm_pio expects)

from tvns.errors import OUT_OF_RANGE, RESOLUTION, TvnsError

# Side-set bit values (bit 0 = sideset_base = phase A).
SIDE_A = 1
SIDE_B = 2
SIDE_SYNC = 4
SIDESET_COUNT = 3

# Fixed cycle costs of each segment beyond its count (see the table above).
WIDTH_EXTRA_CYCLES = 3
GAP_EXTRA_CYCLES = 2
OFF_EXTRA_CYCLES = 4
# The triggered programs' off time (see above): gate mode pays one more cycle (jmp pin).
OFF_EXTRA_GATED_CYCLES = 5
# Trigger modes of the triggered programs (tvns/trigger_fields.py: GATE, TRAIN).
MODE_GATE = 1
MODE_TRAIN = 3
# Input edge to phase A rising (after the 2-cycle input synchroniser), waiting at `wait`.
TRIGGER_TO_EDGE_CYCLES = 3
SYNC_CYCLES = 2
# Shortest non-zero gap: a gap count of 0 means "no gap", so G = 1 or 2 is impossible.
GAP_MIN_CYCLES = 3
COUNT_MAX = 0xFFFFFFFF  # X is 32 bits
SETUP_WORDS = 2  # n_w, n_g: pulled once at the start; then one n_o per pulse

# The safe-stop instruction: a nop that side-sets A, B and SYNC low.
SAFE_INSTR = "nop() .side(0)"


def assemble(rp2):
    """Assemble the pulse program with the given rp2 module; returns the asm_pio program."""
    # Locals, not module constants: asm_pio swaps this module's globals while it runs
    # the body, so the body may only use closures and the assembler's names.
    a = SIDE_A | SIDE_SYNC
    b = SIDE_B | SIDE_SYNC
    s = SIDE_SYNC
    lo = rp2.PIO.OUT_LOW

    @rp2.asm_pio(sideset_init=(lo, lo, lo))
    def tvns_pulse():
        pull(block).side(0)
        mov(isr, osr).side(0)
        pull(block).side(0)
        mov(y, osr).side(0)
        wrap_target()
        wait(1, pin, 0).side(0)
        pull(block).side(0)
        mov(x, isr).side(a)
        label("a")
        jmp(x_dec, "a").side(a)
        jmp(not_y, "b").side(a)
        mov(x, y).side(s)
        label("g")
        jmp(x_dec, "g").side(s)
        label("b")
        mov(x, isr).side(b)[1]
        label("bl")
        jmp(x_dec, "bl").side(b)
        mov(x, osr).side(0)
        label("o")
        jmp(x_dec, "o").side(0)
        wrap()

    return tvns_pulse


def off_extra(mode):
    """The off time's fixed cycles in the program for this trigger mode (0: untriggered)."""
    return OFF_EXTRA_GATED_CYCLES if mode == MODE_GATE else OFF_EXTRA_CYCLES


def assemble_triggered(rp2, mode, active):
    """The pulse program that follows the trigger input (mode MODE_GATE or MODE_TRAIN;
    active: the input level that is active, 0 or 1). See the table above."""
    if mode not in (MODE_GATE, MODE_TRAIN) or active not in (0, 1):
        raise TvnsError(OUT_OF_RANGE, "trigger mode %r / level %r" % (mode, active), "trigger")
    a = SIDE_A | SIDE_SYNC
    b = SIDE_B | SIDE_SYNC
    s = SIDE_SYNC
    lo = rp2.PIO.OUT_LOW
    pol = active
    idle = 1 - active

    if mode == MODE_GATE:

        @rp2.asm_pio(sideset_init=(lo, lo, lo))
        def tvns_gated():
            pull(block).side(0)
            mov(isr, osr).side(0)
            pull(block).side(0)
            mov(y, osr).side(0)
            wrap_target()
            label("top")
            wait(pol, pin, 0).side(0)
            jmp(pin, "go").side(0)
            jmp("top").side(0)
            label("go")
            pull(block).side(0)
            mov(x, isr).side(a)
            label("a")
            jmp(x_dec, "a").side(a)
            jmp(not_y, "b").side(a)
            mov(x, y).side(s)
            label("g")
            jmp(x_dec, "g").side(s)
            label("b")
            mov(x, isr).side(b)[1]
            label("bl")
            jmp(x_dec, "bl").side(b)
            mov(x, osr).side(0)
            label("o")
            jmp(x_dec, "o").side(0)
            wrap()

        return tvns_gated

    @rp2.asm_pio(sideset_init=(lo, lo, lo))
    def tvns_trains():
        pull(block).side(0)
        mov(isr, osr).side(0)
        pull(block).side(0)
        mov(y, osr).side(0)
        wrap_target()
        label("top")
        wait(idle, pin, 0).side(0)
        wait(pol, pin, 0).side(0)
        jmp(pin, "go").side(0)
        jmp("top").side(0)
        label("go")
        pull(block).side(0)
        mov(x, isr).side(a)
        label("a")
        jmp(x_dec, "a").side(a)
        jmp(not_y, "b").side(a)
        mov(x, y).side(s)
        label("g")
        jmp(x_dec, "g").side(s)
        label("b")
        mov(x, isr).side(b)[1]
        label("bl")
        jmp(x_dec, "bl").side(b)
        mov(x, osr).side(0)
        label("o")
        jmp(x_dec, "o").side(0)
        jmp(pin, "go").side(0)
        wrap()

    return tvns_trains


def assemble_kill(rp2, snapshot_bits):
    """Assemble the kill program: snapshot_bits (1..30) inputs from the kill GPIO up are
    pushed when it fires (a small int for the firmware: below 2**30)."""
    if not 1 <= snapshot_bits <= 30:
        raise TvnsError(OUT_OF_RANGE, "kill snapshot of %d bits" % snapshot_bits, "pins.kill")
    lo = rp2.PIO.OUT_LOW
    n = snapshot_bits

    @rp2.asm_pio(set_init=(lo, lo, lo), autopush=True, push_thresh=n)
    def tvns_kill():
        wait(0, pin, 0)
        in_(pins, n)
        wrap_target()
        set(pins, 0)
        wrap()

    return tvns_kill


def cycles_per_us(sys_hz):
    """State-machine cycles per microsecond (clock divider 1); TvnsError if not whole."""
    if sys_hz <= 0 or sys_hz % 1_000_000:
        raise TvnsError(
            RESOLUTION, "system clock %d Hz is not a whole number of MHz" % sys_hz, "clock_hz"
        )
    return sys_hz // 1_000_000


def counts_from_cycles(width_cyc, gap_cyc, period_cyc, off_extra=OFF_EXTRA_CYCLES):
    """(n_w, n_g, n_o) for the TX FIFO, or TvnsError when the program cannot express it.
    off_extra: the program's fixed off-time cycles (off_extra(mode))."""
    if width_cyc < WIDTH_EXTRA_CYCLES or width_cyc - WIDTH_EXTRA_CYCLES > COUNT_MAX:
        raise TvnsError(
            OUT_OF_RANGE, "phase width %d cycles not expressible" % width_cyc, "width_us"
        )
    if gap_cyc == 0:
        n_g = 0
    elif GAP_MIN_CYCLES <= gap_cyc <= COUNT_MAX:
        n_g = gap_cyc - GAP_EXTRA_CYCLES
    else:
        raise TvnsError(OUT_OF_RANGE, "gap %d cycles not expressible" % gap_cyc, "gap_us")
    off_cyc = period_cyc - 2 * width_cyc - gap_cyc
    if off_cyc < off_extra or off_cyc - off_extra > COUNT_MAX:
        raise TvnsError(OUT_OF_RANGE, "off time %d cycles not expressible" % off_cyc, "period_us")
    return width_cyc - WIDTH_EXTRA_CYCLES, n_g, off_cyc - off_extra


def counts(width_us, gap_us, period_us, sys_hz, mode=0):
    """(n_w, n_g, n_o) for microsecond timing at sys_hz (clock divider 1), for the program
    of this trigger mode (0: untriggered)."""
    cpu = cycles_per_us(sys_hz)
    return counts_from_cycles(width_us * cpu, gap_us * cpu, period_us * cpu, off_extra(mode))
