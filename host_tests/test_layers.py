"""The firmware's layering (docs/ARCHITECTURE.md): board/ is the only room that touches
hardware, the core never imports a board, and no import runs in a circle (lazy imports
included); modules past ~300 lines say why at their top."""

import ast
import pathlib
import re

FIRMWARE = pathlib.Path(__file__).resolve().parent.parent / "firmware"
HARDWARE = ("machine", "rp2", "esp32", "network", "bluetooth", "pyb")


def _module_name(path):
    rel = path.relative_to(FIRMWARE).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path):
    """Every module name imported anywhere in the file (top level or inside a function)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            # `from tvns import protocol` / `from tvns.board import rp2`: submodules
            for a in node.names:
                candidate = node.module + "." + a.name
                if (FIRMWARE / (candidate.replace(".", "/") + ".py")).exists():
                    out.add(candidate)
    return out


def _graph():
    mods = {}
    for path in sorted(FIRMWARE.rglob("*.py")):
        if path.name == "manifest.py":
            continue
        mods[_module_name(path)] = _imports(path)
    return mods


def test_only_board_modules_touch_hardware():
    for name, deps in _graph().items():
        hw = sorted(d for d in deps if d.split(".")[0] in HARDWARE)
        if hw:
            # boot.py drives every output pin low before anything else runs
            assert name.startswith("tvns.board.") or name == "boot", (name, hw)


def test_the_core_never_imports_a_board():
    for name, deps in _graph().items():
        if name.startswith("tvns.") and not name.startswith("tvns.board"):
            assert not [d for d in deps if d.startswith("tvns.board")], name


def test_no_import_cycles():
    mods = _graph()
    graph = {n: {d for d in deps if d in mods} for n, deps in mods.items()}
    done, path = set(), []

    def visit(n):
        if n in path:
            raise AssertionError("import cycle: " + " -> ".join(path[path.index(n) :] + [n]))
        if n in done:
            return
        path.append(n)
        for d in sorted(graph[n]):
            visit(d)
        path.pop()
        done.add(n)

    for n in sorted(graph):
        visit(n)
    assert len(done) >= 20  # every firmware module was visited


def test_main_py_allocates_the_emergency_exception_buffer_first():
    # isr_rules.rst: the buffer must exist before anything can raise in a hard IRQ
    body = ast.parse((FIRMWARE / "main.py").read_text()).body
    assert isinstance(body[0], ast.Import) and body[0].names[0].name == "micropython"
    guarded = body[1]
    assert isinstance(guarded, ast.Try)
    call = guarded.body[0].value
    assert call.func.attr == "alloc_emergency_exception_buf" and call.args[0].value == 100
    assert [h.type.id for h in guarded.handlers] == ["AttributeError"]  # the unix port


# Issue 19: no module over ~300 lines without a reason at its top. The marker: a line that
# starts with "# Longer than ~300 lines" (a comment) or "Longer than ~300 lines" (inside the
# module docstring) within the first 15 lines, followed by the reason.
SIZE_LINES = 300
MARKER = re.compile(r"^(# )?Longer than ~300 lines")
SIZE_EXCEPTIONS = set()  # none: every long module says why


def test_modules_over_300_lines_say_why_at_their_top():
    root = FIRMWARE.parent
    checked, missing = 0, []
    for path in sorted([*FIRMWARE.rglob("*.py"), *(root / "tools").rglob("*.py")]):
        lines = path.read_text().splitlines()
        rel = path.relative_to(root).as_posix()
        if len(lines) <= SIZE_LINES or rel in SIZE_EXCEPTIONS:
            continue
        checked += 1
        if not any(MARKER.match(line) for line in lines[:15]):
            missing.append("%s (%d lines)" % (rel, len(lines)))
    assert checked >= 5
    assert not missing, (
        "over %d lines with no '# Longer than ~300 lines ...: why' in the first 15 lines "
        "(split it, or say why): %s" % (SIZE_LINES, ", ".join(missing))
    )


def test_the_firmware_uses_no_assert():
    # `tvns deploy` compiles with mpy-cross -O3 (as manifest.py freezes), which drops every
    # assert: a check the firmware relies on must raise, never assert.
    found = []
    for path in sorted(FIRMWARE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assert):
                found.append("%s:%d" % (path.relative_to(FIRMWARE).as_posix(), node.lineno))
    assert not found, found
