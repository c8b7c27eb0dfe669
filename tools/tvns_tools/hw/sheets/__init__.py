"""The OS-1 schematic, one sheet per block, drawn with schemdraw into hardware/schematic/.

    .venv/bin/python hardware/schematic.py          # rewrite every SVG and PNG
    .venv/bin/python hardware/schematic.py --check  # exit 1 if a committed file is stale

SVG: schemdraw's own backend with text as paths (ziamath): no fonts, no dates, the same input
gives the same bytes. PNG: that SVG rendered by cairosvg (pinned; needs the cairo library,
Debian libcairo2) at 1.25x, with the SVG's SHA-256 stored in a PNG text chunk, so a check can
tell that each PNG shows the committed SVG without rendering it again."""

import hashlib
import struct
import zlib

import schemdraw
from schemdraw import svgconfig

from tvns_tools.firmware import ROOT

from . import (
    s1_block,
    s2_power,
    s3_setpoint,
    s4_sink,
    s5_bridge,
    s6_sense,
    s7_compare,
    s8_kill,
)

OUT_DIR = ROOT / "hardware" / "schematic"
MODULES = (s1_block, s2_power, s3_setpoint, s4_sink, s5_bridge, s6_sense, s7_compare, s8_kill)
PNG_SCALE = 1.25
PNG_KEY = b"tvns-svg-sha256"


def build():
    """Every sheet, drawn and framed: a list of kit.Sheet (sheet.d is the Drawing)."""
    schemdraw.use("svg")
    svgconfig.text = "path"
    svgconfig.precision = 2
    sheets = []
    for mod in MODULES:
        sheet = mod.draw()
        sheet.finish()
        sheets.append(sheet)
    return sheets


def file_stem(sheet):
    return "%02d-%s" % (sheet.number, sheet.slug)


GEOMETRY_KEY = b"tvns-geometry-sha256"


def fingerprint(sheet):
    """SHA-256 of the sheet's geometry and text (every element's segments, placed): what
    the SVG is a deterministic function of, for the pinned schemdraw/ziamath. Cheap (no
    text rendering), so the test can tell a stale drawing without drawing it again."""
    h = hashlib.sha256()
    for el in sheet.d.elements:
        h.update(type(el).__name__.encode())
        for seg in el.segments:
            g = seg.xform(el.transform, **el.params)
            for name in ("path", "verts", "center", "xy", "radius", "text", "align", "fontsize"):
                v = getattr(g, name, None)
                if v is None:
                    continue
                if name in ("path", "verts"):
                    v = [(round(float(x), 3), round(float(y), 3)) for x, y in v]
                elif name in ("center", "xy"):
                    v = (round(float(v[0]), 3), round(float(v[1]), 3))
                h.update(("%s=%r;" % (name, v)).encode())
    return h.hexdigest()


def svg_of(sheet):
    data = sheet.d.get_imagedata("svg")
    data = data if isinstance(data, bytes) else data.encode()
    end = data.index(b">") + 1  # after the opening <svg ...> tag
    comment = b"<!-- " + GEOMETRY_KEY + b" " + fingerprint(sheet).encode() + b" -->"
    return data[:end] + comment + data[end:]


def svg_key(svg):
    """The geometry fingerprint stored in an SVG written here, or None."""
    marker = b"<!-- " + GEOMETRY_KEY + b" "
    i = svg.find(marker)
    return None if i < 0 else svg[i + len(marker) : i + len(marker) + 64].decode()


def _png_with_key(png, digest):
    """Insert a tEXt chunk (key, SVG digest) after IHDR."""
    body = PNG_KEY + b"\0" + digest.encode()
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body
    chunk += struct.pack(">I", zlib.crc32(b"tEXt" + body) & 0xFFFFFFFF)
    ihdr_end = 8 + 8 + 13 + 4
    return png[:ihdr_end] + chunk + png[ihdr_end:]


def png_key(png):
    """The SVG digest stored in a PNG written here, or None."""
    pos = 8
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        data = png[pos + 8 : pos + 8 + length]
        if kind == b"tEXt" and data.startswith(PNG_KEY + b"\0"):
            return data[len(PNG_KEY) + 1 :].decode()
        pos += 12 + length
    return None


def render_png(svg):
    import cairosvg  # only the writer needs cairo

    png = cairosvg.svg2png(bytestring=svg, scale=PNG_SCALE)
    return _png_with_key(png, hashlib.sha256(svg).hexdigest())


def write(sheets, out_dir=OUT_DIR):
    out_dir.mkdir(parents=True, exist_ok=True)
    for sheet in sheets:
        svg = svg_of(sheet)
        stem = file_stem(sheet)
        (out_dir / (stem + ".svg")).write_bytes(svg)
        (out_dir / (stem + ".png")).write_bytes(render_png(svg))


def stale(sheets, out_dir=OUT_DIR, full=False):
    """Files that differ from what the script draws now (empty = current). Fast: each
    committed SVG carries the fingerprint of the geometry it was drawn from, each PNG the
    SHA-256 of its SVG. full=True also redraws every SVG and compares the bytes."""
    bad = []
    for sheet in sheets:
        stem = file_stem(sheet)
        svg_path, png_path = out_dir / (stem + ".svg"), out_dir / (stem + ".png")
        committed = svg_path.read_bytes() if svg_path.exists() else b""
        fresh = svg_of(sheet) if full else None
        if svg_key(committed) != fingerprint(sheet) or (full and committed != fresh):
            bad.append(svg_path.name)
        digest = hashlib.sha256(committed).hexdigest()
        if not png_path.exists() or png_key(png_path.read_bytes()) != digest:
            bad.append(png_path.name)
    return bad


def main(argv):
    sheets = build()
    if "--check" in argv:
        bad = stale(sheets, full=True)
        for name in bad:
            print("stale: hardware/schematic/%s" % name)
        return 1 if bad else 0
    write(sheets)
    return 0
