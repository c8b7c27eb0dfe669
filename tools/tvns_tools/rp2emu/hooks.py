# Longer than ~300 lines: most of it is the MicroPython source the board runs (one program),
# beside the host's reader of the results array it fills: split, the two would drift apart.
"""Harness hooks that run ON the emulated Pico, either added to a deployed image as an overlay
(the firmware files stay byte-identical; only main.py becomes a three-line wrapper that
installs the hooks and then runs the firmware's own main.py, kept as main_fw.py: the bench),
or sent over the raw REPL to a running board, which then runs its main.py under them (the
tests: repl_main_code, no reboot, nothing written to the flash):

- hang: App.service (the main-loop pass that feeds the watchdog) spins forever once a spare
  GPIO (the stage's "hang" line) is high, while the control tick keeps running from its hard
  Timer IRQ: the hung main loop of a deadlock or a runaway driver, at an exact emulated time.
- bench: what the board's timer calls, the scheduler's tick_cb (the viper callback with the
  idle and clean running tick in it, and the full path it calls on "look"), timed with the
  Cortex-M0+ SysTick as a free-running 24-bit counter at clk_sys (RVR = 0xFFFFFF, CSR = 5:
  8 ns per count), read before and after each call (the call from the bench's wrapper
  included, the timer's dispatch into the wrapper not), minus the calibrated cost of the two
  reads; each tick classified
  (idle, running with nothing due, ramp step, train edge, other state change); when each
  tick started, on the same counter read first thing in the callback: the intervals, and
  how far each start fell behind the timer's grid (the port's machine.Timer repeats from
  its previous target, pico-sdk's negative delay: a late tick does not move the next);
  gc.mem_free() after a gc.collect() (live data) after boot and after every main-loop pass
  and console request.
Results live in one array('i') whose address the hooks put in WATCHDOG SCRATCH0 (free for
applications; pico-sdk uses 4-7); the host reads it straight out of the emulated SRAM.
"""

import struct

from tvns_tools.hw.edges import pico_config

MAGIC = 0x7E57B0C5 & 0x7FFFFFFF
CYCLES_PER_US = 125  # clk_sys, SysTick's clock
KINDS = ("idle", "running", "ramp_step", "train_edge", "state")
SAMPLES = 64  # per kind, the first ones (a ring would mix phases of the session)
# Layout of the results array (int32 words)
_HDR = 20  # magic, calib, free_boot, free_min, hooks_bytes, load_n, load_us_last, load_err,
# load_us_max, free_before_load_min, ticks_total, a running start seen, the starts (_START_*)
_START_N, _START_PREV, _START_OFF, _START_OFF_MIN, _START_OFF_MAX = 12, 13, 14, 15, 16
_START_IV_MIN, _START_IV_MAX, _START_OFF_MAX_RUN = 17, 18, 19
_N, _SUM_LO, _SUM_HI, _MAX, _IDX = (_HDR + i * 5 for i in range(5))
_SAMP = _HDR + 25
WORDS = _SAMP + 5 * SAMPLES
SCRATCH0 = 0x4005800C

MAIN_WRAPPER = """# main.py of the emulator harness (tools/tvns_tools/rp2emu/hooks.py): install the
# hooks, then run the firmware's own main.py (kept byte-identical as main_fw.py).
import gc
gc.collect()
_f0 = gc.mem_free()
import emu_hooks
gc.collect()
emu_hooks.install(_f0 - gc.mem_free(), %(bench)s)
del _f0
exec(open("main_fw.py").read(), {"__name__": "__main__"})
"""

HOOKS = """# emu_hooks.py: emulator-harness hooks (tools/tvns_tools/rp2emu/hooks.py explains).
import array
import gc
import machine
from micropython import const

_CVR = const(0xE000E018)
_PERIOD = const(%(period_cycles)d)  # the tick's period in SysTick counts
_SAMPLES = const(%(samples)d)
_HDR = const(%(hdr)d)
_SAMP = const(%(samp)d)
R = array.array("i", bytes(4 * %(words)d))
_hang = machine.Pin(%(hang_gpio)d, machine.Pin.IN, machine.Pin.PULL_DOWN)
_hang_cpu = None
if %(hang_cpu_gpio)d >= 0:
    _hang_cpu = machine.Pin(%(hang_cpu_gpio)d, machine.Pin.IN, machine.Pin.PULL_DOWN)


def install(module_bytes, bench):
    import uctypes
    from tvns import app, console, scheduler
    from tvns import session as S

    gc.collect()
    free_before = gc.mem_free()  # the firmware's modules are loaded: only the hooks count

    R[0] = %(magic)d
    machine.mem32[%(scratch0)d] = uctypes.addressof(R)
    svc = app.App.service
    boot = [True]

    def service(self):
        if _hang.value():
            if _hang_cpu is not None and _hang_cpu.value():
                machine.disable_irq()  # the whole CPU hangs (a critical section): no tick
            while True:  # the hung main loop: the tick keeps running in its hard IRQ
                pass
        svc(self)
        if bench:
            gc.collect()  # live data only: garbage is not what the heap has to hold
            f = gc.mem_free()
            if boot[0]:
                boot[0] = False
                R[2] = f
            if R[3] == 0 or f < R[3]:
                R[3] = f

    app.App.service = service
    if not bench:
        return
    line = console.Console._line

    def _line(self, raw):
        line(self, raw)
        gc.collect()
        f = gc.mem_free()
        if R[3] == 0 or f < R[3]:
            R[3] = f

    console.Console._line = _line
    load = console.COMMANDS["load"]
    ticks_us = __import__("time").ticks_us
    ticks_diff = __import__("time").ticks_diff

    def _load(con, req):
        f = gc.mem_free()
        if R[9] == 0 or f < R[9]:
            R[9] = f
        t0 = ticks_us()
        try:
            return load(con, req)
        except MemoryError:
            R[7] = 1
            raise
        finally:
            us = ticks_diff(ticks_us(), t0)
            R[5] += 1
            R[6] = us
            if us > R[8]:
                R[8] = us

    console.COMMANDS["load"] = _load
    m32 = machine.mem32
    m32[0xE000E014] = 0xFFFFFF  # SysTick RVR: the full 24 bits
    m32[0xE000E010] = 5  # CSR: enabled, clk_sys, no interrupt
    best = 0xFFFFFF
    for _ in range(16):  # the two reads alone: the call of the tick is part of its cost
        a = m32[_CVR]
        b = m32[_CVR]
        c = (a - b) & 0xFFFFFF
        if c < best:
            best = c
    R[1] = best
    init = scheduler.Scheduler.__init__
    R[13] = -1  # no tick started yet

    def init_timed(sch, board, session):
        init(sch, board, session)
        sch.tick_cb = _timed(sch, sch.tick_cb, m32, S.RUNNING)  # what the timer calls

    scheduler.Scheduler.__init__ = init_timed
    machine.mem32[%(scratch0)d + 4] = uctypes.addressof(P)
    for i, (mod, cls, name, arity) in enumerate(PROFILE):
        _profile(getattr(__import__(mod, None, None, [cls]), cls), name, i, arity)
    gc.collect()
    R[4] = module_bytes + free_before - gc.mem_free()


# The scheduler's timer callback (tick_cb: all of it, its call included) timed. A closure
# over four names: with the timer's argument five, which MicroPython passes on the C stack
# (more would allocate in the hard IRQ).
def _timed(self, tick, m32, running):

    def timed(t):
        e = m32[_CVR]  # when this tick started (SysTick counts down, 8 ns a count)
        amp = self.amp_ua
        gate = self.gate_on
        st = self.session.state
        a = m32[_CVR]
        tick(t)
        b = m32[_CVR]
        c = ((a - b) & 0xFFFFFF) - R[1]
        if running[st] == 0:
            k = 0
        elif self.gate_on != gate:
            k = 3
        elif self.amp_ua != amp:
            k = 2
        elif self.session.state != st:
            k = 4
        else:
            k = 1
        R[10] += 1
        R[_HDR + k] += 1
        s = R[_HDR + 5 + k] + c
        if s >= 0x40000000:
            s -= 0x40000000
            R[_HDR + 10 + k] += 1
        R[_HDR + 5 + k] = s
        if c > R[_HDR + 15 + k]:
            R[_HDR + 15 + k] = c
        i = R[_HDR + 20 + k]
        if i < _SAMPLES:
            R[_SAMP + k * _SAMPLES + i] = c
            R[_HDR + 20 + k] = i + 1
        # The start against the timer's grid: offset += interval - period (one target per
        # call: the alarm pool fires a target already past at once, it skips none). The
        # bench runs one session, so one grid (app.start starts the timer once); the timer
        # passes itself, a direct call (Scheduler.start's first tick) None: not on the grid.
        if t is None:
            return
        p = R[13]  # _START_PREV (the words: _START_* in hooks.py)
        if p >= 0:
            iv = (p - e) & 0xFFFFFF
            o = R[14] + iv - _PERIOD  # _START_OFF
            R[14] = o
            first = R[12] == 0  # _START_N
            if first or o < R[15]:
                R[15] = o
            if first or o > R[16]:
                R[16] = o
            # while a session runs (no flash write then, SAFETY.md H41); the rest include
            # the log and store writes at its end, with interrupts masked (SAFETY.md)
            if running[st] == 1 and (R[11] == 0 or o > R[19]):
                R[19] = o
                R[11] = 1  # a running tick's start seen
            if first or iv < R[17]:
                R[17] = iv
            if iv > R[18]:
                R[18] = iv
            R[12] += 1
        R[13] = e

    return timed


# The profile (bench --profile): each listed method timed the same way, its calls counted and
# its cycles summed (callees included, and the timing of wrapped callees with them).
PROFILE = %(profile)r
P = array.array("i", bytes(4 * 3 * len(PROFILE) + 4))


def _profile(cls, name, i, arity):
    f = getattr(cls, name)
    m32 = machine.mem32
    j = 3 * i

    def acc(a, b):
        c = ((a - b) & 0xFFFFFF) - R[1]
        P[j] += 1
        P[j + 1] += c
        if c > P[j + 2]:
            P[j + 2] = c

    if arity == 0:

        def w(self):
            a = m32[_CVR]
            r = f(self)
            acc(a, m32[_CVR])
            return r

    elif arity == 1:

        def w(self, x):
            a = m32[_CVR]
            r = f(self, x)
            acc(a, m32[_CVR])
            return r

    else:

        def w(self, x, y):
            a = m32[_CVR]
            r = f(self, x, y)
            acc(a, m32[_CVR])
            return r

    setattr(cls, name, w)
"""

# (module, class, method, positional arguments after self) timed by bench --profile.
PROFILE = (
    ("tvns.scheduler", "Scheduler", "_step", 0),
    ("tvns.scheduler", "Scheduler", "_monitor", 2),
    ("tvns.scheduler", "Scheduler", "_set_amp", 1),
    ("tvns.scheduler", "Scheduler", "_set_gate", 1),
    ("tvns.schedule", "Schedule", "eval", 1),
    ("tvns.session", "Session", "fire", 2),
    ("tvns.board.rp2_dac", "_DacBase", "set_ua", 1),
    ("tvns.board.rp2_dac", "_DacBase", "apply", 0),
    ("tvns.board.dac", "DacCal", "code_for", 1),
    ("tvns.board.rp2_engine", "PioEngine", "feed", 0),
    ("tvns.board.rp2_engine", "PioEngine", "gate", 1),
    ("tvns.board.rp2_engine", "PioEngine", "sync_high", 0),
    ("tvns.board.rp2_engine", "KillPath", "tripped", 0),
    ("tvns.board.rp2", "Sense", "read_ua", 0),
    ("tvns.board.rp2", "Sense", "read_compliance", 0),
    ("tvns.board.rp2", "Estop", "pressed", 0),
)


def hooks_source(hang_gpio, hang_cpu_gpio=-1, profile=()):
    """The text of emu_hooks.py (defines install(module_bytes, bench)); hang_cpu_gpio (-1:
    none) high with the hang line: the hung loop disables interrupts first; profile: entries
    like PROFILE's to time (bench only)."""
    return HOOKS % {
        "profile": tuple(profile),
        "samples": SAMPLES,
        "hdr": _HDR,
        "samp": _SAMP,
        "words": WORDS,
        "hang_gpio": hang_gpio,
        "hang_cpu_gpio": hang_cpu_gpio,
        "magic": MAGIC,
        "scratch0": SCRATCH0,
        "period_cycles": pico_config()["tick_ms"] * 1000 * CYCLES_PER_US,
    }


# For the raw REPL (EmuPico.repl_start): the hang hook installed, then the deployed main.py
# run as it runs after a boot (modules already imported stay so: no boot time, no new file).
REPL_MAIN = """
print()
%(prelude)s
%(hooks)s
install(0, False)
import gc
_src = open("main.py").read()
gc.collect()  # the prelude's garbage, as a soft reset would free it: main.py needs 8 KB blocks
exec(_src, {"__name__": "__main__"})
"""


def repl_main_code(hang_gpio, prelude="", hang_cpu_gpio=-1):
    """Code for the raw REPL: prelude (its own output first, on a line of its own), then the
    hang hook installed and the board's main.py run under it, for good (the console serves
    as after a boot). Nothing is written to the flash."""
    return REPL_MAIN % {"prelude": prelude, "hooks": hooks_source(hang_gpio, hang_cpu_gpio)}


def overlay_files(firmware_main, hang_gpio, bench=False, profile=()):
    """{device path: bytes} to add to a deployed image: the wrapper main.py, the firmware's
    main.py as main_fw.py, and emu_hooks.py."""
    hooks = hooks_source(hang_gpio, profile=profile)
    return {
        "main.py": (MAIN_WRAPPER % {"bench": "True" if bench else "False"}).encode(),
        "main_fw.py": firmware_main,
        "emu_hooks.py": hooks.encode(),
    }


def reset_heap_min(emu):
    """Forget the lowest free heap seen so far (e.g. after the load measurements)."""

    def _reset():
        addr = emu.mcu.watchdog.scratch_data[0]
        off = addr - 0x20000000 + 4 * 3
        emu.mcu.sram[off : off + 4] = b"\x00\x00\x00\x00"

    emu.call(_reset)


def read_profile(emu, profile):
    """{method: (calls, total cycles, max cycles)} of a profiled bench run."""

    def _read():
        addr = emu.mcu.watchdog.scratch_data[1]
        off = addr - 0x20000000
        return bytes(emu.mcu.sram[off : off + 12 * len(profile)])

    w = struct.unpack("<%di" % (3 * len(profile)), emu.call(_read))
    return {"%s.%s" % (e[1], e[2]): w[3 * i : 3 * i + 3] for i, e in enumerate(profile)}


def read_results(emu):
    """The results array as a dict, read from the emulated SRAM (None before install)."""

    def _read():
        addr = emu.mcu.watchdog.scratch_data[0]
        if not 0x20000000 <= addr < 0x20042000:
            return None
        off = addr - 0x20000000
        return bytes(emu.mcu.sram[off : off + 4 * WORDS])

    raw = emu.call(_read)
    if raw is None:
        return None
    w = struct.unpack("<%di" % WORDS, raw)
    if w[0] != MAGIC:
        return None
    ticks = {}
    for k, name in enumerate(KINDS):
        n = w[_N + k]
        total = w[_SUM_HI + k] * 0x40000000 + w[_SUM_LO + k]
        samples = list(w[_SAMP + k * SAMPLES : _SAMP + k * SAMPLES + w[_IDX + k]])
        ticks[name] = {"n": n, "sum_cycles": total, "max_cycles": w[_MAX + k], "samples": samples}
    return {
        "calib_cycles": w[1],
        "free_boot": w[2],
        "free_min": w[3],
        "hooks_bytes": w[4],
        "loads": w[5],
        "load_us_last": w[6],
        "load_memory_error": bool(w[7]),
        "load_us_max": w[8],
        "ticks_total": w[10],
        "ticks": ticks,
        # tick starts: intervals, and offsets from the timer's grid (the earliest is on time)
        "starts_n": w[_START_N],
        "start_offset_min_cycles": w[_START_OFF_MIN],
        "start_offset_max_cycles": w[_START_OFF_MAX],
        "start_interval_min_cycles": w[_START_IV_MIN],
        "start_interval_max_cycles": w[_START_IV_MAX],
        "start_offset_max_running_cycles": w[_START_OFF_MAX_RUN],
    }
