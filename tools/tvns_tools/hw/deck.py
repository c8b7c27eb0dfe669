"""Build an ngspice deck for the reference stage (hardware/spice/stage.lib) from a stimulus:
the Pico's pins as PWL sources, one bench load, optional faults. Times in microseconds."""

from tvns_tools.firmware import ROOT

SPICE_DIR = ROOT / "hardware" / "spice"
V_LOGIC = 3.3
EDGE_US = 0.005  # 5 ns edges: an RP2040 GPIO into a few pF

# name -> (subcircuit, resistance for the report, parameters)
LOADS = {
    "500": ("LOAD_R", 500, "r=500"),
    "2k": ("LOAD_R", 2000, "r=2000"),
    "10k": ("LOAD_R", 10000, "r=10000"),
    "open": ("LOAD_OPEN", None, ""),
    "short": ("LOAD_R", 0, "r=0.01"),
    "skin": ("LOAD_SKIN", None, ""),
}
# Ear skin under gel electrodes, both sites lumped (hardware/DESIGN.md gives the sources).
SKIN = {"rs_ohm": 1000, "rp_ohm": 10000, "cp_nf": 220}
FAULTS = ("dac_stuck", "bridge_both_on")
# Faults only the tests and bring-up notes use (component failures inside the stage).
INTERNAL_FAULTS = ("setpoint_short", "sink_short")

# Vectors written by every run (column names in the data file).
PROBES = (
    ("i_ma", "i(viel)*1000"),
    ("v_load", "v(e1)-v(e2)"),
    ("pa", "v(pa)"),
    ("pb", "v(pb)"),
    ("adc0", "v(adc0)"),
    ("compl", "v(compl)"),
    ("killn", "v(killn)"),
    ("ocok", "v(ocok)"),
    ("esq", "v(esq)"),
    ("lq", "v(lq)"),
    ("vd", "v(x1.d)"),
    ("vs", "v(x1.vs)"),
    ("pimp", "v(x1.pimp)"),
    ("qimp", "v(x1.qimp)"),
    ("vdk", "v(x1.vdk)"),
    ("thr", "v(x1.thr)"),
    ("c1a", "v(x1.c1a)"),
    ("c2a", "v(x1.c2a)"),
)


class Stimulus:
    """What the Pico (and the bench) do during one stretch.

    pulses: [(start_us, amp_ua, width_us, gap_us)] as the pulse engine emits them;
    dac: [(t_us, volts)] PWM average after each write (first entry = value at t = 0);
    estop_open: [(t_open_us, t_close_us or None)]; lrstn: None = JP1 fitted (follow mode),
    else [(t_us, level)] for the latch reset line; power_up_us: ramp the 3.3 V rail."""

    def __init__(self, end_us, pulses, dac, gate=True):
        self.end_us = end_us
        self.pulses = list(pulses)
        self.dac = list(dac) or [(0, 0.0)]
        self.gate = gate
        self.estop_open = []
        self.lrstn = None
        self.power_up_us = None
        self.fault = None
        self.label = ""


def _pwl(points):
    """[(t_us, v)] steps -> PWL text with EDGE_US transitions, strictly increasing times."""
    out = []
    last_t = -1.0
    level = None
    for t_us, v in points:
        if level is None:
            out.append((0.0, v))
            last_t = 0.0
            level = v
            if t_us <= 0:
                continue
        if v == level:
            continue
        t0 = max(t_us, last_t + EDGE_US / 10)
        out.append((t0, level))
        out.append((t0 + EDGE_US, v))
        last_t = t0 + EDGE_US
        level = v
    return "PWL(" + " ".join("%.10gu %.6g" % (t, v) for t, v in out) + ")"


def phase_levels(pulses, both_on=False):
    """Step lists for phase A, phase B and SYNC from the pulses."""
    a, b, s = [(0, 0.0)], [(0, 0.0)], [(0, 0.0)]
    hi = V_LOGIC
    for start, _amp, width, gap in pulses:
        a_end = start + width
        b_start = a_end + gap
        b_end = b_start + width
        if both_on:  # a stuck or shorted driver: both inputs high for each phase
            a += [(start, hi), (a_end, 0.0), (b_start, hi), (b_end, 0.0)]
            b += [(start, hi), (a_end, 0.0), (b_start, hi), (b_end, 0.0)]
        else:
            a += [(start, hi), (a_end, 0.0)]
            b += [(b_start, hi), (b_end, 0.0)]
        s += [(start, hi), (b_end, 0.0)]
    return a, b, s


def tmax_us(stim):
    widths = [p[2] for p in stim.pulses] or [250]
    return max(1.0, min(20.0, min(widths) / 10))


def build(stim, load, data_path):
    """The deck text. data_path: where ngspice writes the probe table (wrdata)."""
    sub, _r, params = LOADS[load]
    if sub == "LOAD_SKIN":
        params = "rs=%g rp=%g cp=%gn" % (SKIN["rs_ohm"], SKIN["rp_ohm"], SKIN["cp_nf"])
    fault = stim.fault
    a, b, s = phase_levels(stim.pulses, both_on=fault == "bridge_both_on")
    dac = [(0, V_LOGIC)] if fault == "dac_stuck" else stim.dac
    stage_params = "fault_set=%d fault_sink=%d" % (
        fault == "setpoint_short",
        fault == "sink_short",
    )
    est = [(0, 0.0)]
    for t_open, t_close in stim.estop_open:
        est.append((t_open, 1.0))
        if t_close is not None:
            est.append((t_close, 0.0))
    lr = [(0, 0.0)] if stim.lrstn is None else stim.lrstn
    gate = [(0, V_LOGIC if stim.gate else 0.0)]
    if stim.power_up_us:
        v3 = "PWL(0 0 %gu %g)" % (stim.power_up_us, V_LOGIC)
    else:
        v3 = "%g" % V_LOGIC
    lines = [
        "* tvns hw: reference stage OS-1 %s, load %s" % (stim.label, load),
        ".include %s" % (SPICE_DIR / "models.lib"),
        ".include %s" % (SPICE_DIR / "stage.lib"),
        "Vhv vhv_s 0 30",
        "Rhv vhv_s vhv 1",
        "Chv vhv 0 10u",
        "V5 v5 0 5",
        "V3 v3 0 %s" % v3,
        "Vpa pa 0 %s" % _pwl(a),
        "Vpb pb 0 %s" % _pwl(b),
        "Vsync sync 0 %s" % _pwl(s),
        "Vgate gate 0 %s" % _pwl(gate),
        "Vpwm pwm 0 %s" % _pwl(dac),
        "Vlr lrstn 0 %s" % _pwl(lr),
        "Ves estop_open 0 %s" % _pwl(est),
        "X1 pa pb sync gate pwm killn compl esq ocok adc0 lrstn lq e1 e2 vhv v5 v3 estop_open"
        " TVNS_STAGE params: %s" % stage_params,
        "Viel e1 el 0",
        "XL el e2 %s%s" % (sub, " params: " + params if params else ""),
        ".tran 0.1u %gu 0 %gu" % (stim.end_us, tmax_us(stim)),
        ".control",
        "set wr_singlescale",
        "set wr_vecnames",
        "option numdgt=7",
        "run",
        "wrdata %s %s" % (data_path, " ".join(expr for _n, expr in PROBES)),
        ".endc",
        ".end",
    ]
    return "\n".join(_wrap(line) for line in lines) + "\n"


def _wrap(line, width=200):
    """ngspice reads long lines, but continuation lines keep decks readable."""
    if len(line) <= width:
        return line
    words = line.split(" ")
    out, cur = [], ""
    for w in words:
        if cur and len(cur) + len(w) + 1 > width:
            out.append(cur)
            cur = "+ " + w
        else:
            cur = w if not cur else cur + " " + w
    out.append(cur)
    return "\n".join(out)


def dac_volts(amp_ua, config):
    """PWM average the firmware's own DAC calibration writes for amp_ua (pico.json)."""
    from tvns_tools.firmware import import_firmware

    import_firmware()
    from tvns.board.rp2_dac import _DacBase

    dac = _DacBase(config["dac"], config["ceiling_ua"], 65535, None, None)
    return dac.code_for(amp_ua) / 65535 * V_LOGIC


def staircase(amps_ua, width_us=250, gap_us=20, period_us=10000, config=None):
    """A bench stimulus: one pulse per amplitude, the DAC written 1 ms after each pulse."""
    pulses, dac = [], []
    t = 1000
    for k, amp in enumerate(amps_ua):
        pulses.append((t, amp, width_us, gap_us))
        v = dac_volts(amp, config)
        dac.append((0 if k == 0 else t - period_us + 2 * width_us + gap_us + 1000, v))
        t += period_us
    return Stimulus(t - period_us + max(4000, 2 * width_us + gap_us + 2000), pulses, dac)
