"""The virtual board on a pty (`tvns sim-device --pty --state DIR`) and the `tvns` CLI as a
subprocess: shared by the tests that drive a board as a person would (test_sim_device,
test_operator_console, test_meta_report, test_deploy)."""

import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def tvns(*args, stdin=None, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "tvns_tools.cli", *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=str(ROOT),
    )


class VirtualBoard:
    def __init__(self, state, speed=200):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tvns_tools.cli", "sim-device", "--pty", "--state", state]
            + ["--speed", str(speed)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=str(ROOT),
        )
        self.port = self.proc.stdout.readline().strip()  # the contract: first line, the path
        assert self.port.startswith("/dev/pts/"), self.port

    def kill(self):
        self.proc.terminate()  # the virtual board's power is cut
        self.proc.wait(timeout=10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()


def console(port, *lines):
    """Lines through `tvns console` (stdin a pipe); the JSON lines it printed."""
    r = tvns("console", "--port", port, stdin="".join(x + "\n" for x in lines))
    assert r.returncode == 0, r.stderr
    return [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]


def status(port):
    r = tvns("status", "--port", port, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)
