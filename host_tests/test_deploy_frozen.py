"""`tvns deploy` onto a board running the tvns UF2 (tools/tvns_tools/deploy_frozen.py): the
board's own frozen marker decides, only the config is copied, and every trace of a /tvns
package on the file system goes (it would shadow the frozen one: sys.path puts '' before
'.frozen'). The stand-in board is the MicroPython unix runtime on a pty (test_deploy.py);
the real probe of a real frozen image runs in host_tests/test_rp2emu_frozen.py."""

import subprocess

from tvns_tools import cli, deploy, deploy_frozen
from tvns_tools.firmware import micropython_binary


def _deploy(port, *more):
    return cli.main(["deploy", "--port", port, "--board", "rp2", "--resume", *more])


def _tree(root):
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def _config_names():
    return {n for n in deploy.firmware_files(board="rp2") if not n.startswith("tvns/")} | {
        "board.json"
    }


def _stale_package(fs):
    (fs / "tvns" / "board").mkdir(parents=True)
    (fs / "tvns" / "app.mpy").write_bytes(b"M\x06stale")
    (fs / "tvns" / "board" / "rp2.mpy").write_bytes(b"M\x06stale")
    (fs / "tvns" / "notes.txt").write_text("not code, still under /tvns\n")
    (fs / "tvns" / "empty").mkdir()


def test_a_board_with_this_tree_frozen_in_gets_only_its_config(pty_board, monkeypatch, capsys):
    port, fs, proc = pty_board
    _stale_package(fs)
    monkeypatch.setitem(deploy.PLATFORMS, "rp2", ("rp2", "linux"))  # the stand-in is unix
    seen = []
    real_probe = deploy_frozen.probe

    def probe(mpremote, port, resume=False):  # the stand-in has no frozen modules
        seen.append(real_probe(mpremote, port, resume))  # the real probe runs: no marker
        return deploy_frozen.host_digest()

    monkeypatch.setattr(deploy_frozen, "probe", probe)
    assert _deploy(port, "--no-check") == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert seen == [None]
    assert (
        "tvns firmware with this tree frozen in (sources %s)" % (deploy_frozen.host_digest()[:16])
        in out
    )
    n = len(_config_names())
    assert "deployed %d files to %s (the tvns package is frozen in its firmware)" % (n, port) in out
    tree = _tree(fs)
    assert not [p for p in tree if p == "tvns" or p.startswith("tvns/")], tree
    assert {p for p in tree if "." in p.rsplit("/", 1)[-1]} == _config_names()
    assert proc.poll() is None


def test_a_board_with_other_frozen_sources_gets_the_whole_package(pty_board, monkeypatch, capsys):
    port, fs, _proc = pty_board
    monkeypatch.setitem(deploy.PLATFORMS, "rp2", ("rp2", "linux"))
    monkeypatch.setattr(deploy_frozen, "probe", lambda *a, **k: "0" * 64)
    assert _deploy(port, "--no-check") == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert "warning: its firmware has other tvns sources frozen in (0000000000000000" in out
    assert "(rp2, armv6m)" in out  # the stock path, unchanged
    assert "tvns/scheduler.mpy" in _tree(fs)


def test_a_stock_board_takes_the_stock_path(pty_board, monkeypatch, capsys):
    port, fs, _proc = pty_board
    monkeypatch.setitem(deploy.PLATFORMS, "rp2", ("rp2", "linux"))
    assert _deploy(port, "--no-check") == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert "frozen" not in out and "(rp2, armv6m)" in out
    assert "tvns/scheduler.mpy" in _tree(fs)


def _run_probe(cwd):
    r = subprocess.run(
        [micropython_binary(), "-c", deploy_frozen.PROBE],
        capture_output=True, text=True, cwd=cwd, timeout=30,
    )  # fmt: skip
    return r.stdout


def test_the_probe_never_takes_a_file_for_frozen_code(tmp_path):
    """A tvns_frozen.py on the file system would win a plain import ('' is first on
    sys.path); the probe looks in '.frozen' alone, so a file is never taken for firmware."""
    (tmp_path / "tvns_frozen.py").write_text('DIGEST = "%s"\n' % ("1" * 64))
    out = _run_probe(tmp_path)
    assert "TVNS_FROZEN none" in out, out
    assert deploy_frozen.board_digest(out) is None


def test_the_probes_answer_is_read_exactly():
    d = "ab" * 32
    assert deploy_frozen.board_digest("junk\r\nTVNS_FROZEN %s\r\n" % d) == d
    assert deploy_frozen.board_digest("TVNS_FROZEN none\n") is None
    assert deploy_frozen.board_digest("") is None
    assert deploy_frozen.board_digest("TVNS_FROZEN %s extra\n" % d) is None
