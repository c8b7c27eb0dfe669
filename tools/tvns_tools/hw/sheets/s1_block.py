"""Sheet 1: the whole stage as blocks, and the controller's pins (hardware/boards/pico.json,
GPIO and physical pin) with the sheet each signal goes to; the ESP32 DevKitC's pins for the
ESP32 build (hardware/boards/esp32-devkitc.json, issue 12)."""

import schemdraw.elements as elm

from .kit import Sheet, ic_box, pico_pins, text_size

# signal -> (net name on the sheets, sheets); order = physical pin order on the Pico
NETS = {
    "phase_a": ("PHASE_A", [5]),
    "phase_b": ("PHASE_B", [5]),
    "sync": ("SYNC", [5]),
    "gate": ("GATE", [6, 7]),
    "dac_pwm": ("DAC_PWM", [3]),
    "kill": ("KILL", [8]),
    "compliance": ("COMPLIANCE", [7]),
    "estop": ("ESTOP", [8]),
    "overcurrent": ("OVERCURRENT", [7]),
    "sense_adc": ("ADC0", [6]),
}
# ESP32 DevKitC V4 (the esp32 build's pin map: GPIO, header pin); checked against
# hardware/boards/esp32-devkitc.json when that file exists (host_tests/test_hw_schematic.py).
ESP32 = {
    "phase_a": (18, "J3-9"),
    "phase_b": (19, "J3-8"),
    "sync": (21, "J3-6"),
    "gate": (22, "J3-3"),
    "latch_reset": (23, "J3-2"),
    "dac": (25, "J1-9"),
    "sense_adc": (36, "J1-3"),
    "latch_q": (4, "J3-13"),
    "estop": (27, "J1-11"),
    "overcurrent": (13, "J1-15"),
    "compliance": (26, "J1-10"),
}
ESP32_NET = {"latch_reset": "LRST_n", "latch_q": "LQ", "dac": "DAC_PWM (DAC1)"}


def _block(s, x, y, w, h, text):
    s.wire((x, y), (x + w, y), (x + w, y + h), (x, y + h), (x, y))
    s.label((x + w / 2, y + h / 2), text, "center", "center")


def _arrow(s, p, q):
    s.add(elm.Arrow(headwidth=0.25, headlength=0.3).at(p).to(q))


def draw():
    s = Sheet(1, "block", "Block diagram and controller pins")
    pins = pico_pins()
    names = sorted(NETS, key=lambda n: pins[n][1])
    n = len(names) + 3
    pin_rows = [
        ("%s GP%d" % (name, pins[name][0]), pins[name][1], "R", "%d/%d" % (n - i, n))
        for i, name in enumerate(names)
    ]
    pin_rows += [("3V3(OUT)", 36, "R", "3/%d" % n), ("VSYS", 39, "R", "2/%d" % n)]
    pin_rows += [("GND", 38, "R", "1/%d" % n)]
    pico = ic_box(s, "A1", "Raspberry Pi Pico", (4.4, 11.4), (4.2, 12.0), pin_rows, "above")
    a = pico.absanchors
    for name in names:
        net, sheets = NETS[name]
        p = a["%s GP%d" % (name, pins[name][0])]
        s.wire(p, (p[0] + 0.6, p[1]))
        s.flag(net, (p[0] + 0.6, p[1]), "right", sheets=sheets)
    for pname, net in (("3V3(OUT)", "+3V3"), ("VSYS", "VSYS")):
        p = a[pname]
        s.wire(p, (p[0] + 0.6, p[1]))
        s.flag(net, (p[0] + 0.6, p[1]), "right", sheets=[2])
    p = a["GND"]
    s.wire(p, (p[0] + 0.6, p[1]), (p[0] + 0.6, p[1] - 0.3))
    s.gnd((p[0] + 0.6, p[1] - 0.3))
    # ---- the stage as blocks (signal flow left to right)
    bw, bh = 4.2, 1.6
    _block(s, 13.0, 15.6, bw, bh, "Setpoint + limit [3]\nPWM RC, U2B, U5")
    _block(s, 19.4, 15.6, bw, bh, "Current sink [4]\nU2A, Q1, Rset 100 Ω")
    _block(s, 25.8, 15.6, bw, bh, "H-bridge [5]\nU6, interlock U7/U8")
    _block(s, 25.8, 11.6, bw, bh, "C10 10 µF, J1\nelectrodes / load")
    _block(s, 19.4, 11.6, bw, bh, "Sense, hold [6]\nU9, U10, U11")
    _block(s, 13.0, 11.6, bw, bh, "Comparators [7]\nU12, U13, U14, U15")
    _block(s, 19.4, 7.4, bw, bh, "Kill, e-stop, latch [8]\nU16, U17, S1, JP1")
    _block(s, 13.0, 7.4, bw, bh, "Power [2]\nBT1, U1 30 V, U20 5 V")
    _arrow(s, (17.2, 16.4), (19.4, 16.4))
    _arrow(s, (23.6, 16.4), (25.8, 16.4))
    _arrow(s, (27.9, 15.6), (27.9, 13.2))
    _arrow(s, (21.5, 15.6), (21.5, 13.2))
    _arrow(s, (19.4, 12.4), (17.2, 12.4))
    _arrow(s, (23.6, 8.2), (27.9, 8.2))
    s.wire((27.9, 8.2), (27.9, 11.6))
    s.label((24.0, 8.35), "EN: opens the legs", "left", "bottom", 8)
    s.label((17.4, 16.55), "VSETC", "left", "bottom", 8)
    s.label((23.8, 16.55), "SINK_D", "left", "bottom", 8)
    s.label((21.65, 14.4), "VS", "left", "center", 8)
    s.label((17.4, 12.55), "VSB, VDB", "left", "bottom", 8)
    # ---- ESP32 build
    rows = ["ESP32 DevKitC (boards/esp32-devkitc.json; JP1 open, latch in use):"]
    for sig, (gpio, hdr) in sorted(ESP32.items(), key=lambda kv: kv[1][0]):
        net = ESP32_NET.get(sig) or NETS.get(sig, (sig.upper(), []))[0]
        rows.append("GPIO%d (%s): %s" % (gpio, hdr, net))
    half = (len(rows) + 1) // 2
    s.label((13.0, 5.8), "\n".join(rows[:half]), "left", "top", 9)
    w, _ = text_size("\n".join(rows[1:half]), 9)
    s.label((13.0 + max(w, 6.0) + 1.0, 5.8 - 0.25), "\n".join(rows[half:]), "left", "top", 9)
    s.label(
        (13.0, 21.0),
        "Signals leave the controller at the flags on the left ([n] = sheet). Pico pull-ups/"
        "downs per pico.json: GP7, GP16, GP17 pulled down (a cut wire reads kill / pressed "
        "/ tripped),\nGP15 pulled up (reads compliance). GP8/GP9 (pins 11/12): I2C to an "
        "MCP4725 instead of the PWM (dac.kind mcp4725), not used by OS-1.\nPower and "
        "isolation: battery only; USB to a PC only through a certified medical USB "
        "isolator (sheet 2).",
        "left",
        "top",
        9,
    )
    return s
