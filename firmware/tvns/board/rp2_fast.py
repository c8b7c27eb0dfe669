# Longer than ~300 lines on purpose: one viper function (a call split out of it costs ~10 us a
# tick on the rp2 port), and the numbers it folds are its own consts.
# The timer's callback on the RP2040 itself (docs/SPEED.md "What the hot path does for
# speed", "The fast edge"): tvns/tickfast.callback with tickfast.run, this board's poll and
# finish (board/rp2_regs.py) and the fast edge (tvns/tickedge.py) written inline, so the idle
# tick, "nothing due, every monitor clean" and a schedule's step (a ramp step, a train edge, a
# stop's step and end) cost the hard Timer's call of one viper function and, for a step, one
# call of the schedule's eval (a call costs ~10 us on the rp2 port). The same steps in the
# same order: the beat; the session's state (its word in the hot state); idle: a pending DAC
# level handed to the scheduler's guarded full path (look); running: the time and the inputs
# read into io (rp2_regs.poll), the judge (tickfast.run, word for word, its "return 0" a
# "break" to look), on "due" the edge (tickedge.edge, word for word, its DAC, gate and marker
# calls the register writes rp2_regs.dac_set_ua, engine_gate and the marker Pin's value() do),
# then the pending PWM level and the dead man's feed (rp2_regs.finish) and the due time.
# Nothing here can raise (memory reads and writes, integer arithmetic; the eval only on words
# it cannot divide by zero with; look is guarded itself; the DAC's refusal goes to the latch):
# no try.
# host_tests/test_tickfast.py proves callback(hot, io, look) == tickfast.callback(hot, io,
# (rp2_regs.poll, rp2_regs.finish, look, ...)) on the 32-bit MicroPython over generated
# states and register values (look's calls, both arrays and every register written), and
# tickfast's against the full path; host_tests/test_tickedge.py the edge the same way (with
# tickedge.edge and the chip's DAC and gate functions) and tickedge's against the full path.
# Imported on the chip only (board/rp2.py, as rp2_regs).
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
# The fast edge's (tvns/tickedge.py): the step's hot words, limits, the schedule's answer,
# the states and events, the context's slots and its tables' offsets
_NOM = const(22)
_NOM_GATE = const(23)
_LAST_UP = const(24)
_UP_FROM = const(25)
_UP_GAP = const(26)
_STOP_REQ = const(27)
_STOPPING = const(28)
_STOP_AT = const(29)
_STOP_FROM = const(30)
_STEP_UA = const(100)
_STOP_STEP_MS = const(10)
_W_PHASE = const(13)
_W_AMP = const(14)
_W_GATE = const(15)
_W_NEXT = const(16)
_W_OUT = const(17)
_W_OUT_GATE = const(18)
_W_GE = const(6)
_RAMP_DOWN = const(5)
_DONE = const(6)
_EV_STOP = const(7)
_EV_STOPPED = const(8)
_N_EVENTS = const(12)
_NO_EVENT = const(255)
_C_WORDS = const(0)
_C_RING_W = const(1)
_C_RING_K = const(2)
_C_TABLES = const(3)
_C_EVAL = const(4)
_C_LATCH = const(5)
_W_DOWN = const(3)  # the schedule's words eval_words divides by (tvns/schedule.py)
_W_SESSION = const(4)
_W_DS = const(5)
_W_ON = const(7)
_W_CYCLE = const(9)
_W_N = const(10)
_TB_ALLOWED = const(9)
_TB_TABLE = const(18)
_WRAP = const(0x3FFFFFFF)
# what the edge's branches leave for the outputs' one block (step 7)
_K_STEP = const(0)  # the schedule's step (the amplitude rules, the gate)
_K_STOP = const(1)  # a stop's ramp step (the amplitude only)
_K_OFF = const(2)  # output_off at the schedule's end (DONE)
_K_STOPPED = const(3)  # output_off at a stop's end, then EV_STOPPED
_C_NONE = const(11)  # None, always: what the words' slot holds without a schedule


def check():
    """The numbers above and the io words fast() indexes by number (board/rp2_io.py) against
    their homes (the board's build, main loop, once)."""
    from tvns import schedule as SCH
    from tvns import scheduler as SC
    from tvns import session as S
    from tvns import tickfast as TF
    from tvns import tickstep as TS
    from tvns.board import rp2_io as R

    mine = (_T0, _WORK, _ELAPSED, _CAP, _HELD_WIN, _HELD_SINCE, _HELD_HI, _HELD_PREV, _AMP,
            _PREV_AMP, _CEIL, _MARGIN, _KA, _HOST, _GATE, _GATE_MS, _PERIOD, _FEED, _DUE,
            _TRIG)  # fmt: skip
    lay = TF.LAYOUT
    io = (0, 1, 2, 3, 4, 6)  # IO_KILL, IO_ESTOP, IO_UA, IO_COMP, IO_SENSE, IO_NOW (+ 5: IO_PENDING)
    words = (R.IO_PENDING, R.IO_NOW, R.KILL_WORD, R.LOADED, R.PULLED, R.N_O, R.FEED_MS,
             R.CODE, R.CC_PENDING, R.A_GPIO_IN, R.ESTOP_BIT, R.ESTOP_ACT, R.COMP_BIT,
             R.COMP_ACT, R.SYNC_BIT, R.A_FLEVEL, R.KILL_SHIFT, R.A_ADC_CS, R.AINSEL, R.K_Q12,
             R.SENSE_OFF, R.A_TXF, R.TX_SHIFT, R.A_CC, R.CC_SHIFT, R.FEED, R.A_TIMER,
             R.DAC_FS, R.DAC_OFF, R.DAC_MAX, R.TOP1, R.DAC_CEIL, R.DAC_UA, R.GATE_ON, R.HELD,
             R.A_GPIO_SET, R.GATE_BIT, R.MARKER_BIT, R.A_RING_W, R.A_RING_K,
             R.A_TABLES)  # fmt: skip
    edge = (_NOM, _NOM_GATE, _LAST_UP, _UP_FROM, _UP_GAP, _STOP_REQ, _STOPPING, _STOP_AT,
            _STOP_FROM, _STEP_UA, _STOP_STEP_MS)  # fmt: skip
    answer = (_W_PHASE, _W_AMP, _W_GATE, _W_NEXT, _W_OUT, _W_OUT_GATE, _W_GE)
    states = (_RAMP_DOWN, _DONE, _EV_STOP, _EV_STOPPED, _N_EVENTS, _NO_EVENT)
    ctx = SC.EDGE_SLOTS[:6] + SC.EDGE_SLOTS[11:]
    sched = tuple(SCH.Schedule.__dict__[n].i for n in ("down_ms", "session_ms", "down_start_ms",
                                                      "on_ms", "cycle_ms", "n_steps"))  # fmt: skip
    if (
        lay[:20] != mine
        or lay[22:28] != io
        or lay[20] != _BEATS
        or lay[28:] != (_FLOOR_UA, _LEAD_OFF_MIN_UA, _STATE, 5, _RUN_BITS)
        or words != tuple(range(5, 31)) + (35,) + tuple(range(31, 35)) + tuple(range(36, 46))
        or TS.LAYOUT[:33] != lay
        or TS.LAYOUT[33:] != edge
        or SCH.ANSWER != answer
        or sched != (_W_DOWN, _W_SESSION, _W_DS, _W_ON, _W_CYCLE, _W_N)
        or states != (S.RAMP_DOWN, S.DONE, S.EV_STOP, S.EV_STOPPED, S.N_EVENTS, S.NO_EVENT)
        or ctx
        != (
            _C_WORDS,
            _C_RING_W,
            _C_RING_K,
            _C_TABLES,
            _C_EVAL,
            _C_LATCH,
            _C_NONE,
            _TB_ALLOWED,
            _TB_TABLE,
        )  # fmt: skip
    ):
        raise ValueError("rp2_fast word numbers out of step with tickfast.py/rp2_io.py/tickstep.py")


def addresses(io, ctx):
    """The fast edge's arrays by address into io (A_RING_W, A_RING_K, A_TABLES: the session's
    ring and the tables from the context), so that the callback reaches them without a lookup
    (main loop, once, before the callback runs: RegIO's). None of them is ever replaced or
    resized (the ring's are made with its session, the tables are a module constant); the
    context keeps them alive. The schedule's words, which each load replaces, are not here:
    the callback reads them from the context."""
    import uctypes

    from tvns.board import rp2_io as R

    io[R.A_RING_W] = uctypes.addressof(ctx[_C_RING_W])
    io[R.A_RING_K] = uctypes.addressof(ctx[_C_RING_K])
    io[R.A_TABLES] = uctypes.addressof(ctx[_C_TABLES])


def callback(hot, io, look, ctx=None):
    """The timer's callback (Scheduler.tick_cb) on the chip: tickfast.callback with
    tickfast.run, rp2_regs.poll and rp2_regs.finish inline, and the fast edge
    (tvns/tickedge.py edge, with rp2_regs.dac_set_ua and engine_gate, the marker Pin's
    value() and PwmDac.apply as their register writes) inline too. look(timer): the
    scheduler's guarded full path (Scheduler._look), called for a pending DAC level while
    idle and for any running tick that is neither "clean, nothing due" nor the edge's (this
    tick's readings in io). ctx: the edge's context, its arrays' addresses in io
    (addresses(); none there, A_TABLES 0: every due tick goes to look). A closure over four
    names (tickfast.callback says why)."""

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
                win = h[_HELD_WIN]
                if d >= win:  # the hold window rolls over (the full path's monitor)
                    if win <= 0:
                        break
                    h[_HELD_PREV] = h[_HELD_HI]
                    h[_HELD_HI] = 0
                    h[_HELD_SINCE] = now
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
            if ka != 0 and h[_STOP_REQ] == 0:  # (as the full path: not once a stop is asked)
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
            if d < 0:
                h[_ELAPSED] = t
            else:
                # ---- the fast edge (tvns/tickedge.py edge, word for word) ----
                if o[45] == 0 or t < 0:  # A_TABLES: 0 without an edge (addresses())
                    break
                ws = ctx[_C_WORDS]
                # (None from the context, not a module global: a viper function that reads a
                # global pays an exception handler, nlr_push, on every call: ~1.2 us a tick)
                if ws is ctx[_C_NONE]:
                    break
                sw = ptr32(ws)
                stopping = h[_STOPPING]
                at = h[_STOP_AT]  # (a 32-bit viper reads a word signed)
                if stopping != 0 and (at < 0 or at >= _HALF):
                    break
                # eval_words raises on a zero divisor only, in words no loaded protocol has
                # (the full path runs them, into its latch): none may escape a hard IRQ
                if sw[_W_N] <= 0 or sw[_W_CYCLE] <= 0 or sw[_W_ON] <= 0:
                    break
                if sw[_W_DOWN] <= 0 and sw[_W_DS] < sw[_W_SESSION]:
                    break
                tb = ptr8(o[45])
                h[_ELAPSED] = t
                if h[_STOP_REQ] != 0 and stopping == 0:
                    stopping = 1
                    h[_STOPPING] = 1
                    at = t
                    h[_STOP_AT] = t
                    h[_STOP_FROM] = h[_NOM]
                    st = h[_STATE]  # Session.fire(EV_STOP, t)
                    nxt = tb[_TB_TABLE + st * _N_EVENTS + _EV_STOP]
                    if nxt != _NO_EVENT and nxt != st:
                        h[_STATE] = nxt
                        rw = ptr32(o[43])  # EventRing.put, inline (A_RING_W, A_RING_K)
                        size = rw[3]
                        span = rw[4]
                        hd = rw[0]
                        i = hd % size
                        rw[5 + i] = t
                        ptr8(o[44])[i] = nxt
                        hd = (hd + 1) % span
                        rw[0] = hd
                        if (hd - rw[1]) % span > size:
                            rw[1] = (rw[1] + 1) % span
                            n = rw[2]
                            if n < _WRAP:
                                rw[2] = n + 1
                ctx[_C_EVAL](ws, t)  # the schedule's answer into its words (cannot raise: above)
                due = 0
                g = -1  # the gate: -1 left alone, 0 closed first, 1 opened last
                if stopping != 0:
                    kk = (t - at) // _STOP_STEP_MS + 1
                    nom = h[_STOP_FROM] - kk * _STEP_UA
                    if sw[_W_PHASE] >= _RAMP_DOWN and sw[_W_AMP] < nom:
                        nom = sw[_W_AMP]
                    if (
                        nom <= 0
                        or h[_NOM_GATE] == 0
                        or tb[_TB_ALLOWED + h[_STATE]] == 0
                        or t >= sw[_W_GE]
                    ):
                        kind = _K_STOPPED
                        g = 0
                        amp = 0
                    else:
                        kind = _K_STOP
                        h[_NOM] = nom
                        amp = h[_AMP]
                        if nom < amp:
                            amp = nom
                        nx = at + kk * _STOP_STEP_MS
                        if sw[_W_NEXT] < nx:
                            nx = sw[_W_NEXT]
                        t0 = h[_T0]
                        due = t0 + nx if t0 <= _MASK - nx else t0 - (_MASK - nx) - 1
                else:
                    phase = sw[_W_PHASE]
                    st = h[_STATE]
                    if phase != st:
                        e = tb[phase]
                        if e == _NO_EVENT:
                            break
                        nxt = tb[_TB_TABLE + st * _N_EVENTS + e]  # Session.fire(e, t)
                        if nxt != _NO_EVENT and nxt != st:
                            h[_STATE] = nxt
                            rw = ptr32(o[43])  # EventRing.put, inline (A_RING_W, A_RING_K)
                            size = rw[3]
                            span = rw[4]
                            hd = rw[0]
                            i = hd % size
                            rw[5 + i] = t
                            ptr8(o[44])[i] = nxt
                            hd = (hd + 1) % span
                            rw[0] = hd
                            if (hd - rw[1]) % span > size:
                                rw[1] = (rw[1] + 1) % span
                                n = rw[2]
                                if n < _WRAP:
                                    rw[2] = n + 1
                    if phase == _DONE:
                        kind = _K_OFF
                        g = 0
                        amp = 0
                    else:
                        kind = _K_STEP
                        amp = sw[_W_AMP]
                        nom = h[_NOM]
                        t0 = h[_T0]
                        nx = sw[_W_NEXT]
                        due = t0 + nx if t0 <= _MASK - nx else t0 - (_MASK - nx) - 1
                        sgate = sw[_W_GATE]
                        last_up = h[_LAST_UP]  # (-up_gap_ms before the first step: signed)
                        gap = h[_UP_GAP]
                        if sgate == 0 and nom > h[_UP_FROM] and t - last_up < gap:
                            nom = h[_UP_FROM]
                        if amp > nom:
                            wait = last_up + gap - t
                            if sgate == 0:
                                amp = nom
                            elif wait > 0:
                                amp = nom
                                if wait < nx - t:
                                    if now <= _MASK - wait:
                                        due = now + wait
                                    else:
                                        due = now - (_MASK - wait) - 1
                            else:
                                if amp > nom + _STEP_UA:
                                    amp = nom + _STEP_UA
                                    if gap < nx - t:
                                        if now <= _MASK - gap:
                                            due = now + gap
                                        else:
                                            due = now - (_MASK - gap) - 1
                                h[_LAST_UP] = t
                                h[_UP_FROM] = nom
                        if amp > h[_CEIL]:
                            amp = h[_CEIL]
                        ok = tb[_TB_ALLOWED + h[_STATE]]
                        h[_NOM] = amp
                        h[_NOM_GATE] = 1 if sgate != 0 and ok != 0 else 0
                        if sw[_W_OUT] < amp:
                            amp = sw[_W_OUT]
                        g = 0
                        if sw[_W_OUT_GATE] != 0 and ok != 0:
                            g = 1
                # ---- 7. the outputs: gate-off first, the amplitude, gate-on last ----
                if g == 0 and h[_GATE] != 0:
                    o[38] = 0  # engine_gate(False): GATE_ON, then CLR unless HELD
                    if o[39] == 0:
                        ptr32(o[40] + 4)[0] = 1 << o[41]
                    h[_GATE] = 0
                    if o[42] >= 0:  # the marker falls with the gate (Pin.value(0))
                        ptr32(o[40] + 4)[0] = 1 << o[42]
                old = h[_AMP]
                if amp != old:
                    if amp < 0 or amp > o[36]:
                        ctx[_C_LATCH]()  # dac_set_ua's refusal: the full path's latch
                        return
                    o[37] = amp  # rp2_regs.dac_set_ua, word for word
                    cmax = o[33]
                    code = 0
                    if amp > 0:
                        code = (amp - o[32]) * cmax // o[31]
                        if code < 0:
                            code = 0
                        elif code > cmax:
                            code = cmax
                    top1 = o[34]
                    hh = (code >> 8) * top1
                    q = hh // 65535
                    v = hh - q * 65535
                    o[13] = q * 256 + (v * 256 + (code & 0xFF) * top1 + 32767) // 65535
                    o[5] = code
                    if ((ptr32(o[14])[0] >> o[19]) & 1) == 0:
                        cc = ptr32(o[28])
                        sh = o[29]
                        cc[0] = (cc[0] & (~(0xFFFF << sh))) | (o[13] << sh)
                        o[12] = code
                        o[5] = -1
                    h[_PREV_AMP] = old
                    h[_AMP] = amp
                    if old > h[_HELD_HI]:
                        h[_HELD_HI] = old
                if g == 1 and h[_GATE] == 0:
                    o[38] = 1  # engine_gate(True): GATE_ON, then SET unless HELD
                    if o[39] == 0:
                        ptr32(o[40])[0] = 1 << o[41]
                    h[_GATE] = 1
                    h[_GATE_MS] = now
                    if o[42] >= 0:  # the marker rises with the gate (Pin.value(1))
                        ptr32(o[40])[0] = 1 << o[42]
                if kind >= _K_OFF:  # output_off's end
                    h[_NOM] = 0
                    h[_NOM_GATE] = 0
                    if kind == _K_STOPPED:
                        st = h[_STATE]  # Session.fire(EV_STOPPED, t)
                        nxt = tb[_TB_TABLE + st * _N_EVENTS + _EV_STOPPED]
                        if nxt != _NO_EVENT and nxt != st:
                            h[_STATE] = nxt
                            rw = ptr32(o[43])  # EventRing.put, inline (A_RING_W, A_RING_K)
                            size = rw[3]
                            span = rw[4]
                            hd = rw[0]
                            i = hd % size
                            rw[5 + i] = t
                            ptr8(o[44])[i] = nxt
                            hd = (hd + 1) % span
                            rw[0] = hd
                            if (hd - rw[1]) % span > size:
                                rw[1] = (rw[1] + 1) % span
                                n = rw[2]
                                if n < _WRAP:
                                    rw[2] = n + 1
                else:
                    h[_WORK] = due
                if ((_RUN_BITS >> h[_STATE]) & 1) == 0:
                    # look's tail when the session ended: PwmDac.apply (SYNC low: the level)
                    p = o[5]
                    if p >= 0 and ((ptr32(o[14])[0] >> o[19]) & 1) == 0:
                        cc = ptr32(o[28])
                        sh = o[29]
                        cc[0] = (cc[0] & (~(0xFFFF << sh))) | (o[13] << sh)
                        o[12] = p
                        o[5] = -1
                    return
                w = h[_WORK]
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
