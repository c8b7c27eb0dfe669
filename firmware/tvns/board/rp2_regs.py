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

# ptr32 and the viper types are builtins of the viper emitter (not Python names).
# ruff: noqa: F821


@micropython.viper
def poll(io):
    """Every monitor input into io: the kill machine (-1: fired, its cause from the Python
    path), e-stop, and while the gate is on the sense (one ADC conversion) and compliance."""
    o = ptr32(io)
    gin = ptr32(o[13])[0]  # SIO GPIO_IN: every input pin at once
    k = 0
    ks = o[20]
    if ks >= 0 and (o[6] >= 0 or ((ptr32(o[19])[0] >> ks) & 15) != 0):
        k = -1
    o[0] = k
    o[1] = 1 if ((gin >> o[14]) & 1) == o[15] else 0
    if o[4]:
        cs = ptr32(o[21])
        # adc_select_input + adc_read: AINSEL, START_ONCE, then READY (96 ADC clocks, 2 us).
        cs[0] = (cs[0] & (~0x7404)) | (o[22] << 12) | 4
        n = 0
        while n < 500 and (cs[0] & 0x100) == 0:
            n += 1
        raw = 0xFFF  # no conversion in ~40 us: full scale, the overcurrent monitor's fault
        if n < 500:
            raw = ptr32(o[21] + 4)[0] & 0xFFF
        ua = ((raw * o[23]) >> 12) + o[24]
        o[2] = ua if ua > 0 else 0
        cb = o[16]
        o[3] = 0
        if cb >= 0 and ((gin >> cb) & 1) == o[17]:
            o[3] = 1


@micropython.viper
def finish(io) -> int:
    """A pending PWM level written while SYNC is low (no pulse in flight), then the pulse
    machine's TX FIFO topped up to FEED words (never blocks: only the missing ones go in).
    Returns the ms until the next feed is due."""
    o = ptr32(io)
    p = o[5]
    if p >= 0 and ((ptr32(o[13])[0] >> o[18]) & 1) == 0:
        cc = ptr32(o[27])
        sh = o[28]
        cc[0] = (cc[0] & (~(0xFFFF << sh))) | (o[12] << sh)
        o[11] = p
        o[5] = -1
    if o[7] == 0:
        return 0x100000
    feed = o[29]
    level = (ptr32(o[19])[0] >> o[26]) & 15
    if level < feed:
        d = feed - level
        n = o[8]  # wraps to 0 after 2**30 - 1, as PioEngine.feed
        o[8] = n + d if n <= 0x3FFFFFFF - d else n - 0x3FFFFFFF - 1 + d
        txf = ptr32(o[25])
        while level < feed:
            txf[0] = o[9]
            level += 1
    return o[10]


@micropython.viper
def set_ua(io, ua: int):
    """PwmDac.set_ua's work after its range checks: the code (DacCal.code_for), the PWM
    level the port's duty_u16(code) writes ((code * (TOP + 1) + 32767) // 65535, split so no
    product passes 2**31), pending; written at once while SYNC is low (no pulse in flight),
    else by finish() at the first tick with SYNC low."""
    o = ptr32(io)
    cmax = o[32]
    code = 0
    if ua > 0:
        code = (ua - o[31]) * cmax // o[30]  # |ua - offset| <= 20 mA: < 2**31 with 65535
        if code < 0:
            code = 0
        elif code > cmax:
            code = cmax
    top1 = o[33]
    hi = (code >> 8) * top1
    u = hi // 65535
    v = hi - u * 65535
    o[12] = u * 256 + (v * 256 + (code & 0xFF) * top1 + 32767) // 65535
    o[5] = code  # published after its level
    if ((ptr32(o[13])[0] >> o[18]) & 1) == 0:
        cc = ptr32(o[27])
        sh = o[28]
        cc[0] = (cc[0] & (~(0xFFFF << sh))) | (o[12] << sh)
        o[11] = code
        o[5] = -1


class RegIO:
    """board.tick_io on the chip: the array and the two functions (plain functions, not
    bound methods: the tick calls them with the array)."""

    def __init__(self, io):
        self.io = io
        self.poll = poll
        self.finish = finish


_SIO_GPIO_IN = 0xD0000004
_PIO0 = 0x50200000
_ADC_CS = 0x4004C000
_PWM = 0x40050000


def _s32(addr):
    """An address as an array('i') word (the viper code reads it back as 32 bits)."""
    return addr - (1 << 32) if addr >= 1 << 31 else addr


def setup(io, machine, feed, pins):
    """The register addresses of this board (main loop, once). pins: a dict of the GPIOs
    and levels: estop, estop_active, comp (-1: none), comp_active, sync, sm, kill_sm (-1:
    none), adc, k_q12, sense_off, pwm."""
    io[R.A_GPIO_IN] = _s32(_SIO_GPIO_IN)
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
    dac.fast_set = set_ua  # from here on set_ua's code, level and write in one call
    return RegIO(io)
