"""Sheet 2: power: the cell, the Pico's VSYS, the 30 V boost (VHV), the 5 V LDO, +3V3 from
the Pico, the decoupling of every IC, and the isolation rule."""

import schemdraw.elements as elm

from .kit import Sheet, ic_box, local_net

# decoupling: (ref, rail, IC, supply pin)
DECOUPLING = [("C40", "VHV", "U6", "VDD"), ("C41", "VHV", "U12", "7")]
DECOUPLING += [("C42", "+5V", "U2", "8"), ("C43", "+5V", "U3", "5"), ("C44", "+5V", "U4", "5")]
_3V3 = [
    ("U7", "14"),
    ("U8", "14"),
    ("U9", "8"),
    ("U10", "5"),
    ("U11", "5"),
    ("U13", "8"),
    ("U14", "8"),
    ("U15", "8"),
    ("U16", "5"),
    ("U17", "8"),
    ("U18", "5"),
    ("U19", "14"),
    ("U21", "5"),
    ("U22", "5"),
    ("U23", "5"),
    ("U24", "5"),
]
DECOUPLING += [("C%d" % (45 + i), "+3V3", ic, pin) for i, (ic, pin) in enumerate(_3V3)]


def _decoupling_row(s, x0, y, rail, caps, pitch=1.75):
    s.label((x0 - 0.2, y), rail, "right", "center")
    x_end = x0 + pitch * (len(caps) - 1) + 0.3
    s.wire((x0, y), (x_end, y))
    s.wire((x0, y - 1.4), (x_end, y - 1.4))
    s.gnd((x0, y - 1.4))
    for i, (ref, _, ic, pin) in enumerate(caps):
        x = x0 + 0.3 + pitch * i
        s.dot((x, y))
        s.dot((x, y - 1.4))
        rating = "50 V" if rail == "VHV" else ""
        s.part(
            elm.Capacitor().at((x, y)).down().length(1.4),
            ref,
            "100 nF",
            loc="bottom",
            note="%s.%s %s" % (ic, pin, rating) if rating else "%s.%s" % (ic, pin),
        )


def draw():
    s = Sheet(2, "power", "Power: battery, boost, LDO, rails, decoupling")
    y = 17.0
    # ---- BT1 -> D3 -> Pico VSYS, and -> U1
    s.add(elm.BatteryCell().at((2.0, y - 2.4)).up().length(2.4))
    s.ref((2.4, y - 1.2), "BT1", "1S Li-ion 3.7 V", "left", "center")
    s.gnd((2.0, y - 2.4))
    s.wire((2.0, y), (6.0, y))
    s.dot((3.0, y))
    s.label((3.1, y + 0.12), "VBAT", "left", "bottom")
    s.wire((3.0, y), (3.0, y + 1.4))
    s.part(elm.Schottky().at((3.0, y + 1.4)).right().length(2.0), "D3", "MBR0540", ofst=0.15)
    s.flag("VSYS", (5.0, y + 1.4), "right", sheets=[1])
    s.label((6.8, y + 1.4), "Pico VSYS pin 39", "left", "center")
    # ---- U1 TPS61170 boost to VHV 30 V
    s.dot((4.6, y))
    s.part(elm.Capacitor().at((4.6, y)).down().length(1.6), "C31", "10 µF", loc="bottom")
    s.gnd((4.6, y - 1.6))
    s.dot((6.0, y))
    s.part(elm.Inductor2(loops=3).at((6.0, y)).right().length(2.4), "L1", "4.7 µH", ofst=0.2)
    pins = [("VIN", 5, "L", "2/2"), ("CTRL", 6, "L", "1/2"), ("SW", 4, "T", "1/1")]
    pins += [("FB", 1, "R", "2/2"), ("COMP", 2, "R", "1/2"), ("GND", 3, "B", "1/1")]
    u1 = ic_box(s, "U1", "TPS61170", (10.0, y - 3.0), (2.4, 2.0), pins, label=(7.9, y - 5.2))
    a1 = u1.absanchors
    s.wire((6.0, y), (6.0, a1["VIN"][1]), a1["VIN"])
    s.wire((6.0, a1["VIN"][1]), (6.0, a1["CTRL"][1]), a1["CTRL"])
    s.dot((6.0, a1["VIN"][1]))
    s.gnd(a1["GND"])
    x_sw = a1["SW"][0]
    s.wire((8.4, y), (x_sw, y), a1["SW"])
    s.dot((x_sw, y))
    s.wire((x_sw, y), (11.2, y))
    s.part(elm.Schottky().at((11.2, y)).right().length(2.0), "D1", "MBR0540", ofst=0.15)
    x_v = 14.4
    s.wire((13.2, y), (22.0, y))
    s.label((13.4, y + 0.12), "VHV 30 V", "left", "bottom")
    s.dot((x_v, y))
    s.part(elm.Capacitor().at((x_v, y)).down().length(1.8), "C30", "10 µF 50 V", loc="bottom")
    s.gnd((x_v, y - 1.8))
    x_fb = 17.0
    s.dot((x_fb, y))
    s.part(elm.Resistor().at((x_fb, y)).down().length(2.0), "R30", "1.00 MΩ", loc="bottom")
    s.part(elm.Resistor().at((x_fb, y - 2.6)).down().length(1.8), "R31", "42.2 kΩ", loc="bottom")
    s.wire((x_fb, y - 2.0), (x_fb, y - 2.6))
    s.gnd((x_fb, y - 4.4))
    s.wire(a1["FB"], (x_fb - 0.9, a1["FB"][1]), (x_fb - 0.9, y - 2.3), (x_fb, y - 2.3))
    s.dot((x_fb, y - 2.3))
    s.wire(a1["COMP"], (a1["COMP"][0] + 0.6, a1["COMP"][1]))
    s.part(
        elm.Capacitor().at((a1["COMP"][0] + 0.6, a1["COMP"][1])).down().length(1.2),
        "C32",
        "220 nF",
        loc="bottom",
    )
    s.gnd((a1["COMP"][0] + 0.6, a1["COMP"][1] - 1.2))
    s.flag("VHV", (22.0, y), "right", sheets=[4, 5, 7])
    # ---- U20 TPS7B6950: +5V from VHV
    x_l = 19.6
    s.dot((x_l, y))
    pins = [
        ("IN", 1, "L", "2/2"),
        ("EN", 3, "L", "1/2"),
        ("OUT", 5, "R", "1/1"),
        ("GND", 2, "B", "1/1"),
    ]
    u20 = ic_box(s, "U20", "TPS7B6950", (x_l + 2.0, y - 3.2), (2.0, 1.6), pins, label="above")
    a20 = u20.absanchors
    s.wire((x_l, y), (x_l, a20["IN"][1]), a20["IN"])
    s.wire((x_l, a20["IN"][1]), (x_l, a20["EN"][1]), a20["EN"])
    s.dot((x_l, a20["IN"][1]))
    s.gnd(a20["GND"])
    s.part(
        elm.Capacitor().at((x_l, a20["EN"][1])).down().length(1.2), "C33", "1 µF 50 V", loc="top"
    )
    s.gnd((x_l, a20["EN"][1] - 1.2))
    x5 = a20["OUT"][0] + 0.9
    s.wire(a20["OUT"], (x5 + 2.0, a20["OUT"][1]))
    s.dot((x5, a20["OUT"][1]))
    s.part(
        elm.Capacitor().at((x5, a20["OUT"][1])).down().length(1.2), "C34", "2.2 µF", loc="bottom"
    )
    s.gnd((x5, a20["OUT"][1] - 1.2))
    s.flag("+5V", (x5 + 2.0, a20["OUT"][1]), "right", sheets=[3, 4])
    # ---- +3V3 from the Pico
    s.flag("+3V3", (27.0, 10.0), "left", sheets=[1])
    s.label((22.4, 10.55), "Pico 3V3(OUT) pin 36, 300 mA max", "left", "bottom")
    local_net(s, (27.0, 10.0), "+3V3", "right", 0.8)
    # ---- decoupling, 100 nF X7R at every IC supply pin
    _decoupling_row(s, 2.6, 11.0, "VHV", DECOUPLING[:2], pitch=2.6)
    _decoupling_row(s, 10.2, 11.0, "+5V", DECOUPLING[2:5])
    _decoupling_row(s, 2.6, 7.0, "+3V3", DECOUPLING[5:])
    s.note(
        (1.0, 3.9),
        "Isolation (rule 1): battery only. Never connect the Pico's USB to a mains-powered PC "
        "while electrodes are attached unless through a certified medical USB isolator "
        "(IEC 60601-1, e.g. 5 kV); GND here is the battery's negative, not earth. D3 lets "
        "USB and the cell share VSYS without USB charging the cell (Pico data sheet). "
        "U1 (TPS61170, WSON-6) and U20 (TPS7B6950, SOT-23-5) pin numbers: check against "
        "their data sheets at layout; C32 per the TPS61170 compensation section.",
        width=120,
    )
    return s
