"""Sheet 5: the H-bridge U6 (ADG5436F, 3 V logic in, level shifting to VHV inside), the A/B
interlock and the gap/idle logic (U7, U8, U19, U24), the DC-blocking capacitor, the
electrode connector and the load."""

import schemdraw.elements as elm

from .kit import Sheet, gate, ic_box, local_net, pico_pin

YA, YB, YS = 17.4, 11.8, 6.4  # rows: phase A, phase B, sync/enable


def _input(s, y, flag, name, rpd, feed_dir):
    """Pico output -> flag -> 10 k pull-down; returns the node feeding the inverter."""
    s.flag(flag, (2.4, y), "left", sheets=[1])
    s.label((0.7, y + 0.45), pico_pin(name), "left", "bottom")
    s.dot((3.2, y))
    s.part(elm.Resistor().at((3.2, y)).down().length(1.6), rpd, "10 kΩ", loc="bottom")
    s.gnd((3.2, y - 1.6))
    s.dot((4.8, y))
    return (4.8, y)


def draw():
    s = Sheet(5, "bridge", "H-bridge, interlock, level shifting, electrodes")
    # ---- interlock: DRV_A = A & !B & EN, DRV_B = B & !A & EN
    na = _input(s, YA, "PHASE_A", "phase_a", "Rpd_pa", "down")
    nb = _input(s, YB, "PHASE_B", "phase_b", "Rpd_pb", "up")
    ua = gate(s, "and", (9.0, YA - 0.25), (1, 2, 3), "U7A", "74LVC08", label="above")
    s.wire((2.4, YA), ua["in1"])
    local_net(s, ua["in2"], "NB", "left", 0.6)
    ub = gate(s, "and", (9.0, YB - 0.25), (4, 5, 6), "U7B", "74LVC08", label="below")
    s.wire((2.4, YB), ub["in1"])
    local_net(s, ub["in2"], "NA", "left", 0.6)
    # inverters between the rows, fed from the inputs
    y_ia, y_ib = YA - 1.4, YB + 1.4
    s.wire(na, (na[0], y_ia), (5.4, y_ia))
    ia = gate(s, "not", (7.0, y_ia), (1, 2), "U8A", "74LVC04", label="below")
    s.wire((5.4, y_ia), ia["in1"])
    local_net(s, ia["out"], "NA", "right", 0.6)
    s.wire(nb, (nb[0], y_ib), (5.4, y_ib))
    ib = gate(s, "not", (7.0, y_ib), (3, 4), "U8B", "74LVC04", label="above")
    s.wire((5.4, y_ib), ib["in1"])
    local_net(s, ib["out"], "NB", "right", 0.6)
    # AND with EN (the latch, sheet 8)
    uc = gate(s, "and", (13.2, YA - 0.5), (9, 10, 8), "U7C", "74LVC08", label="above")
    s.wire(ua["out"], (uc["in1"][0] - 0.6, ua["out"][1]), (uc["in1"][0] - 0.6, uc["in1"][1]))
    s.wire((uc["in1"][0] - 0.6, uc["in1"][1]), uc["in1"])
    local_net(s, uc["in2"], "EN", "left", 0.6)
    ud = gate(s, "and", (13.2, YB - 0.5), (12, 13, 11), "U7D", "74LVC08", label="below")
    s.wire(ub["out"], (ud["in1"][0] - 0.6, ub["out"][1]), (ud["in1"][0] - 0.6, ud["in1"][1]))
    s.wire((ud["in1"][0] - 0.6, ud["in1"][1]), ud["in1"])
    local_net(s, ud["in2"], "EN", "left", 0.6)
    # ---- sync / gap window: EN_SW = EN & (!SYNC | DRV_A | DRV_B)
    ns = _input(s, YS, "SYNC", "sync", "Rpd_sync", "")
    s.wire((2.4, YS), (5.9, YS))
    ic = gate(s, "not", (7.0, YS), (5, 6), "U8C", "74LVC04", label="below")
    ph = gate(s, "or", (9.4, 9.0), (1, 2, 3), "U19A", "74LVC32", label="above")
    local_net(s, ph["in1"], "DRV_A", "left", 0.6)
    local_net(s, ph["in2"], "DRV_B", "left", 0.6)
    wn = gate(s, "or", (11.6, YS - 0.25), (9, 10, 8), "U19C", "74LVC32", label="below")
    s.wire(ic["out"], wn["in1"])
    s.wire(ph["out"], (ph["out"][0] + 0.5, ph["out"][1]), (ph["out"][0] + 0.5, wn["in2"][1] + 0.0))
    s.wire((ph["out"][0] + 0.5, wn["in2"][1]), wn["in2"])
    s.label((ph["out"][0] + 0.6, ph["out"][1] - 0.3), "PH", "left", "top")
    en = gate(s, "and", (15.2, YS - 0.5), (1, 2, 4), "U24", "74LVC1G08", label="below")
    s.wire(wn["out"], (en["in1"][0] - 0.5, wn["out"][1]), (en["in1"][0] - 0.5, en["in1"][1]))
    s.wire((en["in1"][0] - 0.5, en["in1"][1]), en["in1"])
    local_net(s, en["in2"], "EN", "left", 0.5)
    s.label((wn["out"][0] + 0.15, wn["out"][1] - 0.1), "WIN", "left", "top")
    _ = ns
    # EN from the latch (sheet 8)
    s.flag("EN", (2.4, 9.3), "left", sheets=[8])
    local_net(s, (2.4, 9.3), "EN", "right", 0.8)
    # ---- U6 ADG5436F
    pins = [
        ("IN1", "", "L", "3/3"),
        ("IN2", "", "L", "2/3"),
        ("EN", "", "L", "1/3"),
        ("S1A", "", "R", "6/6"),
        ("D1", "", "R", "5/6"),
        ("S1B", "", "R", "4/6"),
        ("S2A", "", "R", "3/6"),
        ("D2", "", "R", "2/6"),
        ("S2B", "", "R", "1/6"),
        ("VDD", "", "T", "1/1"),
        ("GND", "", "B", "1/2"),
        ("VSS", "", "B", "2/2"),
    ]
    u6 = ic_box(s, "U6", "ADG5436F", (20.0, 12.2), (2.6, 8.0), pins, label=(21.0, 16.6))
    a6 = u6.absanchors
    x_in = a6["IN1"][0] - 1.0
    s.wire(uc["out"], (x_in, uc["out"][1]), (x_in, a6["IN1"][1]), a6["IN1"])
    s.dot((x_in, a6["IN1"][1]))
    s.wire(ud["out"], (x_in + 0.4, ud["out"][1]), (x_in + 0.4, a6["IN2"][1]), a6["IN2"])
    s.wire(en["out"], (x_in, en["out"][1]), (x_in, a6["EN"][1]), a6["EN"])
    s.label((x_in - 0.1, en["out"][1] + 0.12), "EN_SW", "right", "bottom")
    s.label((uc["out"][0] + 0.25, uc["out"][1] + 0.12), "DRV_A", "left", "bottom")
    s.label((ud["out"][0] + 0.25, ud["out"][1] + 0.12), "DRV_B", "left", "bottom")
    s.wire((x_in, a6["IN1"][1]), (x_in, a6["IN1"][1] + 2.8))
    s.flag("DRV_A", (x_in, a6["IN1"][1] + 2.8), "right", sheets=[4, 6, 7])
    s.rail(a6["VDD"], "VHV")
    s.gnd(a6["GND"])
    s.gnd(a6["VSS"])
    for p in ("S1A", "S2A"):
        local_net(s, a6[p], "VHV", "right", 0.5)
    for p in ("S1B", "S2B"):
        local_net(s, a6[p], "SINK_D", "right", 0.5)
    s.flag("SINK_D", (24.4, 7.4), "right", sheets=[4, 7])
    local_net(s, (24.4, 7.4), "SINK_D", "left", 0.5)
    # ---- output: C10 in the E1 lead, bleed, TVS, J1 and the load
    x_e = 27.2
    y1, y2 = a6["D1"][1], a6["D2"][1]
    s.label((a6["D1"][0] + 0.3, y1 + 0.12), "OUT1", "left", "bottom")
    s.wire(a6["D1"], (23.6, y1))
    s.part(elm.Capacitor().at((23.6, y1)).right().length(2.0), "C10", "10 µF film", ofst=0.2)
    s.wire((25.6, y1), (x_e + 1.6, y1))
    s.wire(a6["D2"], (x_e + 1.6, y2))
    s.label((a6["D2"][0] + 0.3, y2 + 0.12), "OUT2", "left", "bottom")
    s.dot((25.9, y1))
    s.dot((25.9, y2))
    s.part(elm.Resistor().at((25.9, y1)).down().to((25.9, y2)), "Rbleed", "1 MΩ", loc="top")
    s.dot((x_e, y1))
    s.dot((x_e, y2))
    s.part(elm.DiodeTVS().at((x_e, y1)).down().to((x_e, y2)), "TVS1", "SMBJ33CA", loc="bottom")
    s.ref((x_e + 1.0, y1 + 1.1), "J1", "touch-proof 2-pin")
    s.dot((x_e + 1.6, y1), open_=True)
    s.dot((x_e + 1.6, y2), open_=True)
    s.label((x_e + 1.8, y1), "1 E1", "left", "center")
    s.label((x_e + 1.8, y2), "2 E2", "left", "center")
    s.note(
        (25.0, 5.6),
        "Off the board at J1: the bench load (500 Ω, 2 kΩ, 10 kΩ, open, short) or the "
        "electrodes; skin model Rs 1 kΩ + (Rp 10 kΩ || Cp 220 nF).",
        width=34,
    )
    s.note(
        (1.0, 21.2),
        "Interlock in logic and in the switch: DRV_A = A AND NOT B AND EN, DRV_B = B AND "
        "NOT A AND EN; both inputs high drive neither leg (and two legs high would put both "
        "electrodes on VHV: no path). U6 leg x: INx high = Dx to SxA (VHV), low = Dx to SxB "
        "(the sink node); EN low opens all four switches. U6's 3 V logic inputs do the 3.3 V "
        "to 30 V level shifting inside; it is off when unpowered.\n"
        "Gap and idle: inside a pulse (SYNC high) EN_SW opens both legs except while a "
        "phase is driven; between pulses both legs sit on the sink node, shorting E1-E2 "
        "through C10 so residual charge bleeds off.\n"
        "U6 pins by name: take the pin numbers from the ADG5436F data sheet (TSSOP-16 or "
        "LFCSP) at layout; DR, FF and SF unused (DR open: drains float on a fault).",
        width=88,
    )
    return s
