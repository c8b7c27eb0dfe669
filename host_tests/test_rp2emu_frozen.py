"""The tvns UF2 (firmware/dist/: MicroPython v1.28.0 RPI_PICO with the tvns package frozen in,
docs/FIRMWARE-BUILD.md) on the emulated Pico, the path the README recommends: flash the UF2,
then `tvns deploy` copies only the config (main.py, boot.py, board.json, protocols), the
board answers `hello` with this host's limits, has the heap issue 17 asks for, and runs a
short session to DONE. One board, about 2 min of one core (docs/EMULATOR.md)."""

import json

import pytest
from rp2emu_tier import SHORT
from tiers import require
from tvns_tools import deploy, deploy_frozen
from tvns_tools.firmware import FIRMWARE, import_firmware
from tvns_tools.rp2emu import frozen_uf2, harness, image

import_firmware()  # before any emulator thread runs (test_rp2emu.py says why)
from tvns.commands import limits_digest  # noqa: E402

pytestmark = [pytest.mark.rp2emu, pytest.mark.xdist_group("rp2emu")]

HEAP_FREE_MIN_B = 150 * 1024  # issue 17 item 7 / issue 18's heap row
# The shortest valid session: 2 s (SESSION_MIN_S), 1 s ramps, 100 Hz, 0.1 s trains.
SESSION = dict(SHORT, name="emu-frozen-2s", session_s=2)


@pytest.fixture(scope="module")
def frozen_board(tmp_path_factory):
    """A blank emulated Pico flashed with the tvns UF2, then the real `tvns deploy`."""
    require(image.find_firmware(retrieve=False) or None, "MicroPython rp2 UF2 (../shared/rp2/)")
    why = frozen_uf2.problem()
    require(why is None or None, "an up-to-date tvns UF2 (%s)" % why)
    work = tmp_path_factory.mktemp("rp2emu-frozen")
    board, img, out = harness.deploy_blank(work, frozen_uf2.uf2_path(), lockstep=True)
    yield {"board": board, "image": img, "output": out}
    board.close()


def test_deploy_onto_the_tvns_uf2_copies_only_the_config(frozen_board):
    out, board = frozen_board["output"], frozen_board["board"]
    digest = deploy_frozen.host_digest()
    assert "tvns firmware with this tree frozen in (sources %s)" % digest[:16] in out, out
    files = image.read(frozen_board["image"])
    protocols = sorted(p.name for p in (FIRMWARE / "protocols").glob("*.json"))
    want = {"main.py", "boot.py", "board.json"} | {"protocols/" + p for p in protocols}
    assert want <= set(files), sorted(files)
    # nothing of the package on littlefs (it would shadow the frozen one); the rest is what the
    # firmware wrote since its boot (its journal)
    assert not [n for n in files if n.startswith("tvns") or n.endswith((".py", ".mpy"))
                and n not in want], sorted(files)  # fmt: skip
    assert "deployed %d files to %s (the tvns package is frozen" % (len(want), board.port) in out
    assert files["main.py"] == (FIRMWARE / "main.py").read_bytes()
    assert json.loads(files["board.json"]) == harness.pico_config()
    assert "hello: version %s on pico" % deploy.firmware_version() in out


def test_hello_answers_with_this_hosts_limits_and_the_heap_stays_free(frozen_board):
    board = frozen_board["board"]
    hello = board.dev.request("hello")
    assert hello["limits_crc"] == limits_digest() and hello["board"] == "pico"
    assert hello["version"] == deploy.firmware_version()
    # after boot, not collected first (garbage counts as used): a lower bound of what is free
    assert hello["heap_free"] >= HEAP_FREE_MIN_B, hello["heap_free"]

    t0 = board.start_session(SESSION)
    _t, end = board.wait_event("session_end", t0, emu_ms=SESSION["session_s"] * 1000 + 1500)
    assert board.dev.request("status")["state"] == "DONE", end
    assert len(board.pulses(t0)) >= 20  # it stimulated: 100 Hz in 0.1 s trains
    # hello's heap_free is gc.mem_free() without a collection: after a session it counts the
    # session's garbage as used (126.6 KB here), so the session's lowest live heap is the
    # bench's figure (rp2emu_heap_free_min_kb, collected at every pass: docs/SPEED.md)
    assert board.dev.request("hello")["limits_crc"] == limits_digest()
