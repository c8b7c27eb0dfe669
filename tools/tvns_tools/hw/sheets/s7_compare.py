"""Sheet 7: compliance / lead-off (U12 follower of the sink node, U13A headroom, U13B
impedance, U19D, the U15 flip-flop sampled at the end of phase A) and overcurrent (U14A)."""

import schemdraw.elements as elm

from .kit import Sheet, gate, ic_box, local_net, pico_pin

SP = 2.0  # column pitch of the dividers


def _divider(s, x, y_top, tops, bottom, node):
    """Resistors from named sources (tops: [(ref, value, source)]) meeting at `node`, one
    resistor from the node to GND; the node leaves to the right under its name."""
    y_node = y_top - 2.7
    for i, (ref, value, src) in enumerate(tops):
        xi = x + i * SP
        local_net(s, (xi, y_top), src, "up", 0.3)
        s.part(elm.Resistor().at((xi, y_top)).down().length(2.0), ref, value, loc="bottom")
        s.wire((xi, y_top - 2.0), (xi, y_node))
    x_end = x + (len(tops) - 1) * SP + 0.9
    s.wire((x, y_node), (x_end, y_node))
    s.dot((x, y_node))
    ref, value = bottom
    s.part(elm.Resistor().at((x, y_node)).down().length(2.0), ref, value, loc="bottom")
    s.gnd((x, y_node - 2.0))
    s.label((x_end + 0.1, y_node), node, "left", "center")


def _comparator(s, out_at, ref, plus, minus, pins, out_name):
    """A TLV3202 half facing right, + on top; inputs and output by net name."""
    op = s.add(elm.Opamp(leads=False).at(out_at).anchor("out").right().flip())
    a = op.absanchors
    local_net(s, a["in2"], plus, "left", 0.6)
    local_net(s, a["in1"], minus, "left", 0.6)
    s.pin(a["in2"], pins[0], "above", dx=-0.2)
    s.pin(a["in1"], pins[1], "below", dx=-0.2)
    s.pin(a["out"], pins[2], "above", dx=0.2)
    s.ref((a["center"][0], a["in1"][1] - 0.6), ref, "TLV3202", "center", "top")
    return a


def draw():
    s = Sheet(7, "compare", "Compliance and overcurrent comparators, compliance flip-flop")
    # ---- U12: follower of the sink node on VHV (reads it without taking load current)
    y12 = 18.0
    s.flag("SINK_D", (2.4, y12 - 0.62), "left", sheets=[4, 5])
    op = s.add(elm.Opamp(leads=False).at((7.0, y12)).anchor("out").right())
    a = op.absanchors
    s.wire((2.4, y12 - 0.62), a["in2"])
    x_fb = a["out"][0] + 0.4
    s.wire(a["in1"], (a["in1"][0] - 0.4, a["in1"][1]), (a["in1"][0] - 0.4, y12 + 1.5))
    s.wire((a["in1"][0] - 0.4, y12 + 1.5), (x_fb, y12 + 1.5), (x_fb, y12))
    s.wire(a["out"], (x_fb + 0.8, y12))
    s.dot((x_fb, y12))
    s.label((x_fb + 0.9, y12), "VDB", "left", "center")
    s.pin(a["in1"], 2, "above", dx=-0.2)
    s.pin(a["in2"], 3, "below", dx=-0.2)
    s.pin(a["out"], 6, "below", dx=0.2)
    s.ref((a["center"][0] + 1.6, y12 - 1.0), "U12", "OPA192", "left", "top")
    s.label((a["center"][0] + 1.6, y12 - 1.6), "supply: pin 7 VHV, pin 4 GND", "left", "top", 8)
    # ---- the dividers
    y_top = 14.2
    _divider(s, 1.6, y_top, [("Rk1", "100 kΩ", "VDB")], ("Rk2", "10.0 kΩ"), "VDK")
    _divider(
        s,
        4.6,
        y_top,
        [("Rh1", "110 kΩ", "VSB"), ("Rh2", "280 kΩ", "VREF")],
        ("Rh3", "11.5 kΩ"),
        "THR",
    )
    _divider(
        s,
        9.6,
        y_top,
        [("Rp1", "806 kΩ", "VDB"), ("Rp2", "11.8 kΩ", "VSB")],
        ("Rp3", "75.0 kΩ"),
        "PIMP",
    )
    _divider(s, 14.6, y_top, [("Rq1", "1.00 MΩ", "VHV")], ("Rq2", "12.4 kΩ"), "QIMP")
    # sources of the named nets from other sheets
    s.flag("VSB", (2.4, 21.0), "left", sheets=[6])
    local_net(s, (2.4, 21.0), "VSB", "right", 0.6)
    s.flag("VREF", (7.6, 21.0), "left", sheets=[3])
    local_net(s, (7.6, 21.0), "VREF", "right", 0.6)
    # ---- U13: headroom (A) and impedance (B), ORed (U19D)
    ca = _comparator(s, (23.0, 16.4), "U13A", "THR", "VDK", (3, 2, 1), "C_HR")
    cb = _comparator(s, (23.0, 12.6), "U13B", "QIMP", "PIMP", (5, 6, 7), "C_IMP")
    s.label((20.6, 18.4), "U13, U14 supply: pin 8 +3V3, pin 4 GND", "left", "bottom", 8)
    og = gate(s, "or", (26.4, 14.5), (12, 13, 11), "U19D", "74LVC32", label="below")
    s.wire(ca["out"], (ca["out"][0] + 0.5, ca["out"][1]), (ca["out"][0] + 0.5, og["in1"][1]))
    s.wire((ca["out"][0] + 0.5, og["in1"][1]), og["in1"])
    s.wire(cb["out"], (cb["out"][0] + 0.5, cb["out"][1]), (cb["out"][0] + 0.5, og["in2"][1]))
    s.wire((cb["out"][0] + 0.5, og["in2"][1]), og["in2"])
    s.label((ca["out"][0] + 0.6, ca["out"][1] + 0.12), "C_HR", "left", "bottom")
    s.label((cb["out"][0] + 0.1, cb["out"][1] - 0.12), "C_IMP", "left", "top")
    local_net(s, og["out"], "COMP", "right", 0.6)
    # ---- U15: COMP sampled at the end of phase A (rising edge of NOT DRV_A)
    pins = [("D", 2, "L", "2/2"), (">CLK", 1, "L", "1/2"), ("Q", 5, "R", "2/2")]
    pins += [("Q_n", 3, "R", "1/2"), ("PRE_n", 7, "T", "1/1"), ("CLR_n", 6, "B", "1/1")]
    u15 = ic_box(s, "U15", "74LVC1G74", (24.0, 6.6), (2.2, 2.2), pins, label=(25.6, 8.4))
    a15 = u15.absanchors
    local_net(s, a15["D"], "COMP", "left", 0.6)
    local_net(s, a15[">CLK"], "NDRA", "left", 0.6)
    local_net(s, a15["PRE_n"], "+3V3", "up", 0.3)
    local_net(s, a15["CLR_n"], "GATE", "down", 0.3)
    s.label((a15["Q_n"][0] + 0.1, a15["Q_n"][1]), "n.c.", "left", "center", 8)
    s.wire(a15["Q"], (27.0, a15["Q"][1]))
    s.part(elm.Resistor().at((27.0, a15["Q"][1])).right().length(1.6), "Rcompl", "1 kΩ", ofst=0.2)
    s.flag("COMPLIANCE", (28.6, a15["Q"][1]), "right", sheets=[1])
    s.label((28.0, a15["Q"][1] - 0.45), pico_pin("compliance"), "left", "top")
    # NDRA = NOT DRV_A (U8D); GATE clears the flag (U15 CLR is active low)
    s.flag("DRV_A", (15.6, 8.6), "left", sheets=[5])
    s.wire((15.6, 8.6), (16.4, 8.6))
    nd = gate(s, "not", (17.5, 8.6), (9, 8), "U8D", "74LVC04", label="below")
    local_net(s, nd["out"], "NDRA", "right", 0.6)
    s.flag("GATE", (15.6, 5.2), "left", sheets=[6])
    local_net(s, (15.6, 5.2), "GATE", "right", 0.6)
    # ---- U14A overcurrent: OC_OK low when VS > VOC (1.0975 V = 10.98 mA)
    co = _comparator(s, (6.4, 3.4), "U14A", "VOC", "VS", (3, 2, 1), "OC_OK")
    s.flag("VOC", (1.6, 5.6), "left", sheets=[3])
    local_net(s, (1.6, 5.6), "VOC", "right", 0.5)
    s.flag("VS", (1.6, 1.4), "left", sheets=[4])
    local_net(s, (1.6, 1.4), "VS", "right", 0.5)
    s.wire(co["out"], (9.4, co["out"][1]))
    s.dot((8.0, co["out"][1]))
    s.label((7.0, co["out"][1] + 0.15), "OC_OK", "left", "bottom")
    s.wire((8.0, co["out"][1]), (8.0, co["out"][1] - 1.6), (9.4, co["out"][1] - 1.6))
    s.flag("OC_OK", (9.4, co["out"][1] - 1.6), "right", sheets=[8])
    s.part(elm.Resistor().at((9.4, co["out"][1])).right().length(1.6), "Rocok", "1 kΩ", ofst=0.2)
    s.flag("OVERCURRENT", (11.0, co["out"][1]), "right", sheets=[1])
    s.label((11.0, co["out"][1] + 0.5), pico_pin("overcurrent"), "left", "bottom")
    s.note(
        (18.6, 4.2),
        "Compliance (GP15 high) = headroom OR impedance at the end of phase A, cleared "
        "while GATE is low. Headroom: the sink has under 0.8 V (VDK < THR, VDK = Vd/11). "
        "Impedance: the load needs more than 6.81 kΩ x I + 0.59 V (QIMP from VHV > PIMP): "
        "trips 10 kΩ from 0.18 mA up, never 2 kΩ. U14B spare: IN+ (5) to GND, IN- (6) to "
        "+3V3.",
        width=52,
    )
    return s
