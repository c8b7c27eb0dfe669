# The timer's callback on the RP2040 itself (docs/SPEED.md "What the hot path does for
# speed"): tvns/tickfast.callback with tickfast.run and this board's poll and finish
# (board/rp2_regs.py) written inline, so the idle tick and "nothing due, every monitor clean"
# cost the hard Timer's call of one viper function and nothing else (a call costs ~10 us on
# the rp2 port). The same steps in the same order: the beat; the session's state (its word
# in the hot state); idle: a pending DAC level handed to the scheduler's guarded full path
# (look); running: the time and the inputs read into io (rp2_regs.poll), the judge
# (tickfast.run, word for word, its "return 0" a "break" to look), and on "clean" the pending
# PWM level and the dead man's feed (rp2_regs.finish) and the due time. Nothing here can
# raise (memory reads and writes, integer arithmetic; look is guarded itself): no try.
# host_tests/test_tickfast.py proves callback(hot, io, look) == tickfast.callback(hot, io,
# (rp2_regs.poll, rp2_regs.finish, look, ...)) on the 32-bit MicroPython over generated
# states and register values (look's calls, both arrays and every register written), and
# tickfast's against the full path. Imported on the chip only (board/rp2.py, as rp2_regs).
import micropython
from micropython import const

# ptr32 is a builtin of the viper emitter (not a Python name).
# ruff: noqa: F821

# The hot state's words (tvns/tickfast.py) and the io array's (tvns/tickio.py,
# board/rp2_io.py) as numbers: a const of another module is not folded; check() compares.
_T0 = const(0)
_WORK = const(1)
_ELAPSED = const(2)
_CAP = const(3)
_HELD_WIN = const(4)
_HELD_SINCE = const(5)
_HELD_HI = const(6)
_HELD_PREV = const(7)
_AMP = const(8)
_PREV_AMP = const(9)
_CEIL = const(10)
_MARGIN = const(11)
_KA = const(12)
_HOST = const(13)
_GATE = const(14)
_GATE_MS = const(15)
_PERIOD = const(16)
_FEED = const(17)
_DUE = const(18)
_TRIG = const(19)
_BEATS = const(20)
_STATE = const(21)
_RUN_BITS = const(0x3C)  # session.RUNNING as bits (1 << state)
_FLOOR_UA = const(50)  # safety.SENSE_FLOOR_UA
_LEAD_OFF_MIN_UA = const(200)  # safety.LEAD_OFF_MIN_SETPOINT_UA
_MASK = const(0x3FFFFFFF)
_HALF = const(0x20000000)


def check():
    """The numbers above and the io words fast() indexes by number (board/rp2_io.py) against
    their homes (the board's build, main loop, once)."""
    from tvns import tickfast as TF
    from tvns.board import rp2_io as R

    mine = (_T0, _WORK, _ELAPSED, _CAP, _HELD_WIN, _HELD_SINCE, _HELD_HI, _HELD_PREV, _AMP,
            _PREV_AMP, _CEIL, _MARGIN, _KA, _HOST, _GATE, _GATE_MS, _PERIOD, _FEED, _DUE,
            _TRIG)  # fmt: skip
    lay = TF.LAYOUT
    io = (0, 1, 2, 3, 4, 6)  # IO_KILL, IO_ESTOP, IO_UA, IO_COMP, IO_SENSE, IO_NOW (+ 5: IO_PENDING)
    words = (R.IO_PENDING, R.IO_NOW, R.KILL_WORD, R.LOADED, R.PULLED, R.N_O, R.FEED_MS,
             R.CODE, R.CC_PENDING, R.A_GPIO_IN, R.ESTOP_BIT, R.ESTOP_ACT, R.COMP_BIT,
             R.COMP_ACT, R.SYNC_BIT, R.A_FLEVEL, R.KILL_SHIFT, R.A_ADC_CS, R.AINSEL, R.K_Q12,
             R.SENSE_OFF, R.A_TXF, R.TX_SHIFT, R.A_CC, R.CC_SHIFT, R.FEED, R.A_TIMER)  # fmt: skip
    if (
        lay[:20] != mine
        or lay[22:28] != io
        or lay[20] != _BEATS
        or lay[28:] != (_FLOOR_UA, _LEAD_OFF_MIN_UA, _STATE, 5, _RUN_BITS)
        or words != tuple(range(5, 31)) + (35,)
    ):
        raise ValueError("rp2_fast word numbers out of step with tickfast.py/rp2_io.py")


def callback(hot, io, look):
    """The timer's callback (Scheduler.tick_cb) on the chip: tickfast.callback with
    tickfast.run, rp2_regs.poll and rp2_regs.finish inline. look(timer): the scheduler's
    guarded full path (Scheduler._look), called for a pending DAC level while idle and for
    any running tick that is not "clean, nothing due" (this tick's readings in io). A
    closure over three names (tickfast.callback says why)."""

    @micropython.viper
    def tick_cb(timer):
        h = ptr32(hot)
        o = ptr32(io)
        b = h[_BEATS]
        h[_BEATS] = b + 1 if b < _MASK else 0  # b + 1 at 2**30 - 1 would be a heap int
        if ((_RUN_BITS >> h[_STATE]) & 1) == 0:
            if o[5] >= 0:  # IO_PENDING: a DAC level left pending (the full path applies it)
                look(timer)
            return
        while True:  # one pass: "break" is tickfast.run's "return 0" (look)
            gate = h[_GATE]
            o[4] = gate  # IO_SENSE
            # ---- rp2_regs.poll ----
            tm = ptr32(o[35])  # TIMERAWH, TIMERAWL: the port's ticks_ms
            hi = tm[0]
            lo = tm[1]
            h2 = tm[0]
            if h2 != hi:
                lo = tm[1]
                hi = h2
            lh = (lo >> 16) & 0xFFFF
            r = hi * 296 + lh * 536 + (lo & 0xFFFF)
            now = (hi * 4294967 + lh * 65 + r // 1000) & 0x3FFFFFFF
            o[6] = now  # IO_NOW
            gin = ptr32(o[14])[0]  # SIO GPIO_IN
            k = 0
            ks = o[21]
            if ks >= 0 and (o[7] >= 0 or ((ptr32(o[20])[0] >> ks) & 15) != 0):
                k = -1
            o[0] = k  # IO_KILL
            o[1] = 1 if ((gin >> o[15]) & 1) == o[16] else 0  # IO_ESTOP
            if gate:
                cs = ptr32(o[22])
                cs[0] = (cs[0] & (~0x7404)) | (o[23] << 12) | 4
                n = 0
                while n < 500 and (cs[0] & 0x100) == 0:
                    n += 1
                raw = 0xFFF
                if n < 500:
                    raw = ptr32(o[22] + 4)[0] & 0xFFF
                u = ((raw * o[24]) >> 12) + o[25]
                o[2] = u if u > 0 else 0  # IO_UA
                cb = o[17]
                o[3] = 0  # IO_COMP
                if cb >= 0 and ((gin >> cb) & 1) == o[18]:
                    o[3] = 1
            # ---- tickfast.run's judge ----
            if h[_TRIG] != 0:
                break
            if o[0] != 0 or o[1] != 0:
                break
            t = now - h[_T0]
            if t >= _HALF:
                t = t - _MASK - 1
            elif t < -_HALF:
                t = t + _MASK + 1
            if t > h[_CAP]:
                break
            if gate != 0:
                d = now - h[_HELD_SINCE]
                if d >= _HALF:
                    d = d - _MASK - 1
                elif d < -_HALF:
                    d = d + _MASK + 1
                if d >= h[_HELD_WIN]:
                    break
                ua = o[2]
                amp = h[_AMP]
                top = amp
                if h[_HELD_HI] > top:
                    top = h[_HELD_HI]
                if h[_HELD_PREV] > top:
                    top = h[_HELD_PREV]
                if ua > top + top // 10 + _FLOOR_UA or ua > h[_CEIL] + h[_MARGIN]:
                    break
                if o[3] != 0:
                    break
                if amp >= _LEAD_OFF_MIN_UA:
                    low = h[_PREV_AMP]
                    if amp < low:
                        low = amp
                    if ua < low // 2:
                        d = now - h[_GATE_MS]
                        if d >= _HALF:
                            d = d - _MASK - 1
                        elif d < -_HALF:
                            d = d + _MASK + 1
                        if d > h[_PERIOD]:
                            break
            ka = h[_KA]
            if ka != 0:
                d = now - h[_HOST]
                if d >= _HALF:
                    d = d - _MASK - 1
                elif d < -_HALF:
                    d = d + _MASK + 1
                if d > ka:
                    break
            w = h[_WORK]
            d = now - w
            if d >= _HALF:
                d = d - _MASK - 1
            elif d < -_HALF:
                d = d + _MASK + 1
            if d >= 0:
                break
            h[_ELAPSED] = t
            # ---- rp2_regs.finish ----
            p = o[5]
            # SYNC read again now, not from the poll's GPIO_IN: a pulse may have begun since
            if p >= 0 and ((ptr32(o[14])[0] >> o[19]) & 1) == 0:
                cc = ptr32(o[28])
                sh = o[29]
                cc[0] = (cc[0] & (~(0xFFFF << sh))) | (o[13] << sh)
                o[12] = p
                o[5] = -1
            fed = 0x100000
            if o[8] != 0:
                feed = o[30]
                level = (ptr32(o[20])[0] >> o[27]) & 15
                if level < feed:
                    d = feed - level
                    n = o[9]
                    o[9] = n + d if n <= 0x3FFFFFFF - d else n - 0x3FFFFFFF - 1 + d
                    txf = ptr32(o[26])
                    while level < feed:
                        txf[0] = o[10]
                        level += 1
                fed = o[11]
            # ---- the due time ----
            f = now + fed if now <= _MASK - fed else now - (_MASK - fed) - 1
            h[_FEED] = f
            d = f - w
            if d >= _HALF:
                d = d - _MASK - 1
            elif d < -_HALF:
                d = d + _MASK + 1
            h[_DUE] = f if d < 0 else w
            return
        look(timer)

    return tick_cb
