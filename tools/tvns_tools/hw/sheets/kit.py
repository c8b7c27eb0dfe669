"""Drawing kit for the OS-1 schematic sheets: one landscape frame per sheet, parts labelled
with the BOM's designator and value (and recorded, so tests can hold them against the netlist
and the BOM), pin numbers, net flags where a wire leaves the sheet, notes that wrap inside
the frame.

Coordinates are schemdraw drawing units (1 unit = 0.5 inch = 36 pt in the SVG); every sheet
is W x H units (16 x 11 inches, a tabloid/A3 landscape page). Text is converted to paths by
ziamath (schemdraw's `svgconfig.text = "path"`), so the SVG renders the same everywhere and
its text sizes are exact, which the overlap check relies on."""

import textwrap

import schemdraw
import schemdraw.elements as elm
from schemdraw import logic
from schemdraw.backends import svg as svgback
from schemdraw.segments import Segment, SegmentText

from tvns_tools.boardcheck import PICO_PHYSICAL

W = 32.0
H = 22.0
FONT = 10  # part labels, pin names
PIN_FONT = 8  # pin numbers
NOTE_FONT = 9
TITLE_FONT = 15
PT_TO_UNITS = 2 / 72  # schemdraw: text points -> drawing units


def text_size(text, size=FONT):
    """Width and height of a (multi-line) text in drawing units."""
    w, h, _ = svgback.text_size(text, font="sans-serif", size=size)
    return w * PT_TO_UNITS, h * PT_TO_UNITS


class Path(elm.Element):
    """A wire through absolute points (a polyline, no direction of its own)."""

    def __init__(self, pts, **kwargs):
        super().__init__(**kwargs)
        self.segments.append(Segment(list(pts)))
        self.anchors["start"] = pts[0]
        self.anchors["end"] = pts[-1]


class Text(elm.Element):
    """Text placed exactly at its point with the given alignment (schemdraw's Label shifts
    an anchor-less label by its own default bbox)."""

    def __init__(self, text, halign="left", valign="center", size=FONT, **kwargs):
        super().__init__(**kwargs)
        self.segments.append(SegmentText((0, 0), text, align=(halign, valign), fontsize=size))
        self.anchors["center"] = (0, 0)


def fmt_ohm(v):
    return _eng(v, "Ω")


def _eng(v, unit):
    for scale, prefix in ((1e6, "M"), (1e3, "k"), (1, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n")):
        if abs(v) >= scale * 0.9999:
            x = v / scale
            s = ("%.3g" % x) if x < 1000 else ("%d" % round(x))
            return "%s %s%s" % (s, prefix, unit)
    return "%.3g p%s" % (v * 1e12, unit)


class Sheet:
    """One schematic sheet: a schemdraw Drawing plus the parts drawn on it."""

    def __init__(self, number, slug, title, total=8):
        self.number = number
        self.slug = slug
        self.title = title
        self.total = total
        self.parts = []  # (ref, value text) in drawing order
        self.flags = []  # net names that leave the sheet
        self.d = schemdraw.Drawing(show=False, unit=2, fontsize=FONT, lw=1.4)

    # ---- wiring
    def add(self, element):
        self.d.add(element)
        return element

    def wire(self, *pts):
        return self.add(Path(pts).at((0, 0)).theta(0))

    def dot(self, p, open_=False):
        return self.add(elm.Dot(open=open_, radius=0.09).at(p))

    def gnd(self, p, lead=0.0):
        if lead:
            self.wire(p, (p[0], p[1] - lead))
            p = (p[0], p[1] - lead)
        return self.add(elm.Ground(lead=False).at(p))

    def rail(self, p, name, lead=0.0):
        """A supply arrow pointing up with its rail name (+3V3, +5V, VHV)."""
        if lead:
            self.wire(p, (p[0], p[1] + lead))
            p = (p[0], p[1] + lead)
        return self.add(elm.Vdd(lead=False).at(p).label(name, fontsize=FONT))

    # ---- parts
    def part(self, element, ref, value, loc=None, ofst=None, note=None):
        """A part labelled 'ref' over 'value' (and an optional third line)."""
        text = "%s\n%s" % (ref, value) if value else ref
        if note:
            text += "\n" + note
        kw = {}
        if loc:
            kw["loc"] = loc
        if ofst is not None:
            kw["ofst"] = ofst
        element.label(text, **kw)
        self.parts.append((ref, value))
        return self.add(element)

    def label(self, p, text, halign="left", valign="center", size=FONT, color=None):
        lab = Text(text, halign, valign, size).at(p).theta(0)
        if color:
            lab.color(color)
        return self.add(lab)

    def ref(self, p, ref, value, halign="left", valign="center"):
        """A designator + value written beside a symbol drawn by other means (IC halves)."""
        self.parts.append((ref, value))
        text = "%s\n%s" % (ref, value) if value else ref
        return self.label(p, text, halign, valign)

    def pin(self, p, number, side="above", dx=0.0):
        """A pin number beside a lead ending at p: above/below a horizontal lead, left/right
        of a vertical one."""
        x, y = p
        if side == "above":
            return self.label((x + dx, y + 0.05), str(number), "center", "bottom", PIN_FONT)
        if side == "below":
            return self.label((x + dx, y - 0.05), str(number), "center", "top", PIN_FONT)
        if side == "left":
            return self.label((x - 0.07, y + dx), str(number), "right", "center", PIN_FONT)
        return self.label((x + 0.07, y + dx), str(number), "left", "center", PIN_FONT)

    def flag(self, name, p, direction="right", sheets=()):
        """Off-sheet connector at p. direction 'right' = the tag points right, away from the
        wire that ends at p on its left; 'left' mirrors it. sheets: where the net goes on."""
        text = name + (" [%s]" % ",".join(str(s) for s in sheets) if sheets else "")
        w, _ = text_size(text, FONT)
        tag = elm.Tag(width=w + 0.5, height=0.5).at(p)
        tag = tag.right() if direction == "right" else tag.left()
        self.flags.append(name)
        return self.add(tag.label(text, fontsize=FONT))

    def note(self, p, text, width=60, size=NOTE_FONT, halign="left", valign="top"):
        """A paragraph (or several, separated by blank lines) wrapped to `width` characters."""
        lines = []
        for para in text.strip().split("\n"):
            lines.extend(textwrap.wrap(para, width) or [""])
        return self.label(p, "\n".join(lines), halign, valign, size)

    # ---- logic and ICs
    def gate(self, kind, at, anchor="out", inputs=2, **kw):
        cls = {"and": logic.And, "or": logic.Or, "not": logic.Not, "buf": logic.Buf}[kind]
        g = cls(inputs=inputs, **kw) if kind in ("and", "or") else cls(**kw)
        return self.add(g.at(at).anchor(anchor).right())

    def opamp(self, at, anchor="in2", flip=False):
        op = elm.Opamp(leads=False).at(at).anchor(anchor).right()
        if flip:
            op = op.flip()
        return self.add(op)

    # ---- page
    def finish(self):
        """Frame, title block; returns the Drawing."""
        self.wire((0, 0), (W, 0), (W, H), (0, H), (0, 0))
        tb_w, tb_h = 13.0, 1.9
        x0 = W - tb_w
        self.wire((x0, 0), (x0, tb_h), (W, tb_h))
        self.wire((x0, tb_h - 0.75), (W, tb_h - 0.75))
        self.label((x0 + 0.2, tb_h - 0.37), self.title, "left", "center", 13)
        self.label((W - 0.2, tb_h - 0.37), "%d / %d" % (self.number, self.total), "right")
        self.label(
            (x0 + 0.2, 0.6),
            "tvns OS-1 reference output stage (bench research hardware, not a medical device)\n"
            "values: hardware/BOM.csv and hardware/spice/stage.lib; drawn by "
            "hardware/schematic.py\n[n] beside a net name: the sheet where the net continues",
            "left",
            "center",
            8,
        )
        return self.d


# ---- the controller's pins (hardware/boards/pico.json; physical pins of the Pico module:
# PICO_PHYSICAL, the pinout `tvns board check` holds the map's `header` fields against)


def pico_pins():
    """{signal: (gpio, physical pin, dir, pull)} from hardware/boards/pico.json."""
    import json

    from tvns_tools.firmware import ROOT

    data = json.loads((ROOT / "hardware" / "boards" / "pico.json").read_text())
    out = {}
    for name, p in data["pins"].items():
        out[name] = (p["gpio"], PICO_PHYSICAL[p["gpio"]], p["dir"], p.get("pull"))
    return out


def pico_pin(name):
    """'GP6 / pin 9' for a pico.json signal name."""
    gpio, phys, _, _ = pico_pins()[name]
    return "GP%d / pin %d" % (gpio, phys)


def ic_box(sheet, ref, value, center, size, pins, label="above"):
    """An IC as a box: pins = [(name, number, side, slot)] with side L/R/T/B and slot like
    '1/2'; the designator and value above or below the box (or at a given point, left
    aligned). Returns the placed schemdraw Ic (anchors by pin name)."""
    ic = elm.Ic(
        size=size,
        pins=[elm.IcPin(name=n, pin=str(num), side=side, slot=slot) for n, num, side, slot in pins],
        pinspacing=0,
        lsize=FONT,
        plblsize=PIN_FONT,
        leadlen=0.5,
    )
    ic = sheet.add(ic.at(center).anchor("center").theta(0))
    cx, cy = center
    if label == "above":
        sheet.ref((cx, cy + size[1] / 2 + 0.15), ref, value, "center", "bottom")
    elif label == "below":
        sheet.ref((cx, cy - size[1] / 2 - 0.15), ref, value, "center", "top")
    else:
        sheet.ref(label, ref, value)
    return ic


def local_net(sheet, p, name, direction="down", length=0.4):
    """A short stub from pin p ending in a net name (the same name elsewhere on the sheet
    is the same net): keeps crossing wires off the page."""
    dx, dy = {"down": (0, -length), "up": (0, length), "left": (-length, 0), "right": (length, 0)}[
        direction
    ]
    end = (p[0] + dx, p[1] + dy)
    sheet.wire(p, end)
    h, v = {"down": ("center", "top"), "up": ("center", "bottom"), "left": ("right", "center")}.get(
        direction, ("left", "center")
    )
    off = {"down": (0, -0.05), "up": (0, 0.05), "left": (-0.08, 0), "right": (0.08, 0)}[direction]
    sheet.label((end[0] + off[0], end[1] + off[1]), name, h, v)
    return end


def gate(sheet, kind, out_at, pins, ref, value, label="below", inputs=2):
    """A logic gate with its output at out_at; pins = (input pins..., output pin); the
    designator and value under (or over) the symbol. Returns its anchors."""
    from schemdraw import logic as lg

    cls = {"and": lg.And, "or": lg.Or, "not": lg.Not, "schmitt": lg.Schmitt}[kind]
    g = cls(inputs=inputs) if kind in ("and", "or") else cls()
    a = sheet.add(g.at(out_at).anchor("out").right()).absanchors
    ins = ["in1", "in2", "in3"][: len(pins) - 1]
    for k, (name, num) in enumerate(zip(ins, pins[:-1])):
        p = a[name]
        dx = -0.25 if kind == "schmitt" else 0.17  # the Schmitt symbol has no input lead
        sheet.pin((p[0] + dx, p[1]), num, "above" if k == 0 else "below")
    sheet.pin((a["out"][0] + 0.2, a["out"][1]), pins[-1], "above")
    x_mid = (a[ins[0]][0] + a["out"][0]) / 2
    ys = [a[n][1] for n in ins]
    gap = 0.6 if kind in ("not", "schmitt") else 0.45  # 1-input bodies reach 0.5 off the pin
    if label == "below":
        sheet.ref((x_mid, min(ys) - gap), ref, value, "center", "top")
    else:
        sheet.ref((x_mid, max(ys) + gap), ref, value, "center", "bottom")
    return a
