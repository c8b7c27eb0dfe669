"""No tracebacks anywhere in the CLI: every subcommand in the command table, on bad input
(missing files, bad JSON, unknown flags, bad values, ports that are not there or do not
answer), ends with one line `tvns: ...` on stderr and a non-zero exit. And every command's
help reads as a user's guide: what it does, each argument described, one example."""

import argparse
import os
import pty

import pytest
from tvns_tools import cli, device
from tvns_tools.argparsing import GUIDE, walk

PARSER = cli.build_parser()
LEAVES = [(path, p) for path, p in walk(PARSER) if not any(True for _ in walk(p))]
NO_PORT = "/dev/ttyACM-no-such-port"


def _run(argv, capsys):
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as exc:  # argparse
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def _one_line(code, err, argv, verdict=False):
    """One line; a verdict on a protocol may list its problems indented under it."""
    assert code not in (0, None), argv
    lines = err.splitlines()
    assert lines and lines[0].startswith("tvns: "), (argv, err)
    assert len(lines) == 1 or verdict and all(x.startswith(" ") for x in lines[1:]), (argv, err)
    assert "Traceback" not in err and "internal error" not in err, (argv, err)


def _argv(path, p, tmp_path, file_value):
    """A full command line for a leaf parser: every positional and required option filled."""
    argv = list(path)
    for a in p._actions:
        if isinstance(a, argparse._HelpAction) or a.dest == "func":
            continue
        if not a.option_strings:
            argv.append(file_value)
        elif a.required:
            argv += [a.option_strings[0], a.choices[0] if a.choices else tmp_path / "o"]
    if any("--port" in a.option_strings for a in p._actions):
        argv += ["--port", NO_PORT]
    return argv


@pytest.mark.parametrize("path, p", LEAVES, ids=[" ".join(x) for x, _ in LEAVES])
def test_every_command_on_bad_input_ends_in_one_line(path, p, tmp_path, capsys):
    missing = tmp_path / "missing.json"
    broken = tmp_path / "broken.json"
    broken.write_text('{"schema": 1, "name": ')
    takes_file = any(not a.option_strings and a.dest != "help" for a in p._actions)
    takes_port = any("--port" in a.option_strings for a in p._actions)
    full = _argv(path, p, tmp_path, missing)
    cases = [list(path) + ["--no-such-flag"]]
    if takes_file or takes_port:
        cases.append(full)
    for a in p._actions:  # a word where a number belongs
        if a.option_strings and a.type in (int, float):
            cases.append(full + [a.option_strings[0], "abc"])
    for argv in cases:
        code, _out, err = _run(argv, capsys)
        _one_line(code, err, argv)
    if not takes_file:
        return
    # a file that is there but broken: a refusal (a line) or a verdict (exit 2 or 3)
    argv = _argv(path, p, tmp_path, broken)
    code, out, err = _run(argv, capsys)
    assert code not in (0, None) and "Traceback" not in err + out, argv
    # a verdict may list every problem: the first line says it, the rest are indented under it
    lines = err.splitlines()
    assert "internal error" not in err and (not err or lines[0].startswith("tvns: ")), argv
    assert all(x.startswith(" ") for x in lines[1:]), (argv, err)


@pytest.mark.parametrize(
    "argv, says",
    [
        (["simulate", "{missing}"], "cannot read"),  # the default MicroPython runtime
        (["simulate", "{default}", "--jitter-ms", "500"], "--jitter-ms must be 0..100"),
        (["simulate", "{default}", "--inject", "meteor@3"], "--inject 'meteor@3'"),
        (["simulate", "{default}", "--engine", "pio"], "--engine pio replays"),
        (["validate", "{default}", "--board", "no-such-board"], "no board 'no-such-board'"),
        (["validate", "{default}", "--board", "{broken}"], "is not JSON"),
        (["run", "{default}", "--sim", "--speed", "-1"], "--speed must be above 0"),
        (["run", "{default}", "--port", NO_PORT, "--meta", "{missing}"], "cannot read"),
        (["run", "{broken}", "--port", NO_PORT], "is not a valid protocol"),
        (["report", "{broken}"], "holds no session_start"),
        (["report", "{log}", "--session", "9"], "--session 9: the log has 1 sessions"),
        (["sim-device", "--state", "{broken}"], "--state"),
        (["deploy", "--board", "rp2", "--port", NO_PORT], "no board found on"),
        (["deploy", "--board", "rp2", "--port", "auto", "--config", "{missing}"], ""),
    ],
)
def test_bad_values_are_named(argv, says, tmp_path, capsys, monkeypatch):
    from tvns_tools import ports

    monkeypatch.setattr(ports, "_comports", lambda: [])
    default = cli.simulate.__file__.replace("tools/tvns_tools/simulate.py", "")
    files = {
        "missing": tmp_path / "missing.json",
        "broken": tmp_path / "broken.json",
        "default": default + "firmware/protocols/default.json",
        "log": tmp_path / "log.jsonl",
    }
    files["broken"].write_text("{")
    from tvns import log as L
    from tvns.board.simrun import simulate
    from tvns_tools import logs

    log = L.Log(str(files["log"]), sync=False)
    logs.log_simulation(log, simulate(dict(_short())))
    log.close()
    argv = [a.format(**files) for a in argv]
    code, _out, err = _run(argv, capsys)
    _one_line(code, err, argv, verdict="valid protocol" in says)
    assert says in err, err


def _short():
    import json
    import pathlib

    d = json.loads(
        (pathlib.Path(cli.__file__).parents[2] / "firmware/protocols/default.json").read_text()
    )
    return dict(d, session_s=12, ramp_up_s=2, ramp_down_s=2, on_s=4, off_s=2)


def test_a_port_that_does_not_answer_is_one_line(capsys, monkeypatch):
    master, slave = pty.openpty()  # a port with nothing behind it
    monkeypatch.setattr(device.Device.wait_boot, "__defaults__", (1.0,))
    try:
        code, _out, err = _run(["status", "--port", os.ttyname(slave)], capsys)
    finally:
        os.close(master)
        os.close(slave)
    _one_line(code, err, "status")
    assert "no answer from /dev/pts/" in err and "tvns deploy" in err


def test_every_command_reads_as_a_users_guide():
    assert PARSER.description and "--version" in PARSER.format_help()
    for path, p in walk(PARSER):
        name = " ".join(path)
        assert name in GUIDE, "no description/example for `tvns %s` in argparsing.GUIDE" % name
        text = p.format_help()
        assert "example:\n  tvns %s" % path[0] in text, name
        for a in p._actions:
            if isinstance(a, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            assert a.help, "tvns %s: %s has no help" % (name, a.dest)
            if a.option_strings and a.default not in (None, False, [], argparse.SUPPRESS):
                shown = a.help % {"default": a.default} if "%(default" in a.help else a.help
                assert "default" in shown or "(default: " in text, (name, a.dest)


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("tvns host tools ") and "firmware 0.1.0" in out
