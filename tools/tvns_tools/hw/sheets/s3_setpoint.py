"""Sheet 3: the setpoint (PWM -> 2-pole RC -> divider), the hardware current limit (U2B + D2)
and the reference (U5) with its threshold dividers."""

import schemdraw.elements as elm

from .kit import Sheet, pico_pin

Y = 16.5  # the setpoint path


def draw():
    s = Sheet(3, "setpoint", "Setpoint, hardware current limit, reference")
    # ---- PWM in, pull-down, 2-pole RC, divider 1/3.3
    s.flag("DAC_PWM", (2.6, Y), "left", sheets=[1])
    s.label((0.8, Y + 0.6), pico_pin("dac_pwm") + ", PWM 30 kHz 0-3.3 V", "left", "bottom")
    s.wire((2.6, Y), (5.2, Y))
    s.dot((3.6, Y))
    s.part(elm.Resistor().at((3.6, Y)).down().length(2.4), "Rpd_pwm", "10 kΩ", loc="bottom")
    s.gnd((3.6, Y - 2.4))
    s.part(elm.Resistor().at((5.2, Y)).right(), "R1", "1.00 kΩ", ofst=0.25)
    s.wire((7.2, Y), (8.8, Y))
    s.dot((7.8, Y))
    s.part(elm.Capacitor().at((7.8, Y)).down().length(2.4), "C1", "100 nF", loc="bottom")
    s.gnd((7.8, Y - 2.4))
    s.part(elm.Resistor().at((8.8, Y)).right(), "R2", "1.30 kΩ", ofst=0.25)
    s.wire((10.8, Y), (14.0, Y))
    s.dot((11.4, Y))
    s.part(elm.Capacitor().at((11.4, Y)).down().length(2.4), "C2", "100 nF", loc="bottom")
    s.gnd((11.4, Y - 2.4))
    s.dot((13.0, Y))
    s.part(elm.Resistor().at((13.0, Y)).down().length(2.4), "R3", "1.00 kΩ", loc="bottom")
    s.gnd((13.0, Y - 2.4))
    s.label((12.2, Y + 0.2), "VSET", "center", "bottom")
    s.part(elm.Resistor().at((14.0, Y)).right(), "R4", "10.0 kΩ", ofst=0.25)
    # ---- VSETC: the clamped setpoint, out to the sink (sheet 4)
    xn = 17.0
    s.wire((16.0, Y), (24.0, Y))
    s.dot((xn, Y))
    s.label((21.5, Y + 0.2), "VSETC", "center", "bottom")
    s.flag("VSETC", (24.0, Y), "right", sheets=[4])
    # ---- limiter: U2B (facing left, - on top) pulls VSETC down through D2 above VLIM
    s.part(elm.Diode().at((xn, Y)).down().length(2.0), "D2", "BAS416", loc="top")
    yo = Y - 3.2
    s.wire((xn, Y - 2.0), (xn, yo))
    op = s.add(elm.Opamp(leads=False).at((xn, yo)).anchor("out").left().flip())
    a = op.absanchors
    s.ref((xn - 0.4, yo - 0.5), "U2B", "OPA2189", "right", "top")
    s.pin(a["in1"], 6, "above", dx=0.3)
    s.pin(a["in2"], 5, "below", dx=0.3)
    s.pin(a["out"], 7, "below", dx=-0.3)
    x_minus, x_lim = a["in1"][0] + 1.0, a["in1"][0] + 0.5
    s.wire(a["in1"], (x_minus, a["in1"][1]), (x_minus, Y))
    s.dot((x_minus, Y))
    # supplies of U2 (both halves): pin 8 +5V, pin 4 GND
    s.rail(a["vd"], "+5V", lead=0.25)
    s.pin((a["vd"][0], a["vd"][1] + 0.12), 8, "right")
    s.gnd(a["vs"], lead=0.3)
    s.pin((a["vs"][0], a["vs"][1] - 0.12), 4, "right")
    # ---- reference: +3V3 -> Rref -> VREF (U5 2.048 V) -> dividers
    yr = 10.4
    xl, xr, xo = 21.0, 23.6, 26.6
    s.rail((xr, yr + 2.0), "+3V3", lead=0.2)
    s.part(elm.Resistor().at((xr, yr + 2.0)).down(), "Rref", "1.00 kΩ", loc="bottom")
    s.dot((xr, yr))
    s.add(elm.Zener().at((xr, yr - 2.4)).up().length(2.4))
    s.ref((xr + 0.45, yr - 1.2), "U5", "LM4040A20\n2.048 V 0.1 %")
    s.gnd((xr, yr - 2.4))
    s.label((xr - 0.15, yr + 0.2), "VREF", "right", "bottom")
    s.wire((xl, yr), (28.6, yr))
    # Rl1 / Rl2 -> VLIM (1.049 V) -> U2B +
    s.dot((xl, yr))
    s.part(elm.Resistor().at((xl, yr)).down().length(2.2), "Rl1", "9.53 kΩ", loc="bottom")
    s.part(elm.Resistor().at((xl, yr - 3.4)).down().length(2.2), "Rl2", "10.0 kΩ", loc="bottom")
    s.wire((xl, yr - 2.2), (xl, yr - 3.4))
    y_lim = yr - 2.8
    s.dot((xl, y_lim))
    s.gnd((xl, yr - 5.6))
    s.label((x_lim - 0.15, y_lim + 0.15), "VLIM\n1.049 V", "right", "bottom")
    s.wire((xl, y_lim), (x_lim, y_lim), (x_lim, a["in2"][1]), a["in2"])
    # Ro1 / Ro2 -> VOC (1.0975 V) -> sheet 7
    s.dot((xo, yr))
    s.part(elm.Resistor().at((xo, yr)).down().length(2.2), "Ro1", "8.66 kΩ", loc="bottom")
    s.part(elm.Resistor().at((xo, yr - 3.4)).down().length(2.2), "Ro2", "10.0 kΩ", loc="bottom")
    s.wire((xo, yr - 2.2), (xo, yr - 3.4))
    s.dot((xo, y_lim))
    s.gnd((xo, yr - 5.6))
    s.wire((xo, y_lim), (28.6, y_lim))
    s.flag("VOC", (28.6, y_lim), "right", sheets=[7])
    s.flag("VREF", (28.6, yr), "right", sheets=[7])
    s.note(
        (1.0, 10.6),
        "Setpoint: the PWM average (0-3.3 V) through two RC poles (1.59 kHz each) and the "
        "1/3.3 divider R2-R3 gives VSET = 0-1.000 V, 1.000 V = 10.00 mA (pico.json "
        "dac.full_scale_ua 10000).\n"
        "Limit: above VLIM = 1.049 V (10.49 mA) U2B's output falls and D2 holds VSETC "
        "down, whatever the DAC, the filter or a short to a rail before R4 do; a failed U2A "
        "or Q1 is caught by the overcurrent comparator (VOC = 1.0975 V = 10.98 mA, sheet 7).\n"
        "Rpd_pwm: reset, boot or an unplugged Pico leave the setpoint at 0 (rule 3).\n"
        "Netlist only, not fitted: Rfs (the fault_set hook that shorts VSET to 5 V).",
        width=62,
    )
    return s
