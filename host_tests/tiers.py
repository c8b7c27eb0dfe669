"""Optional test tiers: a tier that needs something this machine lacks (a Debian tool, the
rp2 firmware image, the board-numerics MicroPython) says so in one line and skips, except
under CI=true, where a missing requirement is a failure: CI must run every tier."""

import os

import pytest


def in_ci():
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(found, what):
    """found: a path/object or None/False. Skip (or fail under CI=true) when it is missing."""
    if found:
        return found
    msg = "%s not found: tier skipped" % what
    if in_ci():
        pytest.fail(msg + " (CI=true: every tier must run)", pytrace=False)
    pytest.skip(msg)


def require_run(found, what):
    """For a whole run (make test's second MicroPython pass): when found is missing, the run
    ends at once with one line, exit 0; under CI=true, exit 1."""
    if found:
        return found
    msg = "%s not found: tier skipped" % what
    if in_ci():
        pytest.exit(msg + " (CI=true: every tier must run)", returncode=1)
    pytest.exit(msg, returncode=0)
