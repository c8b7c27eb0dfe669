"""The control tick's monitors where `make mutation` found them untested after the split
(issue 18, branch mut9): the under-current lead-off's time since the gate opened, an inline
ticks_diff, at every distance from the ms wrap (test_tick_mutants.py checks the other inline
ticks_diff sites the same way). Plain asserts on test_tick_rules' recording board through
the Scheduler: they state behaviour, whatever shape the tick's code takes."""

from test_tick_mutants import _EDGES, _cases
from test_tick_rules import _MASK, P, _make, _monitor, _on
from tvns import safety as F


def test_under_current_lead_off_waits_a_period_from_the_gate_at_every_distance_from_the_wrap():
    """A sense far under half the setpoint is a lead-off only once the gate has been open
    for more than a pulse period (the first pulse may not have run yet): that time is
    ticks_diff(now, gate_on_ms), the same on both sides of the ms wrap and its half-way
    point as far from them."""
    period_ms = 40  # P(): 25 Hz
    for now, gate_ms, v in _cases(_EDGES + (period_ms, period_ms + 1)):
        board, s, sch = _on()
        assert sch.period_ms == period_ms and sch.amp_ua == 1000
        sch.prev_amp_ua = 1000
        sch.gate_on_ms = gate_ms
        board.sense.ua = 0  # the source cannot drive the setpoint into this load
        _monitor(sch, now, 500)
        lead_off = v > period_ms
        assert sch.fault_code == (F.LEAD_OFF if lead_off else F.NONE), (now, gate_ms, v)


def _trace(p, start, end, stop_at=None):
    """Every tick's commands and deadlines, by session time, of a session of p started at
    ticks_ms start (deadlines as distances from the start: the same on both sides of the
    wrap), ticked every ms. Every deadline is a ticks_ms value, 0 .. 2**30 - 1 (past it, a
    heap int on the board; the tick's readers would take it modulo the period unseen)."""
    board, s, sch = _make(p)
    board.clock.ms = start
    sch.start()
    out = []
    for t in range(1, end):
        board.clock.ms = (start + t) & _MASK
        if t == stop_at:
            sch.stop()
        sch.tick()
        assert 0 <= sch.work_ms <= _MASK and 0 <= sch.due_ms <= _MASK, (start, t)
        work = (sch.work_ms - start) & _MASK
        due = (sch.due_ms - start) & _MASK
        out.append((t, s.state, sch.amp_ua, sch.gate_on, sch.nom_ua, work, due))
    return out


def test_ramp_steps_held_a_period_apart_run_across_the_ms_wrap_as_far_from_it():
    """Ramps faster than the pulse period (10 steps in 100 ms or 300 ms, 40 ms periods): a
    step up waits a whole period after the last, its due time an inline ticks_add from now
    (the rest of the wait, or a whole period); and a stop's ramp (10 ms steps from the
    session's start). Sessions whose ms counter wraps at, just before or just after each of
    those deadlines make the same commands, at the same session times, with the same
    deadlines, as one started at 1000."""
    for p, stop_at, nom in ((P(ramp_up_ms=100), None, 1000), (P(ramp_up_ms=300), None, 1000),
                            (P(), 530, 0)):  # fmt: skip
        far = _trace(p, 1000, 700, stop_at)
        assert far[-1][4] == nom  # (the ramp reached the target, a period a step; the stop 0)
        deadlines = {work for _t, _s, _a, _g, _n, work, _d in far}
        assert len(deadlines) > 10
        for before_wrap in sorted({d + k for d in deadlines for k in (-1, 0, 1, 2)}):
            near = _trace(p, (_MASK + 1 - before_wrap) & _MASK, 700, stop_at)
            diff = [(a, b) for a, b in zip(far, near) if a != b]
            assert not diff, (p.ramp_up_ms, stop_at, before_wrap, diff[:3])
