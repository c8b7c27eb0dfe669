"""Every relative link in the Markdown docs resolves: to a file that exists and, with a
#fragment, to a heading in it (GitHub's anchor rule)."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")


def _docs():
    skip = {".venv", ".git", "out", "build", ".pytest_cache", "node_modules"}
    for p in sorted(ROOT.rglob("*.md")):
        if not skip.intersection(p.relative_to(ROOT).parts):
            yield p


def _anchors(path):
    out = set()
    for line in path.read_text().splitlines():
        m = re.match(r"^#+\s+(.*)", line)
        if m:
            text = re.sub(r"[`*_]", "", m.group(1)).strip().lower()
            out.add(re.sub(r"[^\w\- ]", "", text).replace(" ", "-"))
    return out


def test_every_relative_link_in_the_docs_resolves():
    checked, broken = 0, []
    for doc in _docs():
        text = re.sub(r"```.*?```", "", doc.read_text(), flags=re.S)  # code is not links
        for m in LINK.finditer(text):
            target = m.group(1) or m.group(2)
            if re.match(r"^[a-z]+:", target) or target.startswith("#") and not target[1:]:
                continue  # http:, mailto:, data:
            path, _, frag = target.partition("#")
            dest = (doc.parent / path).resolve() if path else doc
            checked += 1
            if not dest.exists():
                broken.append("%s: %s (no such file)" % (doc.relative_to(ROOT), target))
            elif frag and dest.suffix == ".md" and frag not in _anchors(dest):
                broken.append("%s: %s (no such heading)" % (doc.relative_to(ROOT), target))
    assert checked > 20
    assert not broken, "\n".join(broken)


def test_the_reference_is_in_the_repo_and_named_where_limits_are():
    assert (ROOT / "docs" / "REFERENCE.md").exists()
    for name in ("SAFETY.md", "docs/PROTOCOL-FORMAT.md"):
        text = (ROOT / name).read_text()
        assert re.search(r"REFERENCE\.md[^)]*\]\(", text), name  # a link, not a bare name


def _mentions(name):
    """(file, line) of every mention of `name` in the repo's Markdown and Python files."""
    skip = {".venv", ".git", "out", "build", ".pytest_cache", "node_modules"}
    for p in sorted(ROOT.rglob("*")):
        if p.suffix in (".md", ".py") and not skip.intersection(p.relative_to(ROOT).parts):
            for line in p.read_text().splitlines():
                if name in line:
                    yield p, line


def test_the_architecture_is_in_the_repo_linked_and_cited_by_its_path():
    """docs/ARCHITECTURE.md ships with the repo (its invariants are cited by number in
    SAFETY.md, the code and the tests), the README links it, every citation names its path,
    and every test it names exists."""
    arch = ROOT / "docs" / "ARCHITECTURE.md"
    text = arch.read_text()
    assert re.search(r"\]\(docs/ARCHITECTURE\.md[#)]", (ROOT / "README.md").read_text())
    numbered = [int(n) for n in re.findall(r"^(\d+)\. \*\*", text, re.M)]
    assert numbered == list(range(1, 12))  # invariants 1..11, numbering kept for citations
    cited = 0
    for path, line in _mentions("ARCHITECTURE.md"):
        if path in (arch, pathlib.Path(__file__).resolve()):
            continue
        cited += 1
        rel = path.relative_to(ROOT).as_posix()
        in_docs = rel.startswith("docs/") and "(ARCHITECTURE.md" in line  # a relative link
        ok = "docs/ARCHITECTURE.md" in line or in_docs
        assert ok, "%s cites ARCHITECTURE.md without its path: %s" % (rel, line.strip())
    assert cited >= 5
    refs = re.findall(r"`(host_tests/[a-z0-9_]+\.py)::([A-Za-z0-9_]+)`", text)
    assert len(refs) >= 30
    for path, name in refs:
        src = (ROOT / path).read_text()
        assert re.search(r"^(def |class )?%s\b" % name, src, re.M), "%s::%s" % (path, name)
