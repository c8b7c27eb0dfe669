"""Handlers of the `tvns` commands that talk to a device (a board on --port, or the sim
board with --sim; link.py opens it): run, console, status, stop, sim-device, deploy.
One handler each; cli.py holds the command table and the argument parsers."""

import json
import pathlib
import subprocess
import sys
import threading

from tvns_tools import device as D
from tvns_tools.firmware import FIRMWARE, ToolError, micropython_binary, micropython_env
from tvns_tools.link import open_device


def cmd_run(args):
    from tvns_tools import meta as M
    from tvns_tools import protofile

    protocol = protofile.read_protocol(args.protocol)  # judged here first, sent as text
    meta = M.read(args.meta) if args.meta else None
    dev = open_device(args)
    view = _View(json_out=args.json)
    dev.on_event = view.event
    try:
        with view:
            code, st = D.run_session(dev, protocol, view.show, pin=args.pin, meta=meta)
    finally:
        dev.close()
    if args.json:
        print(json.dumps(dict(st, exit_code=code)))
    else:
        print(
            "%s: %s after %.1f of %.1f s, %s pulses"
            % (st["protocol"], st["state"], st["elapsed_s"], st["session_s"], st["pulses"])
        )
    return code


class _View:
    """rich live line on a terminal; plain `state X t=..` lines on stderr otherwise."""

    def __init__(self, json_out):
        self.live = None
        self.progress = None
        if sys.stderr.isatty() and not json_out:
            from rich.progress import BarColumn, Progress, TextColumn

            self.progress = Progress(
                TextColumn("{task.fields[state]:<9}"),
                BarColumn(),
                TextColumn("{task.completed:>7.1f}/{task.total:.0f} s"),
                TextColumn("{task.fields[amp]:.3f} mA  {task.fields[pulses]} pulses"),
            )
            self.task = self.progress.add_task("session", total=1, state="", amp=0.0, pulses=0)

    def __enter__(self):
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.stop()

    def show(self, st):
        if self.progress is not None:
            self.progress.update(
                self.task,
                completed=st["elapsed_s"],
                total=st["session_s"] or 1,
                state=st["state"],
                amp=st["amplitude_ma"],
                pulses=st["pulses"],
            )

    def event(self, ev):
        if self.progress is None and ev.get("event") in ("state", "fault", "session_end"):
            what = ev.get("state") or ev.get("fault")
            print("%s %s t=%s" % (ev["event"], what, ev.get("t_s")), file=sys.stderr, flush=True)


def cmd_status(args):
    dev = open_device(args)
    try:
        print(json.dumps(dev.request("status")))
    finally:
        dev.close()
    return 0


def cmd_stop(args):
    dev = open_device(args)
    try:
        dev.request("stop")
        st = dev.wait_end(30.0)
        print(json.dumps(st))
    finally:
        dev.close()
    return 0


def cmd_console(args):
    """The console (tvns_tools/console.py): prompt, help, short forms, load FILE, run FILE,
    Ctrl-C = stop with ramp down; bad lines answered, never the end of it."""
    from tvns_tools import console

    dev = open_device(args)
    try:
        return console.serve(dev)
    finally:
        dev.close()


def cmd_sim_device(args):
    """The firmware on the sim board under MicroPython: a stimulator on your desk with no
    hardware. Console on stdin/stdout, or with --pty on a pseudo-terminal that every host
    command opens as it would a board's serial port. --state DIR keeps the virtual board's
    flash (store and session log) there across restarts."""
    import signal

    if not args.speed > 0:
        raise ToolError("--speed must be above 0 (got %s)" % args.speed)
    env = micropython_env()
    argv = [micropython_binary(), str(FIRMWARE / "main.py"), "--console"]
    argv += ["--speed", repr(args.speed)]
    if args.state:
        state = pathlib.Path(args.state).resolve()
        try:
            state.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ToolError(
                "--state %s: cannot use it as the flash directory (%s)"
                % (args.state, exc.strerror or exc)
            ) from exc
        argv += ["--state", str(state)]
    if getattr(args, "pty", False):
        return _serve_pty(argv, env)
    proc = subprocess.Popen(argv, env=env, cwd=str(FIRMWARE))
    # A terminal Ctrl-C reaches the firmware too: let it turn the output off and exit
    # by itself rather than being killed from here.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return proc.wait()


def _serve_pty(argv, env):
    """The virtual board behind a pty: its path on the first line of stdout, then relay
    bytes both ways until killed. The firmware's own stdout is a pipe, so a host that holds
    the port and stops reading fills that pipe, and the firmware drops lines instead of
    waiting (console_io.PollWriter), as on a board. Killing this process cuts the virtual
    board's power (an open session is found `interrupted` at the next start)."""
    import os
    import signal

    from tvns_tools.transport import pty_pair

    master, slave_path, slave = pty_pair()  # slave kept open: no hang-up between hosts
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        cwd=str(FIRMWARE),
        start_new_session=True,
    )
    print(slave_path, flush=True)

    def to_host():
        fd = proc.stdout.fileno()
        while True:
            data = os.read(fd, 4096)
            if not data:
                return
            os.write(master, data)  # blocks while the host does not read: so be it

    def to_device():
        while True:
            try:
                data = os.read(master, 4096)
                proc.stdin.write(data)
                proc.stdin.flush()
            except OSError:  # the firmware is gone
                return

    def power_cut(*_a):
        proc.kill()

    signal.signal(signal.SIGTERM, power_cut)
    signal.signal(signal.SIGINT, power_cut)
    threading.Thread(target=to_host, daemon=True).start()
    threading.Thread(target=to_device, daemon=True).start()
    try:
        return proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(slave)
        os.close(master)


def cmd_deploy(args):
    from tvns_tools import deploy

    return deploy.deploy(args)
