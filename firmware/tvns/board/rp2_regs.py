# The control tick's board I/O on the RP2040 itself (tvns/tickio.py, layout in
# board/rp2_io.py): viper functions that read and write the registers, machine-word
# arithmetic with no attribute lookups and no allocation. The rp2 port's Python API costs
# ~10 us per call (Pin.value, ADC.read_u16, StateMachine.tx_fifo/put, PWM.duty_u16); these
# do the same register accesses the port's C code does (pico-sdk gpio_get, adc_read,
# pio_sm_get_tx_fifo_level / pio_sm_put, pwm_set_chan_level). Imported on the chip only
# (board/rp2.py): a host has none of these registers (there the parts' methods run).
import micropython

from tvns import safety as F
from tvns.board import rp2_io as R
from tvns.errors import ABOVE_CEILING, OUT_OF_RANGE, TvnsError

# ptr32 and the viper types are builtins of the viper emitter (not Python names).
# ruff: noqa: F821


@micropython.viper
def poll(io):
    """The time (IO_NOW) and every monitor input into io: the kill machine (-1: fired, its
    cause from the Python path), e-stop, and while the gate is on the sense (one ADC
    conversion) and compliance."""
    o = ptr32(io)
    # The time first, as the port's time.ticks_ms() computes it (to_ms_since_boot: the 64-bit
    # microsecond count // 1000, masked to 2**30), from TIMERAWH/TIMERAWL read as pico-sdk's
    # time_us_64 reads them (the high word again after the low: a carry in between re-reads).
    tm = ptr32(o[35])
    hi = tm[0]
    lo = tm[1]
    h2 = tm[0]
    if h2 != hi:
        lo = tm[1]
        hi = h2
    # hi * 2**32 + lo = hi * (4294967 * 1000 + 296) + lh * (65 * 1000 + 536) + (lo & 0xFFFF):
    # every term below 2**31 but hi * 4294967, whose 32-bit wrap keeps the low 30 bits.
    lh = (lo >> 16) & 0xFFFF
    r = hi * 296 + lh * 536 + (lo & 0xFFFF)
    o[6] = (hi * 4294967 + lh * 65 + r // 1000) & 0x3FFFFFFF
    gin = ptr32(o[14])[0]  # SIO GPIO_IN: every input pin at once
    k = 0
    ks = o[21]
    if ks >= 0 and (o[7] >= 0 or ((ptr32(o[20])[0] >> ks) & 15) != 0):
        k = -1
    o[0] = k
    o[1] = 1 if ((gin >> o[15]) & 1) == o[16] else 0
    if o[4]:
        cs = ptr32(o[22])
        # adc_select_input + adc_read: AINSEL, START_ONCE, then READY (96 ADC clocks, 2 us).
        cs[0] = (cs[0] & (~0x7404)) | (o[23] << 12) | 4
        n = 0
        while n < 500 and (cs[0] & 0x100) == 0:
            n += 1
        raw = 0xFFF  # no conversion in ~40 us: full scale, the overcurrent monitor's fault
        if n < 500:
            raw = ptr32(o[22] + 4)[0] & 0xFFF
        ua = ((raw * o[24]) >> 12) + o[25]
        o[2] = ua if ua > 0 else 0
        cb = o[17]
        o[3] = 0
        if cb >= 0 and ((gin >> cb) & 1) == o[18]:
            o[3] = 1


@micropython.viper
def finish(io) -> int:
    """A pending PWM level written while SYNC is low (no pulse in flight), then the pulse
    machine's TX FIFO topped up to FEED words (never blocks: only the missing ones go in).
    Returns the ms until the next feed is due."""
    o = ptr32(io)
    p = o[5]
    if p >= 0 and ((ptr32(o[14])[0] >> o[19]) & 1) == 0:
        cc = ptr32(o[28])
        sh = o[29]
        cc[0] = (cc[0] & (~(0xFFFF << sh))) | (o[13] << sh)
        o[12] = p
        o[5] = -1
    if o[8] == 0:
        return 0x100000
    feed = o[30]
    level = (ptr32(o[20])[0] >> o[27]) & 15
    if level < feed:
        d = feed - level
        n = o[9]  # wraps to 0 after 2**30 - 1, as PioEngine.feed
        o[9] = n + d if n <= 0x3FFFFFFF - d else n - 0x3FFFFFFF - 1 + d
        txf = ptr32(o[26])
        while level < feed:
            txf[0] = o[10]
            level += 1
    return o[11]


@micropython.viper
def set_ua(io, ua: int):
    """PwmDac.set_ua's work after its range checks: the code (DacCal.code_for), the PWM
    level the port's duty_u16(code) writes ((code * (TOP + 1) + 32767) // 65535, split so no
    product passes 2**31), pending; written at once while SYNC is low (no pulse in flight),
    else by finish() at the first tick with SYNC low."""
    o = ptr32(io)
    cmax = o[33]
    code = 0
    if ua > 0:
        code = (ua - o[32]) * cmax // o[31]  # |ua - offset| <= 20 mA: < 2**31 with 65535
        if code < 0:
            code = 0
        elif code > cmax:
            code = cmax
    top1 = o[34]
    hi = (code >> 8) * top1
    u = hi // 65535
    v = hi - u * 65535
    o[13] = u * 256 + (v * 256 + (code & 0xFF) * top1 + 32767) // 65535
    o[5] = code  # published after its level
    if ((ptr32(o[14])[0] >> o[19]) & 1) == 0:
        cc = ptr32(o[28])
        sh = o[29]
        cc[0] = (cc[0] & (~(0xFFFF << sh))) | (o[13] << sh)
        o[12] = code
        o[5] = -1


_IO = None  # this chip's tick array, the DAC's and the engine's (tick_io: one board per chip)


def _refuse(ua):
    """The DAC's refusal of a setpoint out of range, worded as _DacBase.set_ua words it."""
    if ua < 0:
        raise TvnsError(OUT_OF_RANGE, "current must be >= 0", "amplitude_ua")
    raise TvnsError(ABOVE_CEILING, "current above the board ceiling", "amplitude_ua")


@micropython.viper
def dac_set_ua(ua: int):
    """PwmDac.set_ua on the chip, whole, in one call (tick_io makes it the DAC's set_ua): a
    setpoint below 0 or above the DAC's ceiling (io DAC_CEIL) refused as the Python path
    refuses it (TvnsError, nothing changed: fail closed); else recorded (value_ua) and
    set_ua(io, ua)'s work, word for word: the code, the PWM level, pending, written at once
    while SYNC is low."""
    o = ptr32(_IO)
    if ua < 0 or ua > o[36]:
        _refuse(ua)
    o[37] = ua
    cmax = o[33]
    code = 0
    if ua > 0:
        code = (ua - o[32]) * cmax // o[31]
        if code < 0:
            code = 0
        elif code > cmax:
            code = cmax
    top1 = o[34]
    hi = (code >> 8) * top1
    u = hi // 65535
    v = hi - u * 65535
    o[13] = u * 256 + (v * 256 + (code & 0xFF) * top1 + 32767) // 65535
    o[5] = code  # published after its level
    if ((ptr32(o[14])[0] >> o[19]) & 1) == 0:
        cc = ptr32(o[28])
        sh = o[29]
        cc[0] = (cc[0] & (~(0xFFFF << sh))) | (o[13] << sh)
        o[12] = code
        o[5] = -1


@micropython.viper
def engine_gate(on):
    """PioEngine.gate on the chip (tick_io makes it the engine's gate): the command recorded
    (io GATE_ON) and, unless an MCP4725 transfer holds the gate low (HELD), the gate pin set
    or cleared through SIO GPIO_OUT_SET / GPIO_OUT_CLR, as the port's Pin.value writes it
    (gpio_put). The PIO samples the gate only between pulses: a pulse in flight finishes."""
    o = ptr32(_IO)
    v = 1 if on else 0
    o[38] = v
    if o[39] == 0:
        ptr32(o[40] + 4 - 4 * v)[0] = 1 << o[41]  # SET when on, CLR (SET + 4) when off


class RegIO:
    """board.tick_io on the chip: the array and the two functions (plain functions, not
    bound methods: the tick calls them with the array)."""

    reads_time = True  # poll() writes IO_NOW from the TIMER registers
    fast_edge = True  # the callback takes the fast edge's context (tvns/tickedge.py)

    def __init__(self, io):
        from tvns.board import rp2_fast

        rp2_fast.check()
        self.io = io
        self.poll = poll
        self.finish = finish
        # the timer's callback with the three inline: no call but the timer's per idle or
        # clean running tick, and the fast edge in it (Scheduler builds it: callback(hot, io,
        # look, edge context))
        self.callback = self._callback

    def _callback(self, hot, io, look, ctx):
        from tvns.board import rp2_fast

        rp2_fast.addresses(io, ctx)  # the edge's arrays, by address (main loop, once)
        return rp2_fast.callback(hot, io, look, ctx)


_SIO_GPIO_IN = 0xD0000004
_SIO_GPIO_OUT_SET = 0xD0000014  # GPIO_OUT_CLR at + 4
_PIO0 = 0x50200000
_ADC_CS = 0x4004C000
_PWM = 0x40050000
_TIMERAWH = 0x40054024  # TIMERAWL at + 4
# The words the viper functions above index by number (a const of another module is not
# folded): checked against rp2_io's names when the board builds its tick I/O.
_LAYOUT = (6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26)
_LAYOUT += (27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46)


def _s32(addr):
    """An address as an array('i') word (the viper code reads it back as 32 bits)."""
    return addr - (1 << 32) if addr >= 1 << 31 else addr


def setup(io, machine, feed, pins):
    """The register addresses of this board (main loop, once). pins: a dict of the GPIOs
    and levels: estop, estop_active, comp (-1: none), comp_active, sync, sm, kill_sm (-1:
    none), adc, k_q12, sense_off, pwm, gate, dac_fs, dac_off, dac_max; marker (-1 or absent:
    none)."""
    layout = (R.IO_NOW, R.KILL_WORD, R.LOADED, R.PULLED, R.N_O, R.FEED_MS, R.CODE)
    layout += (R.CC_PENDING, R.A_GPIO_IN, R.ESTOP_BIT, R.ESTOP_ACT, R.COMP_BIT, R.COMP_ACT)
    layout += (R.SYNC_BIT, R.A_FLEVEL, R.KILL_SHIFT, R.A_ADC_CS, R.AINSEL, R.K_Q12)
    layout += (R.SENSE_OFF, R.A_TXF, R.TX_SHIFT, R.A_CC, R.CC_SHIFT, R.FEED, R.DAC_FS)
    layout += (R.DAC_OFF, R.DAC_MAX, R.TOP1, R.A_TIMER, R.DAC_CEIL, R.DAC_UA, R.GATE_ON)
    layout += (R.HELD, R.A_GPIO_SET, R.GATE_BIT, R.MARKER_BIT, R.A_RING_W, R.A_RING_K)
    layout += (R.A_TABLES, R.WORDS)
    if layout != _LAYOUT:
        raise ValueError("rp2_regs word numbers out of step with rp2_io.py")
    io[R.A_TIMER] = _s32(_TIMERAWH)
    io[R.A_GPIO_IN] = _s32(_SIO_GPIO_IN)
    io[R.A_GPIO_SET] = _s32(_SIO_GPIO_OUT_SET)
    io[R.GATE_BIT] = pins["gate"]
    io[R.MARKER_BIT] = pins.get("marker", -1)
    io[R.ESTOP_BIT] = pins["estop"]
    io[R.ESTOP_ACT] = pins["estop_active"]
    io[R.COMP_BIT] = pins["comp"]
    io[R.COMP_ACT] = pins["comp_active"]
    io[R.SYNC_BIT] = pins["sync"]
    sm = pins["sm"]
    block = _PIO0 + 0x100000 * (sm // 4)
    io[R.A_FLEVEL] = _s32(block + 0x0C)
    io[R.A_TXF] = _s32(block + 0x10 + 4 * (sm % 4))
    io[R.TX_SHIFT] = 8 * (sm % 4)
    k = pins["kill_sm"]
    io[R.KILL_SHIFT] = -1 if k < 0 else 8 * (k % 4) + 4
    io[R.A_ADC_CS] = _s32(_ADC_CS)
    io[R.AINSEL] = pins["adc"] - 26
    io[R.K_Q12] = pins["k_q12"]
    io[R.SENSE_OFF] = pins["sense_off"]
    g = pins["pwm"]
    io[R.A_CC] = _s32(_PWM + 0x14 * ((g >> 1) & 7) + 0x0C)
    io[R.CC_SHIFT] = 16 * (g & 1)
    io[R.FEED] = feed
    io[R.DAC_FS] = pins["dac_fs"]
    io[R.DAC_OFF] = pins["dac_off"]
    io[R.DAC_MAX] = pins["dac_max"]
    io[R.TOP1] = machine.mem32[_PWM + 0x14 * ((g >> 1) & 7) + 0x10] + 1


def tick_io(board, machine):
    """RegIO for this board: its registers set up (main loop, once), and PwmDac.set_ua's
    work handed to set_ua above."""
    io = board.engine.io
    eng = board.engine
    sense = board.sense
    dac = board.dac
    pins = {
        "estop": board.estop.gpio,
        "estop_active": board.estop.active,
        "comp": sense.comp_gpio,
        "comp_active": sense.comp_active,
        "sync": eng.sync_gpio,
        "gate": eng.gate_gpio,
        "marker": board.marker_gpio,
        "sm": eng.sm_id,
        "kill_sm": eng.kill_sm_id,
        "adc": sense.adc_gpio,
        "k_q12": sense.k_q12,
        "sense_off": sense.offset_ua,
        "pwm": dac.gpio,
        "dac_fs": dac.fs_ua,
        "dac_off": dac.offset_ua,
        "dac_max": dac.code_max,
    }
    setup(io, machine, F.DEADMAN_PULSES, pins)
    global _IO
    _IO = io
    # From here on the DAC's set_ua and the engine's gate are dac_set_ua and engine_gate
    # above: instance attributes, found before the classes' methods and called without
    # binding (each one call: the tick's amplitude step and train edge, docs/SPEED.md).
    dac.set_ua = dac_set_ua
    eng.gate = engine_gate
    return RegIO(io)
