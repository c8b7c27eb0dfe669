"""The one-pass judge (tvns/protoscan.py, protocol._fast) against the full path over a batch
of protocol texts, for test_protoscan.py: runs under CPython and both MicroPython runtimes
alike. Reads a file of JSON lines (each a JSON string: one protocol's text), prints one JSON
line per text: [fast, full], each the Protocol's values (null: no protocol; fast null: the
full path judged it).
Usage: MICROPYPATH=firmware micropython host_tests/mp_protoscan.py FILE"""

import json
import sys

from tvns import jsonscan, protocol

_SKIP = ("_ok", "_derived", "_doc", "trigger")


def values(p):
    """Everything a Protocol holds that `load` and a session use, as plain JSON values."""
    if p is None:
        return None
    d = p.__dict__
    out = {k: d[k] for k in sorted(d) if k not in _SKIP}
    # the header and the text fields (the numbers the full path keeps as their text
    # objects are in _u, in units)
    out["ok"] = {k: v for k, v in p._ok.items() if not isinstance(v, jsonscan.Num)}
    out["doc"] = p.doc
    out["derived"] = p.derived()
    return out


def judge(text, ceiling_ua=8000):
    data = text.encode()
    fast = protocol._fast(data, ceiling_ua)
    doc, dups = None, None
    try:
        doc, dups = jsonscan.loads(data)
    except (jsonscan.JsonError, UnicodeError):
        return [values(fast), None]
    full, _errs = protocol._validate(doc, dups, ceiling_ua)
    return [values(fast), values(full)]


ENVELOPES = (
    '{"id": 1, "cmd": "load", "protocol": %s}',
    '{"protocol":%s,"cmd":"load","id":"a{b}\\"c[", "pin": "1234"}',
    ' {"cmd": "load", "meta": {"protocol": {"x": 1}}, "protocol" : %s , "id": [1, {"a": "}"}]}',
    '{"protocol": {"a": 1}, "protocol": %s, "id": 2, "cmd": "load"}',
    '{"id": 3, "cmd": "load", "proto\\u0063ol": %s}',
    '{"id": 3, "cmd": "load", "protocol": [%s]}',
)


def spans(text):
    """[(fast), (the walk as before)] of the protocol's span in request lines around text."""
    got = []
    for env in ENVELOPES:
        line = (env % text).encode()
        out = jsonscan._SPAN = None
        fast = jsonscan.member_span(line, "protocol")
        before = jsonscan._span_flat(line, "protocol")
        if before is None:
            before = jsonscan._span_walk(line, "protocol")
        got.append([line.decode(), list(fast) if fast else None, list(before) if before else out])
    return got


def main(path):
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                text = json.loads(line)
                print(json.dumps(judge(text) + [spans(text)]))


if __name__ == "__main__":
    main(sys.argv[1])
