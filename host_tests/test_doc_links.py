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
