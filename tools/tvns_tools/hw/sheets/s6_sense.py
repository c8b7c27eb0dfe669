"""Sheet 6: the sense path: U9A follower of VS, sample (U10) during phase A, hold (Chold),
clear (U11) while GATE is low, U9B buffer, RC into ADC0."""

import schemdraw.elements as elm

from .kit import Sheet, ic_box, local_net, pico_pin

Y = 13.0


def _follower(s, out_at, ref, pins):
    """A unity-gain follower facing right (- on top, tied to the output); returns anchors."""
    op = s.add(elm.Opamp(leads=False).at(out_at).anchor("out").right())
    a = op.absanchors
    x_fb = a["out"][0] + 0.4
    y_top = a["in1"][1] + 0.9
    x_l = a["in1"][0] - 0.4
    s.wire(a["in1"], (x_l, a["in1"][1]), (x_l, y_top), (x_fb, y_top), (x_fb, a["out"][1]))
    s.dot((x_fb, a["out"][1]))
    s.pin(a["in1"], pins[0], "above", dx=-0.2)
    s.pin(a["in2"], pins[1], "below", dx=-0.2)
    s.pin(a["out"], pins[2], "below", dx=0.2)
    s.ref((a["center"][0] - 0.1, a["in2"][1] - 0.55), ref, "TLV9062", "center", "top")
    return a


def draw():
    s = Sheet(6, "sense", "Sense: follower, sample-and-hold, ADC0")
    s.flag("VS", (2.4, Y), "left", sheets=[4])
    a = _follower(s, (7.4, Y + 0.62), "U9A", (2, 3, 1))
    s.wire((2.4, Y), a["in2"])
    s.label(
        (a["center"][0] - 0.1, a["in2"][1] - 1.5),
        "U9 supply: pin 8 +3V3,\npin 4 GND",
        "center",
        "top",
        8,
    )
    y_o = a["out"][1]
    s.wire(a["out"], (9.6, y_o))
    s.dot((8.8, y_o))
    s.label((8.9, y_o - 0.12), "VSB", "left", "top")
    s.wire((8.8, y_o), (8.8, y_o + 3.0))
    s.flag("VSB", (8.8, y_o + 3.0), "right", sheets=[7])
    s.part(elm.Resistor().at((9.6, y_o)).right().length(2.0), "Riso", "100 Ω", ofst=0.2)
    # ---- U10 sample switch (closed while DRV_A is high)
    pins = [("D", 1, "L", "1/1"), ("S", 2, "R", "1/1"), ("SEL", 4, "B", "1/2")]
    pins += [("GND", 3, "B", "2/2"), ("VDD", 5, "T", "1/1")]
    u10 = ic_box(s, "U10", "TMUX1101", (13.6, y_o), (2.0, 1.4), pins, label=(12.0, y_o + 1.6))
    a10 = u10.absanchors
    s.wire((11.6, y_o), a10["D"])
    local_net(s, a10["SEL"], "DRV_A", "down")
    s.gnd(a10["GND"])
    s.rail(a10["VDD"], "+3V3")
    s.flag("DRV_A", (11.0, y_o - 4.0), "left", sheets=[5])
    local_net(s, (11.0, y_o - 4.0), "DRV_A", "right", 0.6)
    # ---- HOLD node: Chold, U11 clear switch (closed while GATE is low), U9B
    x_h = 17.4
    s.wire(a10["S"], (x_h + 2.0, y_o))
    s.dot((x_h, y_o))
    s.label((x_h - 0.1, y_o + 0.12), "HOLD", "right", "bottom")
    s.part(elm.Capacitor().at((x_h, y_o)).down().length(2.0), "Chold", "10 nF C0G", loc="top")
    s.gnd((x_h, y_o - 2.0))
    x_r = x_h + 1.4
    s.dot((x_r, y_o))
    pins = [("D", 1, "T", "1/1"), ("S", 2, "B", "1/2"), ("GND", 3, "B", "2/2")]
    pins += [("SEL", 4, "L", "1/1"), ("VDD", 5, "R", "1/1")]
    u11 = ic_box(
        s, "U11", "TMUX1102", (x_r + 0.5, y_o - 2.6), (1.6, 1.6), pins, label=(x_r + 1.5, y_o - 3.7)
    )
    a11 = u11.absanchors
    s.wire((x_r, y_o), (x_r, a11["D"][1] + 0.01)) if abs(a11["D"][0] - x_r) < 0.01 else s.wire(
        (x_r, y_o), (x_r, y_o - 0.8), (a11["D"][0], y_o - 0.8), a11["D"]
    )
    s.gnd(a11["S"])
    s.gnd(a11["GND"])
    local_net(s, a11["SEL"], "GATE", "left")
    local_net(s, a11["VDD"], "+3V3", "right")
    b = _follower(s, (x_h + 4.8, y_o + 0.62), "U9B", (6, 5, 7))
    s.wire((x_h + 2.0, y_o), b["in2"])
    # ---- ADC0 filter and out to the controller
    y_b = b["out"][1]
    s.wire(b["out"], (x_h + 5.6, y_b))
    s.part(elm.Resistor().at((x_h + 5.6, y_b)).right().length(2.0), "Radc", "1.00 kΩ", ofst=0.2)
    s.wire((x_h + 7.6, y_b), (29.0, y_b))
    s.dot((x_h + 8.4, y_b))
    s.part(elm.Capacitor().at((x_h + 8.4, y_b)).down().length(2.0), "Cadc", "1 nF", loc="bottom")
    s.gnd((x_h + 8.4, y_b - 2.0))
    s.flag("ADC0", (29.0, y_b), "right", sheets=[1])
    s.label((27.0, y_b + 0.15), pico_pin("sense_adc"), "left", "bottom")
    # ---- GATE from the controller, pulled down
    y_g = 6.0
    s.flag("GATE", (2.4, y_g), "left", sheets=[1])
    s.label((0.7, y_g + 0.45), pico_pin("gate"), "left", "bottom")
    s.wire((2.4, y_g), (6.0, y_g))
    s.dot((3.4, y_g))
    s.part(elm.Resistor().at((3.4, y_g)).down().length(1.6), "Rpd_gate", "10 kΩ", loc="bottom")
    s.gnd((3.4, y_g - 1.6))
    s.flag("GATE", (6.0, y_g), "right", sheets=[7])
    s.dot((5.0, y_g))
    local_net(s, (5.0, y_g), "GATE", "up", 0.5)
    s.note(
        (1.0, 21.2),
        "ADC0 reads I x 100 Ω x 1 held from the last phase A (pico.json sense.r_ohms 100, "
        "amp_gain 1, vref_mv 3300): 1 mA reads 0.100 V. U10 samples while DRV_A is high; "
        "Chold keeps the value until the next pulse (C0G, pA switch leakage: no droop at "
        "1 Hz); U11 clears it while GATE is low, so a stopped train reads 0. A sample-and-"
        "hold, not a bleeding peak detector: at 1 Hz a 50 ms bleed would read 0 and trip "
        "the under-current monitor. U9 supply pins 8 (+3V3) and 4 (GND) as drawn on U9A.",
        width=90,
    )
    return s
