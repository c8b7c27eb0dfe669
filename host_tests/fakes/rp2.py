# Host stand-in for MicroPython's `rp2` module (CPython and the micropython unix port).
#
# The assembler is a real one: `asm_pio` turns the decorated program into the same
# 16-bit opcodes the board would load, so the exact program tvns/board/rp2.py uses can
# be run in the cycle-exact emulator (pioemu) on the host.
#
# Its API (asm_pio keywords, the returned program list, asm_pio_encode, the names
# available inside a program) follows MicroPython's ports/rp2/modules/rp2.py
# (MIT licence, Copyright (c) 2020-2021 Damien P. George). The encoder below is written
# from the RP2040 datasheet's instruction table (section 3.4) to match that API; it
# covers what the firmware needs (no `.side()` range tricks beyond the datasheet).
#
# StateMachine records what the board code did: init keywords, words put into the
# TX FIFO, instructions given to exec, active() calls.

from array import array

# Indexes into the program list returned by asm_pio (same layout as MicroPython v1.28's
# ports/rp2/modules/rp2.py, so a program assembled here can be handed to the real port).
PROG_DATA = 0
PROG_OFFSET_PIO0 = 1
PROG_OFFSET_PIO1 = 2
PROG_OFFSET_PIO2 = 3
PROG_EXECCTRL = 4
PROG_SHIFTCTRL = 5
PROG_OUT_PINS = 6
PROG_SET_PINS = 7
PROG_SIDESET_PINS = 8


class PIO:
    IN_LOW = 0
    IN_HIGH = 1
    OUT_LOW = 2
    OUT_HIGH = 3
    SHIFT_LEFT = 0
    SHIFT_RIGHT = 1
    JOIN_NONE = 0
    JOIN_TX = 1
    JOIN_RX = 2
    IRQ_SM0 = 0x100
    IRQ_SM1 = 0x200
    IRQ_SM2 = 0x400
    IRQ_SM3 = 0x800

    # The instruction memory of each PIO block (32 words): {pio id: [program, ...]} loaded
    # by StateMachine.init (once per program object, as the port caches its offset) and
    # freed by remove_program; a program that does not fit raises OSError (ENOMEM).
    loaded = {}
    MEMORY_WORDS = 32

    def __init__(self, id):
        self.id = id

    def state_machine(self, id, program=None, *args, **kw):
        return StateMachine(self.id * 4 + id, program, *args, **kw)

    def add_program(self, program):
        progs = PIO.loaded.setdefault(self.id, [])
        if any(p is program for p in progs):
            return
        used = sum(len(p[PROG_DATA]) for p in progs)
        if used + len(program[PROG_DATA]) > PIO.MEMORY_WORDS:
            raise OSError(12, "ENOMEM: PIO%d instruction memory full" % self.id)
        progs.append(program)

    def remove_program(self, program=None):
        progs = PIO.loaded.setdefault(self.id, [])
        if program is None:
            progs.clear()
        else:
            PIO.loaded[self.id] = [p for p in progs if p is not program]


class PIOASMError(Exception):
    pass


class _Emitter:
    """Two-pass emitter: pass 0 collects labels, pass 1 writes opcodes."""

    def __init__(
        self,
        out_init=None,
        set_init=None,
        sideset_init=None,
        side_pindir=False,
        in_shiftdir=0,
        out_shiftdir=0,
        autopush=False,
        autopull=False,
        push_thresh=32,
        pull_thresh=32,
        fifo_join=0,
    ):
        self.labels = {}
        shiftctrl = (
            fifo_join << 30
            | (pull_thresh & 0x1F) << 25
            | (push_thresh & 0x1F) << 20
            | out_shiftdir << 19
            | in_shiftdir << 18
            | int(autopull) << 17
            | int(autopush) << 16
        )
        execctrl = int(side_pindir) << 29
        # v1.28's layout: data, load offsets in PIO0/1/2, execctrl, shiftctrl, pin inits
        self.prog = [array("H"), -1, -1, -1, execctrl, shiftctrl, out_init, set_init, sideset_init]
        self.wrap_used = False
        if sideset_init is None:
            self.sideset_count = 0
        elif isinstance(sideset_init, int):
            self.sideset_count = 1
        else:
            self.sideset_count = len(sideset_init)
        self.sideset_opt = False
        self.delay_max = 31
        self.pass_ = 0
        self.num_instr = 0
        self.num_sideset = 0

    def start_pass(self, pass_):
        if pass_ == 1:
            if not self.wrap_used and self.num_instr:
                self.wrap()
            self.delay_max = 31
            if self.sideset_count:
                # Side-set is optional when some instruction has none: one more bit.
                self.sideset_opt = self.num_sideset != self.num_instr
                if self.sideset_opt:
                    self.prog[PROG_EXECCTRL] |= 1 << 30
                    self.sideset_count += 1
                self.delay_max >>= self.sideset_count
        self.pass_ = pass_
        self.num_instr = 0
        self.num_sideset = 0

    # --- modifiers: `.side(v)` and `[delay]` act on the last instruction ---
    def __getitem__(self, delay):
        return self.delay(delay)

    def delay(self, delay):
        if self.pass_ > 0:
            if not 0 <= delay <= self.delay_max:
                raise PIOASMError("delay too large")
            self.prog[PROG_DATA][-1] |= delay << 8
        return self

    def side(self, value):
        self.num_sideset += 1
        if self.pass_ > 0:
            if self.sideset_count == 0:
                raise PIOASMError("no sideset")
            if value >= (1 << self.sideset_count):
                raise PIOASMError("sideset too large")
            self.prog[PROG_DATA][-1] |= int(self.sideset_opt) << 12 | value << (
                13 - self.sideset_count
            )
        return self

    # --- directives ---
    def wrap_target(self):
        self.prog[PROG_EXECCTRL] |= self.num_instr << 7

    def wrap(self):
        if not self.num_instr:
            raise PIOASMError("wrap before any instruction")
        self.prog[PROG_EXECCTRL] |= (self.num_instr - 1) << 12
        self.wrap_used = True

    def label(self, name):
        if self.pass_ == 0:
            if name in self.labels:
                raise PIOASMError("duplicate label " + name)
            self.labels[name] = self.num_instr

    # --- instructions (RP2040 datasheet 3.4, opcode bits 15..13 select the kind) ---
    def word(self, instr, label=None):
        self.num_instr += 1
        if self.pass_ > 0:
            target = 0
            if label is not None:
                if label not in self.labels:
                    raise PIOASMError("unknown label " + label)
                target = self.labels[label]
            self.prog[PROG_DATA].append(instr | target)
        return self

    def nop(self):
        return self.word(0xA042)  # mov y, y

    def jmp(self, cond, label=None):
        if label is None:
            label, cond = cond, 0
        return self.word(cond << 5, label)

    def wait(self, polarity, src, index):
        if src == 6:  # `pin` (shares the jmp-condition value 6)
            src = 1
        elif src != 0:  # `irq`
            src = 2
        return self.word(0x2000 | polarity << 7 | src << 5 | index)

    def in_(self, src, bits):
        if not 0 < bits <= 32:
            raise PIOASMError("invalid bit count")
        return self.word(0x4000 | src << 5 | bits & 0x1F)

    def out(self, dest, bits):
        if dest == 8:
            dest = 7
        if not 0 < bits <= 32:
            raise PIOASMError("invalid bit count")
        return self.word(0x6000 | dest << 5 | bits & 0x1F)

    def push(self, value=0, value2=0):
        value |= value2
        if not value & 1:
            value |= 0x20  # blocking unless told otherwise
        return self.word(0x8000 | value & 0x60)

    def pull(self, value=0, value2=0):
        value |= value2
        if not value & 1:
            value |= 0x20
        return self.word(0x8080 | value & 0x60)

    def mov(self, dest, src):
        if dest == 8:
            dest = 4
        return self.word(0xA000 | dest << 5 | src)

    def irq(self, mod, index=None):
        if index is None:
            index, mod = mod, 0
        return self.word(0xC000 | mod & 0x60 | index)

    def set(self, dest, data):
        return self.word(0xE000 | dest << 5 | data)


# Names a program body sees (source/destination and condition constants).
_NAMES = {
    "gpio": 0,
    "pins": 0,
    "x": 1,
    "y": 2,
    "null": 3,
    "pindirs": 4,
    "pc": 5,
    "status": 5,
    "isr": 6,
    "osr": 7,
    "exec": 8,
    "invert": lambda v: v | 0x08,
    "reverse": lambda v: v | 0x10,
    "not_x": 1,
    "x_dec": 2,
    "not_y": 3,
    "y_dec": 4,
    "x_not_y": 5,
    "pin": 6,
    "not_osre": 7,
    "noblock": 0x01,
    "block": 0x21,
    "iffull": 0x40,
    "ifempty": 0x40,
    "clear": 0x40,
    "rel": lambda v: v | 0x10,
}
_DIRECTIVES = ("wrap_target", "wrap", "label")
_INSTRUCTIONS = ("word", "nop", "jmp", "wait", "in_", "out", "push", "pull", "mov", "irq", "set")


def asm_pio(**kw):
    emit = _Emitter(**kw)

    def dec(f):
        # Same trick as MicroPython: the body runs twice with the module's globals
        # swapped for the assembler's names, then the globals are put back.
        gl = f.__globals__
        saved = gl.copy()
        gl.clear()
        try:
            gl.update(_NAMES)
            for name in _DIRECTIVES + _INSTRUCTIONS:
                gl[name] = getattr(emit, name)
            emit.start_pass(0)
            f()
            emit.start_pass(1)
            f()
        finally:
            gl.clear()
            gl.update(saved)
        return emit.prog

    return dec


def asm_pio_encode(instr, sideset_count, sideset_opt=False):
    """One instruction from text, e.g. "nop() .side(0)"; sideset_count excludes the opt bit."""
    emit = _Emitter()
    emit.sideset_count = sideset_count
    emit.sideset_opt = bool(sideset_opt)
    emit.delay_max = 31 >> (sideset_count + int(emit.sideset_opt))
    emit.pass_ = 1
    gl = dict(_NAMES)
    for name in _INSTRUCTIONS:
        gl[name] = getattr(emit, name)
    gl["jmp"] = None  # as on the board: no labels here
    exec(instr, gl)
    if len(emit.prog[PROG_DATA]) != 1:
        raise PIOASMError("expecting exactly 1 instruction")
    return emit.prog[PROG_DATA][0]


def program_info(prog):
    """(opcodes list, wrap_target, wrap_top, sideset_count) of an asm_pio program (host only)."""
    execctrl = prog[PROG_EXECCTRL]
    side = prog[PROG_SIDESET_PINS]
    count = 0 if side is None else (1 if isinstance(side, int) else len(side))
    return list(prog[PROG_DATA]), (execctrl >> 7) & 0x1F, (execctrl >> 12) & 0x1F, count


_FIFO_DEPTH = 4  # RP2040: 4 words each way (8 when joined; MicroPython never joins here)


class StateMachine:
    """Records the calls; `instances` keeps every machine made since reset().

    FIFOs as on the board (ports/rp2/rp2_pio.c, MicroPython v1.28): put() on a full TX FIFO
    and get() on an empty RX FIFO wait for the PIO there (a hang inside a hard IRQ), so here
    they raise. tx_fifo() / rx_fifo() give the levels. The PIO side is driven by the test:
    pio_pull(n) takes words out of the TX FIFO as the program's `pull` would, pio_push(w)
    puts a word into the RX FIFO; active(1) runs the program's leading `pull`s (its setup,
    up to the first `wait`), as the PIO does within a few cycles of being enabled."""

    instances = []

    def __init__(self, id, program=None, *args, **kw):
        self.id = id
        self.program = None
        self.init_kw = None
        self.inits = 0
        self.tx = []  # words put into the TX FIFO since the last init
        self.fifo = []  # words in the TX FIFO now (not yet pulled)
        self.pulled = []  # words the program pulled since the last init
        self.rx = []  # words in the RX FIFO now
        self.execs = []  # what exec() was given, in order
        self.events = []  # ("init"|"put"|"exec"|"active", value) in call order
        self.running = False
        StateMachine.instances.append(self)
        if program is not None:
            self.init(program, *args, **kw)

    def init(self, program, freq=-1, **kw):
        allowed = {
            "in_base", "out_base", "set_base", "jmp_pin", "sideset_base",
            "in_shiftdir", "out_shiftdir", "push_thresh", "pull_thresh",
        }  # fmt: skip
        unknown = set(kw) - allowed
        if unknown:
            raise TypeError("unexpected keyword argument %s" % sorted(unknown)[0])
        PIO(self.id // 4).add_program(program)
        self.program = program
        self.init_kw = dict(kw)
        self.init_kw["freq"] = freq
        self.inits += 1
        self.tx = []  # pio_sm_init clears the FIFOs
        self.fifo = []
        self.pulled = []
        self.rx = []
        self.running = False
        self.events.append(("init", freq))

    def put(self, value, shift=0):
        if len(self.fifo) >= _FIFO_DEPTH:
            raise RuntimeError("put on a full TX FIFO: the board would wait here")
        self.tx.append(value >> shift)
        self.fifo.append(value >> shift)
        self.events.append(("put", value))

    def get(self, buf=None, shift=0):
        if not self.rx:
            raise RuntimeError("get on an empty RX FIFO: the board would wait here")
        return self.rx.pop(0) >> shift

    def exec(self, instr):
        if not isinstance(instr, int):
            raise TypeError("this fake, like the firmware, gives exec an encoded int")
        self.execs.append(instr)
        self.events.append(("exec", instr))

    def active(self, value=None):
        if value is None:
            return self.running
        self.running = bool(value)
        self.events.append(("active", self.running))
        if self.running and self.program is not None:
            for op in self.program[PROG_DATA]:
                if op >> 13 == 1:  # `wait`: the setup is over
                    break
                if op & 0xE080 == 0x8080:  # `pull`
                    self.pio_pull(1)
        return self.running

    def restart(self):
        self.events.append(("restart", None))

    def pio_pull(self, n=1):
        """Host only: the program pulls n words (fewer if the FIFO runs dry)."""
        for _ in range(n):
            if self.fifo:
                self.pulled.append(self.fifo.pop(0))

    def pio_push(self, word):
        """Host only: the program pushes a word (dropped when the RX FIFO is full)."""
        if len(self.rx) < _FIFO_DEPTH:
            self.rx.append(word)

    def tx_fifo(self):
        return len(self.fifo)

    def rx_fifo(self):
        return len(self.rx)

    def irq(self, handler=None, trigger=1, hard=False):
        self.irq_handler = (handler, trigger, hard)
        return self


def reset():
    StateMachine.instances = []
    PIO.loaded = {}
