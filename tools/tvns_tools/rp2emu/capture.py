"""Logic-analyser capture of the emulated chip's output pins: every level change of the
phase A / phase B / sync / gate GPIOs with its emulated time (ns), from rp2040py's GPIO
listeners; and the pulse analysis the tests and tvns emulate share.

Timing resolution is the emulator's: 8 ns (one clk_sys cycle at 125 MHz). The PIO itself is
cycle-exact, but an edge it makes while the CPU sleeps (WFE) is timestamped when the
emulator next looks, 1.6-1.8 us late at most (../shared/rp2/README.md); EDGE_TOL_NS covers
that. See docs/EMULATOR.md.
"""

EDGE_TOL_NS = 2000  # the emulator's stated edge tolerance (late edges while the CPU sleeps)
PINS = ("phase_a", "phase_b", "sync", "gate")


class EdgeCapture:
    def __init__(self, emu, gpios):
        """gpios: {name: GPIO number}, e.g. the stage's phase_a/phase_b/sync/gate."""
        self.emu = emu
        self.gpios = {k: v for k, v in gpios.items() if v is not None}
        self.edges = []  # (t_ns, name, level 0/1), in time order
        self.level = {}
        self._undo = []

    def start(self):
        self.emu.call(self._start)
        return self

    def _start(self):
        from rp2040py.gpio_pin import GPIOPinState

        high = GPIOPinState.HIGH
        stamp = self.emu.edge_ns
        for name, g in self.gpios.items():
            io = self.emu.mcu.gpio[g]
            self.level[name] = 1 if io.value == high else 0

            def on_change(value, _old, name=name):
                lv = 1 if value == high else 0
                if lv != self.level[name]:
                    self.level[name] = lv
                    self.edges.append((stamp(), name, lv))

            self._undo.append(io.add_listener(on_change))

    def stop(self):
        def _stop():
            for undo in self._undo:
                undo()
            self._undo = []

        self.emu.call(_stop)

    def snapshot(self, since_ns=0, until_ns=None):
        """Edges in [since_ns, until_ns), a copy taken on the engine thread."""

        def _take():
            return [
                e for e in self.edges if e[0] >= since_ns and (until_ns is None or e[0] < until_ns)
            ]

        return self.emu.call(_take)

    def rising(self, name, since_ns=0, until_ns=None):
        return [t for t, n, lv in self.snapshot(since_ns, until_ns) if n == name and lv == 1]


def intervals(edges, name, end_ns=None):
    """[(t_high, t_low)] of one pin from an edge list (a pin still high ends at end_ns)."""
    out, t_high = [], None
    for t, n, lv in edges:
        if n != name:
            continue
        if lv and t_high is None:
            t_high = t
        elif not lv and t_high is not None:
            out.append((t_high, t))
            t_high = None
    if t_high is not None:
        out.append((t_high, end_ns))
    return out


def overlaps(edges):
    """Moments (ns) where phase A and phase B were high together (must be none)."""
    a_high = b_high = False
    bad = []
    for t, n, lv in edges:
        if n == "phase_a":
            a_high = bool(lv)
        elif n == "phase_b":
            b_high = bool(lv)
        else:
            continue
        if a_high and b_high:
            bad.append(t)
    return bad


def pulses(edges):
    """Biphasic pulses from the edge list: dicts with t_ns (phase A start), width_a_ns,
    gap_ns, width_b_ns, end_ns; a pulse cut short has width_b_ns None."""
    a = intervals(edges, "phase_a")
    b = intervals(edges, "phase_b")
    out = []
    j = 0
    for t_a, t_a_end in a:
        while j < len(b) and b[j][0] < t_a:
            j += 1
        pulse = {"t_ns": t_a, "width_a_ns": None if t_a_end is None else t_a_end - t_a}
        nxt_a = None
        for t2, _ in a:
            if t2 > t_a:
                nxt_a = t2
                break
        if j < len(b) and t_a_end is not None and (nxt_a is None or b[j][0] < nxt_a):
            t_b, t_b_end = b[j]
            pulse.update(
                gap_ns=t_b - t_a_end,
                width_b_ns=None if t_b_end is None else t_b_end - t_b,
                end_ns=t_b_end,
            )
        else:
            pulse.update(gap_ns=None, width_b_ns=None, end_ns=t_a_end)
        out.append(pulse)
    return out


def level_at(edges, name, t_ns, initial=0):
    """The level of one pin at t_ns, from the edge list."""
    lv = initial
    for t, n, v in edges:
        if t > t_ns:
            break
        if n == name:
            lv = v
    return lv


def output_off_at(edges, after_ns):
    """First time at or after after_ns from which neither phase goes high again and both
    are low (None if a phase is still high or rises later)."""
    last_rise = None
    for t, n, lv in edges:
        if n in ("phase_a", "phase_b") and lv == 1 and t >= after_ns:
            last_rise = t
    a = level_at(edges, "phase_a", float("inf"))
    b = level_at(edges, "phase_b", float("inf"))
    if a or b:
        return None
    falls = [t for t, n, lv in edges if n in ("phase_a", "phase_b") and lv == 0 and t >= after_ns]
    if last_rise is None:
        return falls[0] if falls and falls[0] >= after_ns else after_ns
    later = [t for t in falls if t > last_rise]
    return later[-1] if later else None
