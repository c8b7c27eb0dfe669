"""The documents are contracts: the protocol format and the error codes in
docs/PROTOCOL-FORMAT.md must agree with the code; the README's first screen stays true."""

import pathlib
import re

from tvns import errors as E
from tvns import protocol

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _table_first_column(text, heading):
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    return [m.group(1) for m in re.finditer(r"^\| `([a-z0-9_]+)` \|", section, re.M)]


def test_protocol_format_lists_every_field():
    doc = (ROOT / "docs" / "PROTOCOL-FORMAT.md").read_text()
    assert _table_first_column(doc, "## Fields") == [name for name, _ in protocol.FIELDS]
    assert _table_first_column(doc, "## Optional fields") == [
        name for name, _ in protocol.OPTIONAL_FIELDS
    ]


def test_protocol_format_lists_every_trigger_field():
    from tvns import trigger_fields

    doc = (ROOT / "docs" / "PROTOCOL-FORMAT.md").read_text()
    assert _table_first_column(doc, "## The trigger block") == list(trigger_fields.NAMES)


def test_protocol_format_lists_every_error_code_once():
    doc = (ROOT / "docs" / "PROTOCOL-FORMAT.md").read_text()
    listed = _table_first_column(doc, "## Error codes")
    assert listed == list(E.VALIDATION_CODES) + list(E.SESSION_CODES)


def test_readme_first_screen():
    readme = (ROOT / "README.md").read_text()
    first = "\n".join(readme.splitlines()[:40])
    assert "make run" in first and "make test" in first
    assert "not a medical device" in first.lower()
    pics = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", first)
    assert pics and all((ROOT / p).exists() for p in pics)


def _tests_in(path):
    import ast

    tree = ast.parse(path.read_text())
    return {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))} | {
        t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if hasattr(t, "id")
    }


def test_safety_table_names_only_tests_that_exist():
    text = (ROOT / "SAFETY.md").read_text()
    refs = re.findall(r"`(host_tests/[a-z0-9_]+\.py)::([A-Za-z0-9_]+)`", text)
    assert len(refs) >= 30
    for path, name in refs:
        assert (ROOT / path).exists(), path
        assert name in _tests_in(ROOT / path), "%s::%s does not exist" % (path, name)
    rows = [r for r in text.splitlines() if re.match(r"^\| H\d+ \|", r)]
    assert len(rows) >= 20
    for row in rows:
        assert "host_tests/" in row or "bench:" in row, row


def test_safety_fault_table_matches_the_code():
    from tvns import safety

    text = (ROOT / "SAFETY.md").read_text()
    listed = re.findall(r"^\| (\d+) \| `([a-z_]+)` \|", text, re.M)
    assert [(int(c), n) for c, n in listed] == list(enumerate(safety.NAMES))[1:]
