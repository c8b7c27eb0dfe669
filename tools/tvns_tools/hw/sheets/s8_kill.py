"""Sheet 8: the kill path: the normally-closed e-stop loop, power-on reset, KILL_n = ES AND
OC_OK AND POR (U16), the latch U17 with JP1 and the ESP32's LRST_n / LQ, EN = NOT LQ."""

import schemdraw.elements as elm

from .kit import Sheet, gate, ic_box, local_net, pico_pin


def draw():
    s = Sheet(8, "kill", "Kill path: e-stop loop, power-on reset, KILL_n, latch")
    # ---- e-stop loop: +3V3 -> Res -> J2 -> S1 (NC, in the cable) -> J2 -> ES
    y = 15.0
    s.rail((2.0, y + 1.6), "+3V3")
    s.wire((2.0, y + 1.6), (2.0, y))
    s.part(elm.Resistor().at((2.0, y)).right().length(2.0), "Res", "470 Ω", ofst=0.2)
    s.wire((4.0, y), (4.8, y))
    s.dot((4.8, y), open_=True)
    s.label((4.8, y - 0.25), "J2-1", "center", "top", 8)
    s.part(elm.Button(nc=True).at((5.4, y)).right().length(2.0), "S1", "e-stop NC", ofst=0.35)
    s.wire((4.8, y), (5.4, y))
    s.wire((7.4, y), (8.0, y))
    s.dot((8.0, y), open_=True)
    s.label((8.0, y - 0.25), "J2-2", "center", "top", 8)
    s.ref((5.3, y + 1.5), "J2", "e-stop cable connector", "left", "bottom")
    s.wire((8.0, y), (12.4, y))
    s.label((9.2, y + 0.12), "ES", "left", "bottom")
    s.dot((9.0, y))
    s.part(elm.Resistor().at((9.0, y)).down().length(2.0), "Rpd_es", "4.7 kΩ", loc="bottom")
    s.gnd((9.0, y - 2.0))
    s.dot((11.0, y))
    s.wire((11.0, y), (11.0, y + 1.6))
    s.part(elm.Resistor().at((11.0, y + 1.6)).right().length(1.6), "Resq", "1 kΩ", ofst=0.2)
    s.flag("ESTOP", (12.6, y + 1.6), "right", sheets=[1])
    s.label((12.6, y + 2.1), pico_pin("estop"), "left", "bottom")
    sa = gate(s, "schmitt", (13.4, y), (2, 4), "U21", "74LVC1G17", label="below")
    # ---- power-on reset: +3V3 -> Rpor -> POR_RC (Cpor) -> U18
    yp = 9.6
    s.rail((7.0, yp + 2.2), "+3V3")
    s.part(elm.Resistor().at((7.0, yp + 2.2)).down().length(2.2), "Rpor", "100 kΩ", loc="bottom")
    s.dot((7.0, yp))
    s.part(elm.Capacitor().at((7.0, yp)).down().length(1.8), "Cpor", "100 nF", loc="top")
    s.gnd((7.0, yp - 1.8))
    s.wire((7.0, yp), (12.4, yp))
    s.label((8.0, yp + 0.12), "POR_RC", "left", "bottom")
    pa = gate(s, "schmitt", (13.4, yp), (2, 4), "U18", "74LVC1G17", label="below")
    # ---- KILL_n = ES & OC_OK & POR (U16 74LVC1G11)
    k = gate(s, "and", (18.4, 12.3), (1, 3, 6, 4), "U16", "74LVC1G11", label="below", inputs=3)
    s.wire(sa["out"], (15.2, y), (15.2, k["in1"][1]), k["in1"])
    s.wire(pa["out"], (15.2, yp), (15.2, k["in3"][1]), k["in3"])
    local_net(s, k["in2"], "OC_OK", "left", 1.4)
    s.flag("OC_OK", (12.6, 5.6), "left", sheets=[7])
    local_net(s, (12.6, 5.6), "OC_OK", "right", 0.6)
    xk = 20.0
    s.wire(k["out"], (xk + 1.2, k["out"][1]))
    s.dot((xk, k["out"][1]))
    s.label((k["out"][0] + 0.3, k["out"][1] + 0.12), "KILL_n", "left", "bottom")
    s.wire((xk, k["out"][1]), (xk, 17.2))
    s.part(elm.Resistor().at((xk, 17.2)).right().length(1.6), "Rkill", "1 kΩ", ofst=0.2)
    s.flag("KILL", (xk + 1.6, 17.2), "right", sheets=[1])
    s.label((xk + 1.7, 17.7), pico_pin("kill") + ", low = kill", "left", "bottom")
    # ---- U17 latch: PRE_n = KILL_n, CLR_n = LRST_n (JP1 to GND = follow mode)
    pins = [("PRE_n", 7, "L", "2/2"), ("CLR_n", 6, "L", "1/2"), ("Q", 5, "R", "2/2")]
    pins += [("D", 2, "T", "1/2"), ("CLK", 1, "T", "2/2"), ("Q_n", 3, "R", "1/2")]
    u17 = ic_box(s, "U17", "74LVC1G74", (23.6, 11.6), (2.2, 2.0), pins, label=(21.0, 13.1))
    a17 = u17.absanchors
    s.wire((xk + 1.2, k["out"][1]), (xk + 1.2, a17["PRE_n"][1]), a17["PRE_n"])
    for p in ("D", "CLK"):
        local_net(s, a17[p], "GND", "up", 0.3)
    s.label((a17["Q_n"][0] + 0.1, a17["Q_n"][1]), "n.c.", "left", "center", 8)
    x_l = a17["CLR_n"][0] - 1.0
    s.wire(a17["CLR_n"], (x_l, a17["CLR_n"][1]), (x_l, 7.0))
    s.dot((x_l, 8.6))
    s.label((x_l + 0.15, 9.0), "LRST_n", "left", "bottom")
    s.part(elm.Resistor().at((x_l, 8.6)).left().length(1.8), "Rpu_lrst", "10 kΩ", ofst=0.2)
    s.rail((x_l - 1.8, 8.6), "+3V3")
    s.dot((x_l, 7.0))
    s.add(elm.Switch().at((x_l, 7.0)).down().length(1.2))
    s.ref((x_l + 0.7, 6.2), "JP1", "fitted: Pico", "left", "center")
    s.gnd((x_l, 5.8))
    s.wire((x_l, 7.0), (x_l + 2.6, 7.0))
    s.flag("LRST_n", (x_l + 2.6, 7.0), "right", sheets=[1])
    s.label((x_l + 2.7, 6.5), "ESP32 output (JP1 open)", "left", "top", 8)
    # Q: LQ out and EN = NOT LQ to the bridge
    yq = a17["Q"][1]
    s.wire(a17["Q"], (27.4, yq))
    s.dot((26.4, yq))
    s.label((26.0, yq + 0.12), "LQ", "left", "bottom")
    s.part(elm.Resistor().at((26.4, yq)).up().length(1.8), "Rlq", "1 kΩ", loc="bottom")
    s.flag("LQ", (26.4, yq + 1.8), "right", sheets=[1])
    s.label((27.9, yq + 1.8), "ESP32 input", "left", "center", 8)
    inv = gate(s, "not", (28.6, yq), (11, 10), "U8E", "74LVC04", label="below")
    s.wire((27.4, yq), inv["in1"])
    s.wire(inv["out"], (29.2, yq))
    s.flag("EN", (29.2, yq), "right", sheets=[5])
    s.note(
        (1.0, 21.2),
        "Any one of ES, OC_OK, POR low pulls KILL_n low: the Pico's kill machine (GP7) "
        "holds A/B/SYNC low from the next cycle, and U17 sets (Q high), so EN falls and U6 "
        "opens both legs in hardware. S1 pressed or its cable cut: ES falls (Rpd_es "
        "4.7 kΩ), KILL. POR: Rpor/Cpor hold KILL for about 7 ms after power-up; the latch "
        "comes up set.\nU17 with both PRE_n and CLR_n low: Q high (killed; 74LVC1G74 "
        "function table). JP1 fitted (Pico): CLR_n held low, the latch follows KILL_n. JP1 "
        "open (ESP32): Rpu_lrst holds CLR_n high, only a firmware LRST_n pulse (>= 10 us, "
        "cause gone) clears it. U16 74LVC1G11 pins 1/3/6 in, 4 out: taken from the DBV "
        "pinout as remembered, check the data sheet.",
        width=74,
    )
    return s
