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


def svg_of(sheet):
    data = sheet.d.get_imagedata("svg")
    return data if isinstance(data, bytes) else data.encode()


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


def stale(sheets, out_dir=OUT_DIR):
    """Files that differ from what the script draws now (empty = current)."""
    bad = []
    for sheet in sheets:
        stem = file_stem(sheet)
        svg = svg_of(sheet)
        svg_path, png_path = out_dir / (stem + ".svg"), out_dir / (stem + ".png")
        if not svg_path.exists() or svg_path.read_bytes() != svg:
            bad.append(svg_path.name)
        if not png_path.exists() or png_key(png_path.read_bytes()) != hashlib.sha256(
            svg
        ).hexdigest():
            bad.append(png_path.name)
    return bad


def main(argv):
    sheets = build()
    if "--check" in argv:
        bad = stale(sheets)
        for name in bad:
            print("stale: hardware/schematic/%s" % name)
        return 1 if bad else 0
    write(sheets)
    return 0
