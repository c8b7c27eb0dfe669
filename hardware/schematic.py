"""Draw hardware/schematic.svg: the reference stage OS-1 (hardware/spice/stage.lib), values
and reference designators as in hardware/BOM.csv, Pico pins as GPn/pin.

    .venv/bin/python hardware/schematic.py     # rewrites hardware/schematic.svg

schemdraw's own SVG backend (no fonts, no timestamps): the same input draws the same bytes,
which host_tests/test_hw_cli.py::test_schematic_is_current checks."""

import pathlib
import sys

import schemdraw
import schemdraw.elements as elm
from schemdraw import logic

OUT = pathlib.Path(__file__).with_name("schematic.svg")


def draw():
    schemdraw.use("svg")
    d = schemdraw.Drawing(show=False, unit=2.2, fontsize=11)
    # ---- setpoint: PWM → RC RC → divider → R4 → clamp (U2B) → U3 → U2A + Q1 + Rset
    d += elm.Dot(open=True).label("GP6 / pin 9\nPWM 30 kHz", "left")
    d += elm.Resistor().right().label("R1 1k")
    d.push()
    d += elm.Capacitor().down().label("C1 100n")
    d += elm.Ground()
    d.pop()
    d += elm.Resistor().right().label("R2 1.3k")
    d.push()
    d += elm.Capacitor().down().label("C2 100n")
    d += elm.Ground()
    d.pop()
    d.push()
    d += elm.Resistor().down().at(d.here).label("R3 1k", "left").toy(d.here[1] - 3.5)
    d += elm.Ground()
    d.pop()
    d += elm.Resistor().right().label("R4 10k")
    clamp = d.here
    d += elm.Diode().down().label("D2 BAS416", "left").length(1.6)
    d += elm.Line().down().length(0.4).label("U2B OPA2189 out\n(+: 1.049 V limit)", "right")
    d += (
        elm.SwitchSpdt2(action="close")
        .right()
        .at(clamp)
        .anchor("b")
        .label("U3 TS5A3157\nphase driven", "top")
    )
    sw = d.elements[-1]
    d += elm.Ground().at(sw.c)
    d += elm.Line().right().at(sw.a).length(0.8)
    op = elm.Opamp(leads=True).right().anchor("in2").label("U2A\nOPA2189", "center", ofst=(-0.4, 0))
    d += op
    d += elm.Line().right().at(op.out).length(0.6)
    d += elm.Resistor().right().label("Rg 100")
    d += (q1 := elm.NFet(bulk=False).anchor("gate").label("Q1 BSS123", "right"))
    d += elm.Resistor().down().at(q1.source).label("Rset 100 0.1 %", "right").length(1.8)
    d += elm.Ground()
    d += elm.Line().left().at(q1.source).tox(op.in1[0] - 0.5)
    d += elm.Line().up().toy(op.in1[1])
    d += elm.Line().right().tox(op.in1[0])
    d += (
        elm.Label()
        .at((op.in1[0] - 1.6, op.in1[1] - 1.6))
        .label(
            "Vs = I x 100 ohm → U9A follower → U10 sample (phase A)\n"
            "→ 10 nF hold (U11 clears while GATE low) → U9B → ADC0 GP26 / pin 31"
        )
    )
    d += elm.Line().up().at(q1.drain).length(1.0)
    d += elm.Dot().label("D (sink node; R20 1M to 30 V)", "right")
    drain = d.here
    # ---- bridge legs (U6 ADG5436F) and the electrodes
    d += elm.Line().up().at(drain).length(1.2)
    d += elm.SwitchSpdt2().left().anchor("c").label("U6A leg 1", "top")
    leg1 = d.elements[-1]
    d += elm.Line().left().at(leg1.a).length(0.6).label("30 V", "left")
    d += elm.Capacitor().up().at(leg1.b).label("C10 10u film", "left")
    d += elm.Dot(open=True).label("E1", "top")
    e1 = d.here
    d += elm.Resistor().right().label("load: 500 / 2k / 10k / open / short / skin", "top").length(4)
    d += elm.Dot(open=True).label("E2", "top")
    d += elm.Line().down().length(1.2)
    d += elm.SwitchSpdt2().right().anchor("b").label("U6B leg 2", "top")
    leg2 = d.elements[-1]
    d += elm.Line().right().at(leg2.a).length(0.6).label("30 V", "right")
    d += elm.Line().down().at(leg2.c).toy(drain[1] + 1.2)
    d += elm.Line().left().tox(drain[0])
    _ = e1
    # ---- logic: interlock, kill, latch (74LVC at 3.3 V)
    y0 = drain[1] - 7.5
    x0 = op.in1[0] - 4
    d += logic.And(inputs=3).at((x0, y0)).anchor("in1").label("U16\n74LVC1G11", "bottom")
    kill = d.elements[-1]
    d += (
        elm.Line()
        .left()
        .at(kill.in1)
        .length(0.8)
        .label("E-stop NC loop ES\n(GP16 / pin 21)", "left")
    )
    d += elm.Line().left().at(kill.in2).length(0.8).label("OC_OK U14A\n(GP17 / pin 22)", "left")
    d += elm.Line().left().at(kill.in3).length(0.8).label("POR 100k/100n", "left")
    d += elm.Line().right().at(kill.out).length(0.8)
    d += elm.Dot().label("KILL_n → GP7 / pin 10\n(low = kill)", "top")
    d += elm.Line().right().length(0.8)
    d += logic.Nand().anchor("in1").label("U17 74LVC1G74\nPRE_n / CLR_n", "bottom")
    lat = d.elements[-1]
    d += elm.Line().left().at(lat.in2).length(0.8).label("LRST_n (JP1: GND = follow)", "left")
    d += elm.Line().right().at(lat.out).length(0.6).label("Q → LQ", "top")
    d += logic.Not().label("EN", "top")
    d += elm.Line().right().length(0.6)
    d += (
        logic.And(inputs=3)
        .anchor("in2")
        .label("U7 74LVC08 + U8 74LVC04:\ndrive_A = A AND NOT B AND EN", "bottom")
    )
    inter = d.elements[-1]
    d += elm.Line().left().at(inter.in1).length(0.6).label("GP2 / pin 4", "left")
    d += elm.Line().left().at(inter.in3).length(0.6).label("NOT GP3 / pin 5", "left")
    d += elm.Line().right().at(inter.out).length(0.8).label("→ U6 IN1 (IN2 alike)", "right")
    d += (
        elm.Label()
        .at((x0, y0 - 3.2))
        .label(
            "Compliance (U12 OPA192 follower of D, U13 TLV3202): headroom under 0.8 V, "
            "or load above "
            "6.81 kohm x I + 0.59 V → OR → U15 74LVC1G74 sampled at the end of phase A, cleared "
            "while GATE low → GP15 / pin 20 (high = compliance)\n"
            "Overcurrent U14A TLV3202: Vs above 1.0975 V (10.98 mA) → OC_OK low. "
            "Pull-downs 10k on GP2-GP6. Rails: 30 V boost (TPS61170) from the battery, "
            "5 V LDO (TPS7B6950), 3.3 V = Pico 3V3(OUT) pin 36."
        )
    )
    return d


def main(argv):
    d = draw()
    svg = d.get_imagedata("svg")
    text = svg.decode() if isinstance(svg, bytes) else svg
    if "--check" in argv:
        return 0 if OUT.read_text() == text else 1
    OUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
