"""Sheet 4: the current sink (U2A + Q1 + Rset, I = VSETC / 100 ohm), its phase gating (U3,
U4) and the setpoint delay that makes PHD (Rda/Cda/Dda/U22, Rdb/Cdb/Ddb/U23, U19B)."""

import schemdraw.elements as elm

from .kit import Sheet, ic_box, local_net

SW_PINS = "TS5A3157 pin numbers as the SN74LVC1G3157 footprint it replaces (DBV)"


def _switch(s, ref, center, left, right, label):
    """A TS5A3157 as a box: left/right = [(name, pin)] on that side; IN at the bottom."""
    pins = [(n, p, "L", "%d/%d" % (i + 1, len(left))) for i, (n, p) in enumerate(left)]
    pins += [(n, p, "R", "1/1") for n, p in right]
    pins += [("IN", 6, "B", "1/1"), ("V+", 5, "T", "1/1")]
    return ic_box(s, ref, "TS5A3157", center, (2.0, 1.6), pins, label=label)


def _delay(s, y, name, r, c, dio, u):
    """DRV_x -> R (Schottky across it) -> C to GND -> Schmitt buffer: 0.7 us late on the
    rising edge, at once on the falling one."""
    s.flag(name, (2.4, y), "left", sheets=[5])
    s.wire((2.4, y), (4.0, y))
    s.dot((3.4, y))
    s.part(elm.Resistor().at((4.0, y)).right(), r, "1.00 kΩ", loc="bottom", ofst=0.2)
    s.wire((3.4, y), (3.4, y + 0.9), (4.0, y + 0.9))
    s.part(elm.Diode().at((6.0, y + 0.9)).left(), dio, "BAT54", ofst=0.15)
    s.wire((6.0, y + 0.9), (6.6, y + 0.9), (6.6, y))
    s.wire((6.0, y), (7.8, y))
    s.dot((6.6, y))
    s.dot((7.2, y))
    s.part(elm.Capacitor().at((7.2, y)).down().length(1.0), c, "680 pF", loc="bottom")
    s.gnd((7.2, y - 1.0))
    from schemdraw import logic

    s.wire((7.8, y), (9.0, y))
    b = s.add(logic.Schmitt().at((9.0, y)).anchor("in1").right())
    s.pin((8.75, y), 2, "above")
    end = (b.absanchors["out"][0] + 0.4, y)
    s.wire(b.absanchors["out"], end)
    s.pin((end[0] - 0.15, y), 4, "above")
    s.ref((b.absanchors["in1"][0] + 0.5, y - 0.55), u, "74LVC1G17", "center", "top")
    return end


def draw():
    s = Sheet(4, "sink", "Current sink and phase gating")
    # ---- U3: the setpoint reaches U2A only while a phase is driven (PHD)
    y_set = 14.0
    u3 = _switch(s, "U3", (7.4, y_set - 0.4), [("NC", 3), ("NO", 1)], [("COM", 4)], (8.7, 15.2))
    a3 = u3.absanchors
    s.flag("VSETC", (2.4, a3["NO"][1]), "left", sheets=[3])
    s.wire((2.4, a3["NO"][1]), a3["NO"])
    s.wire(a3["NC"], (a3["NC"][0] - 0.4, a3["NC"][1]), (a3["NC"][0] - 0.4, a3["NC"][1] - 0.7))
    s.gnd((a3["NC"][0] - 0.4, a3["NC"][1] - 0.7))
    local_net(s, a3["IN"], "PHD", "down")
    s.rail(a3["V+"], "+5V")
    # ---- U2A (+ on top): VSETC -> SETG -> U2A -> Rg -> Q1 gate
    x_out, y_out = 14.4, 13.4
    op = s.add(elm.Opamp(leads=False).at((x_out, y_out)).anchor("out").right().flip())
    a = op.absanchors
    s.ref((a["center"][0] - 0.2, y_out + 1.0), "U2A", "OPA2189", "center", "bottom")
    s.pin(a["in2"], 3, "above", dx=-0.3)
    s.pin(a["in1"], 2, "below", dx=-0.3)
    s.pin(a["out"], 1, "above", dx=0.3)
    s.wire(
        a3["COM"], (a3["COM"][0] + 0.6, a3["COM"][1]), (a3["COM"][0] + 0.6, a["in2"][1]), a["in2"]
    )
    s.label((a3["COM"][0] + 0.75, a["in2"][1] + 0.12), "SETG", "left", "bottom")
    # FB node: - input, Cc and U4 to the output, Rfb to VS
    x_fb = a["in1"][0] - 0.7
    x_o = x_out + 0.8
    y_cc, y_u4, y_rfb = 10.6, 8.4, 6.0
    s.wire(a["in1"], (x_fb, a["in1"][1]), (x_fb, y_rfb))
    s.dot((x_fb, y_cc))
    s.dot((x_fb, y_u4))
    s.label((x_fb - 0.12, a["in1"][1] - 0.1), "FB", "right", "top")
    s.wire(a["out"], (x_o + 1.0, y_out))
    s.dot((x_o, y_out))
    s.wire((x_o, y_out), (x_o, y_u4))
    s.dot((x_o, y_cc))
    s.wire((x_fb, y_cc), (x_fb + 0.6, y_cc))
    s.part(elm.Capacitor().at((x_fb + 0.6, y_cc)).right().length(1.6), "Cc", "10 pF", ofst=0.2)
    s.wire((x_fb + 2.2, y_cc), (x_o, y_cc))
    u4 = _switch(
        s,
        "U4",
        ((x_fb + x_o) / 2, y_u4),
        [("NC", 3)],
        [("COM", 4)],
        ((x_fb + x_o) / 2 + 1.3, y_u4 - 0.9),
    )
    a4 = u4.absanchors
    s.wire((x_fb, y_u4), a4["NC"])
    s.wire(a4["COM"], (x_o, y_u4))
    local_net(s, a4["IN"], "PHD", "down", 0.3)
    s.rail(a4["V+"], "+5V", lead=0.0)
    s.part(elm.Resistor().at((x_fb, y_rfb)).right().length(2.0), "Rfb", "1.00 kΩ", loc="bottom")
    # ---- Rg, Q1 upright (drain up), Rset
    x_g = x_o + 2.6
    s.part(elm.Resistor().at((x_o + 0.6, y_out)).right().length(2.0), "Rg", "100 Ω", ofst=0.2)
    q = s.add(elm.NFet(bulk=False).at((x_g, y_out)).anchor("gate").theta(0).reverse())
    aq = q.absanchors
    s.ref((aq["drain"][0] + 0.35, y_out + 0.1), "Q1", "BSS123", "left", "bottom")
    s.pin(aq["gate"], 1, "below", dx=-0.2)
    s.pin((aq["source"][0], aq["source"][1] - 0.3), 2, "right")
    s.pin((aq["drain"][0], aq["drain"][1] + 0.3), 3, "right")
    xq = aq["drain"][0]
    y_vs, y_d = 10.2, 16.0
    s.wire(aq["source"], (xq, y_vs))
    s.dot((xq, y_vs))
    s.part(elm.Resistor().at((xq, y_vs)).down().length(2.4), "Rset", "100 Ω 0.1 %", loc="bottom")
    s.gnd((xq, y_vs - 2.4))
    s.wire((xq, y_vs), (xq - 1.3, y_vs), (xq - 1.3, y_rfb), (x_fb + 2.0, y_rfb))
    s.wire((xq, y_vs), (25.0, y_vs))
    s.label((xq + 1.2, y_vs + 0.12), "VS = I x 100 Ω", "left", "bottom")
    s.flag("VS", (25.0, y_vs), "right", sheets=[6, 7])
    # drain: the sink node, held at the rail by R20 between phases
    s.wire(aq["drain"], (xq, y_d))
    s.dot((xq, y_d))
    s.part(elm.Resistor().at((xq, y_d)).up().length(2.0), "R20", "1 MΩ", loc="bottom")
    s.rail((xq, y_d + 2.0), "VHV")
    s.wire((xq, y_d), (25.0, y_d))
    s.label((xq + 1.2, y_d + 0.12), "sink node (netlist d)", "left", "bottom")
    s.flag("SINK_D", (25.0, y_d), "right", sheets=[5, 7])
    # ---- PHD: a phase is driven, delayed 0.7 us (U22, U23, U19B)
    oa = _delay(s, 4.8, "DRV_A", "Rda", "Cda", "Dda", "U22")
    ob = _delay(s, 1.9, "DRV_B", "Rdb", "Cdb", "Ddb", "U23")
    from schemdraw import logic

    g = s.add(logic.Or(inputs=2).at((13.8, 3.35)).anchor("out").right())
    ag = g.absanchors
    s.wire(oa, (oa[0] + 0.4, oa[1]), (oa[0] + 0.4, ag["in1"][1]), ag["in1"])
    s.wire(ob, (ob[0] + 0.4, ob[1]), (ob[0] + 0.4, ag["in2"][1]), ag["in2"])
    s.pin(ag["in1"], 4, "above", dx=-0.2)
    s.pin(ag["in2"], 5, "below", dx=-0.2)
    s.pin(ag["out"], 6, "above", dx=0.2)
    s.ref((ag["out"][0] - 0.9, 2.45), "U19B", "74LVC32", "center", "top")
    local_net(s, ag["out"], "PHD", "right", 0.6)
    s.note(
        (1.0, 21.2),
        "I = VSETC / Rset: U2A drives Q1 until VS equals the setpoint (0-1.049 V = "
        "0-10.49 mA). U2 supply pins 8 (+5V) and 4 (GND) on sheet 3.\n"
        "Between phases (PHD low) U3 grounds SETG and U4 (its NC throw) shorts Cc: U2A "
        "follows 0 V, the gate rests at 0 V and R20 holds the sink node at the rail, so the "
        "next phase starts without a spike. PHD rises 0.7 us after DRV_A or DRV_B (the leg "
        "switch has closed by then) and falls at once (Dda/Ddb).\n" + SW_PINS + ": check "
        "against the TS5A3157 data sheet before layout.",
        width=70,
    )
    return s
