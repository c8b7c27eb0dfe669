"""The exact-number modules one rule at a time, in plain asserts (pytest under CPython;
mp_runner.py under both MicroPython runtimes, test_micropython.py): tvns/units.py (decimal
text -> integer units), tvns/figures.py (integer figures and exact limit checks) and
tvns/jsonscan.py (strict JSON, both of its paths). Every expected value here is worked out
by hand or by an independent integer formula, not by the code under test."""

from tvns import figures as G
from tvns import jsonscan as J
from tvns import units as U


# ---- units ----
def test_to_units_every_spelling():
    cases = (
        ("0.127", 3, (U.OK, 127)),
        ("0.1270", 3, (U.OK, 127)),
        ("000.127", 3, (U.OK, 127)),
        ("10", 3, (U.OK, 10000)),
        ("10.000", 3, (U.OK, 10000)),
        ("-1.5", 3, (U.OK, -1500)),
        ("-0", 3, (U.OK, 0)),
        ("0.0", 0, (U.OK, 0)),
        ("0", 3, (U.OK, 0)),
        ("1.27e-1", 3, (U.OK, 127)),
        ("1.27E-1", 3, (U.OK, 127)),
        ("127e-3", 3, (U.OK, 127)),
        ("0.0127e1", 3, (U.OK, 127)),
        ("2.5e2", 0, (U.OK, 250)),
        ("2.5e+2", 0, (U.OK, 250)),
        ("25e001", 0, (U.OK, 250)),
        ("1e0", 0, (U.OK, 1)),
        ("0e999999999999", 3, (U.OK, 0)),
        ("1.0005", 3, (U.RESOLUTION, None)),
        ("1.0001e0", 3, (U.RESOLUTION, None)),
        ("1e-4", 3, (U.RESOLUTION, None)),
        ("1e-99999999", 3, (U.RESOLUTION, None)),
        ("999999.999", 3, (U.OK, 999999999)),  # 9 digits: the most there is room for
        ("1000000", 3, (U.HUGE, None)),  # 10 digits of units
        ("1000000.0001", 3, (U.HUGE, None)),  # too big first, not too fine
        ("999999999", 0, (U.OK, 999999999)),
        ("1000000000", 0, (U.HUGE, None)),
        ("1e9", 0, (U.HUGE, None)),
        ("1e8", 0, (U.OK, 100000000)),
        ("1e306", 3, (U.HUGE, None)),
        ("-1e306", 3, (U.HUGE, None)),
        ("1e99999999999", 0, (U.HUGE, None)),
        ("1" + "0" * 30 + ".5", 0, (U.HUGE, None)),
        ("NaN", 3, (U.NOT_FINITE, None)),
        ("-Infinity", 3, (U.NOT_FINITE, None)),
        ("inf", 3, (U.NOT_FINITE, None)),
        ("nan", 3, (U.NOT_FINITE, None)),
    )
    for text, places, want in cases:
        assert U.to_units(text, places) == want, (text, places, U.to_units(text, places))
        assert U._exact(text, places) == want, (text, places)  # the path with exponents


def test_show_and_excerpt():
    assert U.show(3600000, 3) == "3600" and U.show(127, 3) == "0.127" and U.show(5, 3) == "0.005"
    assert U.show(1500, 3) == "1.5" and U.show(-1500, 3) == "-1.5" and U.show(-7, 0) == "-7"
    assert U.show(5000000, 6) == "5" and U.show(8651335, 6) == "8.651335"
    assert U.show(0, 2) == "0" and U.show(1, 2) == "0.01"
    assert U.excerpt("1" * 24) == "1" * 24
    assert U.excerpt("1" * 25) == "1" * 21 + "..." and len(U.excerpt("9" * 3000)) == 24


# ---- figures ----
def _round_div(a, b):  # round(a / b), halves up, for a, b > 0
    return (2 * a + b) // (2 * b)


def test_period_and_frequency_round_to_nearest_halves_up():
    for mhz in (1000, 1001, 7000, 25000, 25600, 33333, 33334, 99999, 100000, 4999, 3):
        assert G.period_us(mhz) == _round_div(10**9, mhz), mhz
    assert G.period_us(25600) == 39063  # 39062.5: the half goes up
    assert G.period_us(33333) == 30000 and G.period_us(1000) == 1000000
    for p in (10000, 30000, 30003, 39063, 142857, 999999, 1000000, 3):
        assert G.frequency_mhz(p) == _round_div(10**9, p), p
    assert G.frequency_mhz(80000) == 12500 and G.frequency_mhz(16) == 62500000


def test_isqrt_is_exact_at_and_around_perfect_squares():
    big = (10**15 + 7, 3 * 10**20 + 1, 2**60 + 3)  # past a double's 53 bits: corrections run
    for r in (0, 1, 2, 3, 10, 99, 1000, 46340, 46341, 10**6 + 3, 10**8 + 7, 3 * 10**9 + 1) + big:
        for m in (r * r - 1, r * r, r * r + 1, r * r + 2 * r, r * r + 2 * r + 1):
            if m >= 0:
                x = G.isqrt(m)
                assert x * x <= m < (x + 1) * (x + 1), (m, x)


def test_rms_and_density_round_to_the_nearest_unit():
    # rms_ua = round(sqrt(amp^2 * 2w / p)); density = round(100 * rms_exact / A)
    cases = (
        (1000, 250, 40000, 100),
        (10000, 1000, 10000, 1),
        (1, 20, 10**6, 10000),
        (127, 20, 30000, 53),
        (2500, 250, 30030, 100),
        (5000, 1000, 10**6, 35),
    )
    for amp, w, p, a100 in cases:
        for num, den, got in (
            (amp * amp * 2 * w, p, G.rms_current_ua(amp, w, p)),
            (amp * amp * 2 * w * 10000, p * a100 * a100, G.rms_density_ua_cm2(amp, w, p, a100)),
        ):
            # got - 1/2 <= sqrt(num / den) < got + 1/2, squared out
            assert got == 0 or (2 * got - 1) ** 2 * den <= 4 * num, (amp, w, p, a100, got)
            assert 4 * num < (2 * got + 1) ** 2 * den, (amp, w, p, a100, got)
    assert G.rms_current_ua(1000, 250, 40000) == 112  # 111.803


def test_density_limit_is_exact_at_its_edge():
    # 2 mA/cm2 on 1 cm2 at 250 us / 40000 us: amp^2 * 2 * 250 * 10^4 <= 2000^2 * 40000 * 100^2
    # <=> amp <= 17888.5 uA... with area 0.1 cm2 (10): amp <= 1788.85
    assert not G.density_above(1788, 250, 40000, 10, 2000)
    assert G.density_above(1789, 250, 40000, 10, 2000)
    # exactly on the limit is allowed (<=): 2w/p = 1/4, so 4 mA give 2 mA r.m.s. on 1 cm2
    assert not G.density_above(4000, 500, 4000, 100, 2000)
    assert G.density_above(4001, 500, 4000, 100, 2000)


def _shannon_exact(pc, a100, k1000):  # (pc^2 / (1e10 a100))^1000 >= 10^k1000, squared out
    return pc ** (2 * 1000) >= 10 ** (k1000 + 10 * 1000) * a100**1000


def _shannon_any(pc, a100, k1000):  # the same for a k of either sign
    e = k1000 + 10 * 1000
    lhs = pc ** (2 * 1000)
    rhs = a100**1000
    return lhs >= rhs * 10**e if e >= 0 else lhs * 10**-e >= rhs


def test_shannon_limit_is_exact_near_its_edge_and_clear_far_from_it():
    # 5 uC (5e6 pC): k = 2 log10(5) - log10(A) + ... crosses 1.85 between A = 0.35 and 0.36
    for pc in (4970000, 4980000, 5000000, 1000, 250000, 5000000):
        for a100 in (1, 30, 35, 36, 100, 10000):
            assert G.shannon_at_or_above(pc, a100, 1850) == _shannon_exact(pc, a100, 1850)
    # right at the edge (within the float estimate's margin): the integer comparison decides
    a100 = 35
    lo, hi = 4900000, 5100000
    while hi - lo > 1:  # the largest charge still below k = 1.85 on 0.35 cm2
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if not _shannon_exact(mid, a100, 1850) else (lo, mid)
    for pc in (lo - 1, lo, hi, hi + 1):
        assert G.shannon_at_or_above(pc, a100, 1850) == _shannon_exact(pc, a100, 1850), pc
    assert not G.shannon_at_or_above(lo, a100, 1850) and G.shannon_at_or_above(hi, a100, 1850)
    # other limits reduce their fraction the same way (k = 2.000, 1.5, 0, -12.345), exactly
    for k in (2000, 1500, 0, -12345, 1850, 1851, -1):
        for pc in (20, 999, 10**4, 10**5, 250000, 5 * 10**6, 10**7, 10**10):
            for a100 in (1, 35, 100, 10000):
                if pc**2 < 10**40:  # keep the reference's powers small enough
                    want = _shannon_any(pc, a100, k)
                    assert G.shannon_at_or_above(pc, a100, k) == want, (pc, a100, k)


def test_shannon_k_x1000_digits():
    # k = log10(Q) + log10(Q / A): 0.25 uC on 1 cm2 -> -1.20412; 5 uC on 0.36 -> 1.84164
    assert G.shannon_k_x1000(250000, 100) == -1204
    assert G.shannon_k_x1000(5000000, 36) == 1842
    assert G.shannon_k_x1000(1000000, 100) == 0  # 1 uC on 1 cm2
    assert G.shannon_k_x1000(10000000, 1) == 4000  # 10 uC on 0.01 cm2: 1 + 3
    assert G.shannon_k_x1000(20, 10000) == -11398  # 2e-5 uC on 100 cm2
    assert G._log2_q(1) == 0 and G._log2_q(2) == 1 << 14 and G._log2_q(1024) == 10 << 14
    assert abs(G._log2_q(3) - 25966) <= 2  # log2(3) x 2^14 = 25966.2


def _log2_q_loops(n):
    """The integer log2 as it was before the viper version: the reference it must equal."""
    e = 0
    while n >> (e + 4):
        e += 4
    while n >> (e + 1):
        e += 1
    one = 1 << 14
    y = n << (14 - e) if e <= 14 else n >> (e - 14)
    frac = 0
    for _ in range(14):
        y = y * y >> 14
        frac <<= 1
        if y >= 2 * one:
            y >>= 1
            frac |= 1
    return e * one + frac


def test_log2_q_same_as_the_loops_over_its_range():
    """_log2_q (viper on a board: machine words, constant shifts) equals the plain loops for
    every n it is given (a charge in pC or an area in 0.01 cm2: 1 <= n < 2**30)."""
    ns = list(range(1, 3000)) + [2**k + d for k in range(12, 30) for d in (-1, 0, 1)]
    x = 7
    for _ in range(3000):  # a linear congruential walk over 1 .. 2**30 - 1 (any runtime)
        x = (x * 1103515245 + 12345) % (1 << 30)
        ns.append(x or 1)
    for n in ns:
        assert G._log2_q(n) == _log2_q_loops(n), n


# ---- jsonscan ----
def _loads(text):
    return J.loads(text if type(text) is bytes else text.encode())


def _fails(text):
    try:
        _loads(text)
    except J.JsonError as exc:
        return str(exc)
    return None


def test_valid_json_is_read_with_numbers_as_text():
    v, dups = _loads(' { "a" : [1, -0.5e-3, 2E+2, true, false, null, "x"] , "b":{}, "c": [] }\n')
    assert dups == [] and v["b"] == {} and v["c"] == []
    a = v["a"]
    assert [x.text for x in a[:3]] == ["1", "-0.5e-3", "2E+2"] and a[3:] == [True, False, None, "x"]
    v, _ = _loads('{"n": NaN, "i": Infinity, "m": -Infinity, "z": 0, "e": ""}')
    assert [v[k].text for k in "nimz"] == ["NaN", "Infinity", "-Infinity", "0"] and v["e"] == ""
    assert _loads("[]")[0] == [] and _loads('"s"')[0] == "s" and _loads("7")[0].text == "7"


def test_escapes_and_strict_utf8():
    v, _ = _loads(r'["\"\\\/\b\f\n\r\t", "\u0041\u00e9", "\ud83d\ude00", "caf' + "\u00e9" + '"]')
    assert v == ['"\\/\b\f\n\r\t', "A\u00e9", "\U0001f600", "caf\u00e9"]
    assert _loads(b'["\xf0\x9f\x98\x80", "\xe2\x82\xac", "\xc3\xa9", "\xf4\x8f\xbf\xbf"]')[0] == [
        "\U0001f600",
        "\u20ac",
        "\u00e9",
        "\U0010ffff",
    ]
    for bad in (
        r'"\ud83d"',  # a lone high surrogate
        r'"\ud83d\u0041"',  # not followed by a low one
        r'"\ude00"',  # a lone low surrogate
        r'"\u12"',
        r'"\u12g4"',
        r'"\x"',
        '"a\x01b"',
        '"open',
    ):
        assert _fails(bad), bad
    for raw in (b"\xc0\x80", b"\xc1\xbf", b"\xe0\x80\x80", b"\xe0\x9f\xbf", b"\xed\xa0\x80",
                b"\xf0\x80\x80\x80", b"\xf0\x8f\xbf\xbf", b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80",
                b"\xff", b"\x80", b"\xc3", b"\xe2\x82", b"\xc3\x28", b"\xe2\x28\xa1",
                b"\xf0\x9f\x28\x80"):  # fmt: skip
        assert _fails(b'["' + raw + b'"]'), raw
    assert "byte 2" in _fails(b'["\xff"]')


def test_numbers_and_structure_are_strict():
    for good in (
        "0",
        "-0",
        "0.5",
        "10",
        "1e5",
        "1E-5",
        "-1.25e+10",
        "123456789012345678901234567890",
    ):
        assert _loads(good)[0].text == good
    for bad in ("01", "-", "1.", ".5", "1e", "1e+", "+1", "--1", "0x10", "1.e5", "- 1", "Inf"):
        assert _fails(bad), bad
    bad_texts = ("{", "}", "[1,]", "[,1]", "[1 2]", '{"a":1,}', '{"a" 1}', '{"a":}', "{1: 2}")
    bad_texts += ('{"a":1 "b":2}', "tru", "nul", "[1]x", "", " ", "[1,\x0c2]", '{"a":1}}')
    for bad in bad_texts:
        assert _fails(bad), bad


def test_nesting_limit_and_duplicates_at_the_top_only():
    ok = "[" * J.MAX_DEPTH + "]" * J.MAX_DEPTH
    assert _fails(ok) is None
    assert "too deep" in _fails("[" * (J.MAX_DEPTH + 1) + "]" * (J.MAX_DEPTH + 1))
    assert "too deep" in _fails('{"a":' * (J.MAX_DEPTH + 1) + "1" + "}" * (J.MAX_DEPTH + 1))
    v, dups = _loads('{"a": 1, "b": {"c": 1, "c": 2}, "a": 3, "a": 4}')
    assert dups == ["a", "a"] and v["a"].text == "4" and v["b"]["c"].text == "2"


def test_the_fast_path_steps_aside_for_what_it_does_not_handle():
    flat = b'{"a": 1, "b": "x", "c": true}'
    assert J._flat(flat) is not None
    others = (b'{"a": [1]}', b'{"a": "\\n"}', b'{"a": 1,}', b'{"a": 1} x', b'{"a"\x0c: 1}')
    others += (b'{"a": 01}', b"{}", b"[1]", b'{"a": 1', b'{"a": "x" "b": 2}', b'{"a":"x\x01"}')
    for other in others:
        assert J._flat(other) is None, other
    v, dups = J._flat(b'{"a": 1, "a": "two"}')
    assert dups == ["a"] and v["a"] == "two"


def test_member_span_both_ways():
    line = b'{"id": 1, "cmd": "load", "protocol": {"a": 1, "b": "}"}, "pin": "x"}'
    want = (line.index(b'{"a"'), line.index(b', "pin"'))
    assert J.member_span(line, "protocol") == want  # a brace in a string: the walk decides
    assert J._span_flat(line, "protocol") is None
    line2 = b'{"id": 1, "protocol":\t{"a": 1}, "cmd": "load"}'
    assert J._span_flat(line2, "protocol") == (line2.index(b'{"a"'), line2.index(b', "cmd"'))
    assert J.member_span(b'{"id": 1}', "protocol") is None
    assert J.member_span(b"[1]", "protocol") is None
    esc = b'{"x": "say \\"protocol\\"", "protocol": {"a": 2}}'
    assert J.member_span(esc, "protocol") == (esc.index(b'{"a"'), len(esc) - 1)
    two = b'{"protocol": {"a": 1}, "protocol": {"a": 2}}'
    assert J.member_span(two, "protocol") == (two.rindex(b'{"a"'), len(two) - 1)  # the last
    text = b'{"protocol": "{\\"a\\": 1}"}'
    start, end = J.member_span(text, "protocol")
    assert text[start:end] == b'"{\\"a\\": 1}"'


def test_the_edges_of_utf8_escapes_and_hex():
    for good in (b"\xc2\x80", b"\xdf\xbf", b"\xe0\xa0\x80", b"\xed\x9f\xbf", b"\xee\x80\x80",
                 b"\xef\xbf\xbf", b"\xf0\x90\x80\x80", b"\xf3\xbf\xbf\xbf", b"\xf4\x8f\xbf\xbf",
                 b"\xe1\x80\x80", b"\xec\xbf\xbf", b"\xf1\x80\x80\x80"):  # fmt: skip
        assert _loads(b'"' + good + b'"')[0] == good.decode(), good
    for bad in (b"\xe0\xa0", b"\xf0\x90\x80", b"\xe1\x7f\x80", b"\xe1\x80\xc0", b"\xf1\x80\x80\x7f",
                b"\xed\xbf\xbf", b"\xf4\xbf\xbf\xbf", b"\xc2\xc0"):  # fmt: skip
        assert _fails(b'"' + bad + b'"'), bad
    hexes = (("\\u0030", "0"), ("\\u0039", "9"), ("\\u0041", "A"), ("\\u0046", "F"),
             ("\\u0061", "a"), ("\\u0066", "f"), ("\\u00aF", "\u00af"), ("\\uD7FF", "\ud7ff"),
             ("\\uE000", "\ue000"), ("\\uFFFF", "\uffff"), ("\\ud800\\udc00", "\U00010000"),
             ("\\udbff\\udfff", "\U0010ffff"))  # fmt: skip
    for esc, want in hexes:
        assert _loads('"%s"' % esc)[0] == want, esc
    for esc in ("\\u00g0", "\\u00G0", "\\u00/0", "\\u00:0", "\\u00@0", "\\u00`0", "\\ud800\\ud800",
                "\\ud800\\ue000", "\\ud800x", "\\udfff"):  # fmt: skip
        assert _fails('"%s"' % esc), esc


def test_span_flat_takes_only_what_it_can_prove():
    base = b'{"id": 1, "cmd": "load", "protocol": {"a": 1, "b": "x"}}'
    got = J._span_flat(base, "protocol")
    assert got is not None and base[got[0] : got[1]] == b'{"a": 1, "b": "x"}'
    for line in (
        b'{"protocol": {"a": 1}, "x": {"protocol": {"b": 2}}}',  # the key twice
        b'{"n": "\\"protocol\\":", "protocol": {"a": 1}}',  # a backslash anywhere
        b'{"n": "{", "protocol": {"a": 1}}',  # a brace in a string before it
        b'{"n": "}", "protocol": {"a": 1}}',
        b'{"n": "a\\"protocol\\": {}"}',
        b'{"x": {"protocol": {"a": 1}}}',  # not at the top
        b'{"protocol": [1]}',  # not an object
        b'{"protocol": "text"}',
        b'{"protocol": {"a": {"b": 1}}}',  # nested: the walk decides
        b'{"protocol": {"a": "}"}}',  # a closing brace in a string inside it
        b'{"protocol": {"a": 1',  # never closed
        b' {"protocol": {"a": 1}}',  # not a '{' first
    ):
        assert J._span_flat(line, "protocol") is None, line
    line = b'{"protocol":\n\r {"a": 1}}'
    assert J._span_flat(line, "protocol") == (line.index(b'{"a"'), len(line) - 1)


def test_float_text_is_what_a_person_typed():
    from tvns import protocol

    assert protocol._float_text(0.127) == "0.127" and protocol._float_text(100.0) == "100.0"
    assert protocol._float_text(0.1 + 0.2) == "0.3"  # 17 digits: rounded to 15
    assert protocol._float_text(0.5600000000000001) in ("0.56", "0.5600000000000001")
    assert protocol._float_text(1e-07) in ("1e-07", "1.0e-07")
    assert protocol._float_text(0.000123456789012345) == repr(0.000123456789012345)
    assert protocol._float_text(float("nan")) == "nan"
    assert protocol._float_text(-2.5) == "-2.5"


def test_titration_params_are_judged_exactly_as_protocols_are():
    # The values issue 17 found refused by a float tolerance under single floats: exact
    # in uA on every runtime, because titration uses the protocol's rule (checks.py).
    from tvns import errors as E
    from tvns import titration as T

    p = T.read_params({"start_ma": 0.127, "up_ma": 0.251, "down_ma": 0.502, "cap_ma": 2})
    assert (p["start_ma"], p["up_ma"], p["down_ma"], p["cap_ma"]) == (127, 251, 502, 2000)
    assert (
        p["electrode_area_cm2"] == 100
        and T.read_params({"electrode_area_cm2": 0.53})["electrode_area_cm2"] == 53
    )
    for bad, code in (({"rise_ma": 0.0005}, E.RESOLUTION), ({"cap_ma": 6}, E.OUT_OF_RANGE)):
        try:
            T.read_params(bad)
        except E.TvnsError as exc:
            assert exc.code == code and exc.field == "params." + list(bad)[0]
        else:
            raise AssertionError("accepted %r" % (bad,))


def test_integer_log2_exponent_for_every_bit_length():
    # _log2_q finds floor(log2(n)) four bits a step: the same as one bit at a time
    import math

    one = G._log2_q(2)  # log2(2) in its fixed point (_LOG_BITS is a const: no attribute)
    for e in range(0, 40):
        for n in (1 << e, (1 << e) | 1, (2 << e) - 1):
            q = G._log2_q(n)
            assert q // one == e, n
            assert abs(q / one - math.log2(n)) < 2e-4, n
