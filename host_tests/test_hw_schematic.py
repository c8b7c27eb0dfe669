"""The OS-1 schematic sheets (hardware/schematic/, drawn by hardware/schematic.py): current,
clean (no text on text or on a wire, all inside the page), and the same parts as the
netlist (hardware/spice/stage.lib element lines) and the BOM (hardware/BOM.csv)."""

import json
import re

import pytest
from tvns_tools.firmware import ROOT
from tvns_tools.hw import sheets
from tvns_tools.hw.sheets import kit, overlap, parts, s1_block


@pytest.fixture(scope="module")
def drawn():
    return sheets.build()


@pytest.fixture(scope="module")
def refs(drawn):
    out = {}
    for sheet in drawn:
        for ref, value in sheet.parts:
            assert ref not in out, "%s drawn twice (sheets %s and %d)" % (
                ref,
                out[ref][1],
                sheet.number,
            )
            out[ref] = (value, sheet.number)
    return out


def _bom_by_ref():
    return {r: row for row in parts.bom_rows() for r in row["refs"]}


def test_sheets_are_current(drawn):
    """Each committed SVG was drawn from today's geometry, each PNG from its SVG."""
    assert [s.number for s in drawn] == list(range(1, 9))
    assert sheets.stale(drawn) == [], "run: .venv/bin/python hardware/schematic.py"


def test_no_text_overlaps_and_all_inside_the_page(drawn):
    for sheet in drawn:
        assert overlap.problems(sheet.d, kit.W, kit.H) == [], sheet.slug


def test_overlap_check_sees_a_label_on_a_wire():
    """The checker itself: a label across a wire and two labels on each other are found."""
    s = kit.Sheet(9, "probe", "probe")
    s.wire((2, 5), (8, 5))
    s.label((4, 5), "on the wire", "left", "center")
    s.label((4, 8), "first", "left", "center")
    s.label((4.2, 8), "second", "left", "center")
    s.finish()
    found = overlap.problems(s.d, kit.W, kit.H)
    assert any("on a line" in p and "on the wire" in p for p in found)
    assert any("overlap" in p and "first" in p for p in found)


def test_every_drawn_part_is_in_the_bom_and_the_netlist_with_its_value(refs):
    bom = _bom_by_ref()
    elements = parts.stage_elements()
    by_designator = {parts.designator_of(e): e for e in elements}
    for ref, (value, sheet) in refs.items():
        base = parts.base_ref(ref)
        assert base in bom, "%s (sheet %d) is not in hardware/BOM.csv" % (ref, sheet)
        row = bom[base]
        if row["netlist"] is not None:  # simulated: its elements are the netlist's
            assert row["netlist"], ref
            for e in row["netlist"]:
                assert e in elements, "%s: BOM names %s, not in stage.lib" % (ref, e)
        drawn_value = parts.bom_number(value) if value else None
        if base[0] in "RCL" and row["values"].get(base) is not None:
            assert drawn_value == pytest.approx(row["values"][base], rel=1e-9), ref
            element = by_designator.get(base)
            if element is not None and elements[element][1] is not None:
                assert drawn_value == pytest.approx(elements[element][1], rel=1e-9), ref
        elif value and base.startswith("U"):
            assert (
                re.sub(r"\s", "", value.split("\n")[0]).upper()
                in re.sub(r"\s", "", row["part"]).upper()
            ), (
                ref,
                value,
                row["part"],
            )


def test_every_netlist_element_is_drawn_or_explained(refs):
    drawn_bases = {parts.base_ref(r) for r in refs}
    explained = {}
    for row in parts.bom_rows():
        for e in row["netlist"] or []:
            explained.setdefault(e, []).extend(row["refs"])
    for e in parts.stage_elements():
        if e in parts.SIM_ONLY:
            continue
        d = parts.designator_of(e)
        if d in drawn_bases or parts.base_ref(d) in drawn_bases:
            continue
        assert e in explained, "%s: no BOM row names it and it is not drawn" % e
        assert set(explained[e]) & drawn_bases, "%s: its parts %s are not drawn" % (
            e,
            explained[e],
        )


def test_every_bom_part_is_drawn(refs):
    drawn_bases = {parts.base_ref(r) for r in refs}
    for row in parts.bom_rows():
        for ref in row["refs"]:
            assert ref in drawn_bases, "%s is in the BOM but on no sheet" % ref


def test_renamed_elements_follow_the_designator_rule():
    elements = parts.stage_elements()
    for name, ref in (("MQ1", "Q1"), ("XU2A", "U2A"), ("R20", "R20"), ("C10", "C10")):
        assert name in elements and parts.designator_of(name) == ref
    assert parts.spice_number("1.3k") == 1300.0 and parts.spice_number("1Meg") == 1e6
    assert parts.bom_number("4.7 kΩ") == pytest.approx(4700)


def test_block_diagram_has_every_pico_pin_the_stage_uses():
    pins = json.loads((ROOT / "hardware" / "boards" / "pico.json").read_text())["pins"]
    # the trigger input and the marker output are the experiment's interface (docs/GATING.md:
    # through an isolator), not the output stage's
    assert set(s1_block.NETS) == set(pins) - {"i2c_sda", "i2c_scl", "trigger", "marker"}
    assert kit.pico_pin("dac_pwm") == "GP6 / pin 9"
    assert kit.pico_pin("sense_adc") == "GP26 / pin 31"


def test_block_diagram_esp32_pins_match_its_board_file():
    path = ROOT / "hardware" / "boards" / "esp32-devkitc.json"
    if not path.exists():
        pytest.skip("no hardware/boards/esp32-devkitc.json on this branch (issue 12)")
    pins = json.loads(path.read_text())["pins"]
    for sig, (gpio, header) in s1_block.ESP32.items():
        assert pins[sig]["gpio"] == gpio and pins[sig]["header"] == header, sig
