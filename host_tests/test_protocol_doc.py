"""PROTOCOL.md and the code agree: command names, error codes, the busy policy, exit codes."""

import pathlib
import re

from tvns import commands, console
from tvns import errors as E
from tvns_tools import device as D

DOC = (pathlib.Path(__file__).resolve().parent.parent / "PROTOCOL.md").read_text()


def _section(title):
    m = re.search(r"^## %s\n(.*?)(?=^## |\Z)" % re.escape(title), DOC, re.S | re.M)
    assert m, title
    return m.group(1)


def _table_first_column(text):
    return [m.group(1) for m in re.finditer(r"^\| `([a-z_0-9]+)` \|", text, re.M)]


def test_commands_match():
    assert sorted(_table_first_column(_section("Commands"))) == sorted(commands.COMMANDS)


def test_error_codes_match_and_never_overlap_validation_codes():
    documented = _table_first_column(_section("Error codes"))
    assert len(documented) == len(set(documented))
    assert set(documented) == set(E.CONSOLE_CODES) | set(E.SESSION_CODES)
    assert not set(documented) & set(E.VALIDATION_CODES)


def test_busy_policy_matches():
    text = _section("While stimulating")
    refused = re.search(r"(.*)are \*\*refused\*\*", text).group(1)
    assert sorted(re.findall(r"`(\w+)`", refused)) == sorted(console.REFUSED_WHILE_RUNNING)
    served = set(commands.COMMANDS) - set(console.REFUSED_WHILE_RUNNING)
    assert all("`%s`" % c in text for c in served)


def test_limits_and_timeouts_match():
    assert "**%d bytes**" % console.LINE_MAX_BYTES in DOC
    assert "**%g s** for a reply" % D.REPLY_TIMEOUT_S in DOC
    assert "**%g s** for a" % D.BOOT_TIMEOUT_S in DOC
    assert "at most %d, oldest first" % commands.LOG_REPLY_MAX in DOC


def test_exit_codes_match():
    rows = dict(
        re.findall(r"^\| (\d+) \| (.+) \|$", _section("Host exit codes (`tvns run`)"), re.M)
    )
    assert "DONE" in rows[str(D.EXIT_DONE)] and "STOPPED" in rows[str(D.EXIT_STOPPED)]
    assert "FAULT" in rows[str(D.EXIT_FAULT)] and "refused" in rows[str(D.EXIT_REFUSED)]
    assert "error" in rows[str(D.EXIT_ERROR)]


def test_limits_crc_is_zlib_crc32_of_the_sorted_limit_lines():
    import zlib

    from tvns import limits as L

    table = {k: v for k, v in vars(L).items() if k[:1].isupper() and isinstance(v, int)}
    text = "".join("%s=%d\n" % (k, table[k]) for k in sorted(table))
    assert commands.limits_table() == table
    assert commands.limits_digest() == "%08x" % zlib.crc32(text.encode())
