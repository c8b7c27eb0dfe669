"""How a report is written out: everything a protocol, a meta file or a log carries is data,
never markup. Markdown cells escape the characters that make links, images, emphasis, code,
HTML or a new table cell or row; the HTML page is built from the same rows with every field
escaped (never by rendering Markdown, whose inline HTML would pass through), and carries its
plots as data: URIs, so the one file is the whole report."""

import base64
import html
import re

# What can make markup inside a table cell: code, emphasis, links and images, a new cell.
# (HTML is handled by entities below; a newline would end the row: cells are one line.)
_MD_SPECIAL = re.compile(r"([\\`*\[\]|])")


def md(text):
    """Text for a Markdown table cell or heading: one line, no markup, no HTML."""
    text = " ".join(str(text).split())  # newlines, tabs, CR: one line, one cell
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def h(text):
    return html.escape(str(text), quote=True)


def data_uri(png_path):
    with open(png_path, "rb") as f:
        return "data:image/png;base64," + base64.b64encode(f.read()).decode("ascii")


_STYLE = (
    "body{font-family:sans-serif;max-width:62em;margin:2em auto;padding:0 1em}"
    "table{border-collapse:collapse;margin:.5em 0 1.5em}"
    "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}"
    "td:first-child{white-space:nowrap}.nr{color:#a33}img{max-width:100%}"
)


def page(title, head_lines, sessions, not_recorded):
    """The whole HTML document. sessions: [{"title", "sections": [(name, [(item, value)])],
    "events": [(seq, t_s, kind, detail)], "plot": png path or None, "extra": [(name, rows)]}].
    Values equal to not_recorded are marked (class nr)."""
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # No script, no remote anything: the page shows data and nothing else.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'\">",
        "<title>%s</title><style>%s</style></head><body>" % (h(title), _STYLE),
        "<h1>%s</h1>" % h(title),
    ]
    out += ["<p>%s</p>" % h(line) for line in head_lines if line]
    for s in sessions:
        out.append("<h2>%s</h2>" % h(s["title"]))
        for name, rows in s["sections"] + s.get("extra", []):
            out.append("<h3>%s</h3>" % h(name))
            out.append(_table(("item", "value"), rows, not_recorded))
        out.append("<h3>Events</h3>")
        if s["events"]:
            out.append(_table(("seq", "t (s)", "kind", "detail"), s["events"], not_recorded))
        else:
            out.append("<p>No faults or amplitude changes logged.</p>")
        if s.get("plot"):
            out.append(
                '<p><img alt="%s" src="%s"></p>' % (h("plot: " + s["title"]), data_uri(s["plot"]))
            )
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _table(header, rows, not_recorded):
    cells = ["<table><tr>%s</tr>" % "".join("<th>%s</th>" % h(c) for c in header)]
    for row in rows:
        tds = []
        for c in row:
            cls = ' class="nr"' if str(c).startswith(not_recorded) else ""
            tds.append("<td%s>%s</td>" % (cls, h(c)))
        cells.append("<tr>%s</tr>" % "".join(tds))
    cells.append("</table>")
    return "".join(cells)


def markdown(title, sections, events, plot_name=None):
    """One session's Markdown, every field escaped."""
    lines = ["## " + md(title)]
    for name, rows in sections:
        lines += ["", "### " + md(name), "", "| item | value |", "|---|---|"]
        lines += ["| %s | %s |" % (md(k), md(v)) for k, v in rows]
    lines += ["", "### Events", ""]
    if events:
        lines += ["| seq | t (s) | kind | detail |", "|---|---|---|---|"]
        lines += ["| %s |" % " | ".join(md(c) for c in row) for row in events]
    else:
        lines.append("No faults or amplitude changes logged.")
    if plot_name:
        lines += ["", "![plot](%s)" % plot_name.replace("(", "%28").replace(")", "%29")]
    return "\n".join(lines) + "\n"
