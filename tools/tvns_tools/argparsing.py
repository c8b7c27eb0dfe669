"""The argparse side of the `tvns` CLI that every command shares: a parser whose errors are
one line (`tvns: ...`, exit 2) instead of a usage block, help that shows each default, and
the user's guide of every command (what it does and one example) in one table, GUIDE,
applied by finish() to the whole parser tree (builders in other modules included)."""

import argparse
import sys
import textwrap

# command path -> (what it does, example). `host_tests/test_cli_errors.py` checks that every
# parser in the tree has an entry, and that every argument has help.
GUIDE = {
    "titrate": (
        "Find the perception threshold with a staircase run on the device: short trains "
        "within the hard limits (15 pulses at 200 us / 25 Hz after the ramp; 0.2 mA steps "
        "until felt, then 0.1 mA up / 0.3 mA down over 8 reversals; never above 3 mA), the "
        "operator answering y/n per trial on stdin. The device logs every trial and the "
        "result; --session/--times/--offset-ma write the dosed protocol, --lock sets the "
        "ceiling to it with the PIN. Exit 0 threshold found, 3 none (not felt at the cap).",
        "tvns titrate --sim --speed 20 --session firmware/protocols/default.json --times 1.5 "
        "--out dosed.json",
    ),
    "validate": (
        "Check a protocol file with the firmware's own validator: every problem at once, each "
        "naming its field, its unit and the allowed range, with a hint where a value looks like "
        "a unit slip. A valid protocol shows the figures a reviewer checks: peak current, "
        "session length, charge per phase, duty cycle, r.m.s. density, Shannon k. "
        "Exit 0 valid, 2 invalid.",
        "tvns validate firmware/protocols/default.json --board pico",
    ),
    "simulate": (
        "Run the firmware on the simulated board in virtual time (an hour takes well under a "
        "second): pulses, states, faults, a session log and its report.",
        "tvns simulate firmware/protocols/default.json --out out/run",
    ),
    "run": (
        "Load (validated here first), arm and start a protocol on a board or the sim board, and "
        "follow it to the end. Ctrl-C sends `stop` and waits for the ramp down. "
        "Exit 0 DONE, 1 link/device error, 2 protocol refused, 3 STOPPED, 4 FAULT.",
        "tvns run study.json --port auto --meta participant-07.json",
    ),
    "console": (
        "Talk to a board line by line: a prompt, history and line editing on a terminal; "
        "`help` lists the commands (status, stop, load FILE, run FILE, arm, start, ...). "
        "Replies and events print as JSON lines. Ctrl-C during a session sends `stop` and waits "
        "for the ramp down; Ctrl-D or `quit` leaves. Reads plain lines when stdin is not a "
        "terminal (scripts).",
        "tvns console --port /dev/ttyACM0",
    ),
    "status": ("Print the device's status reply as JSON.", "tvns status --port auto --json"),
    "stop": (
        "Stop the running session (the firmware ramps down) and wait until it has ended; prints "
        "the final status as JSON.",
        "tvns stop --port /dev/ttyACM0",
    ),
    "sim-device": (
        "The firmware on the sim board under MicroPython: a stimulator on your desk with no "
        "hardware. With --pty it serves on a pseudo-terminal whose path is the first line "
        "printed; every host command then talks to it as to a board.",
        "tvns sim-device --pty --state out/desk --speed 20",
    ),
    "ports": (
        "List the serial ports that look like boards, by USB vendor:product id (RP2040 "
        "MicroPython 2e8a:0005; ESP32 bridges CP210x 10c4:ea60, CH340 1a86:7523, FTDI "
        "0403:6001; ESP32-S2/S3 native 303a:*). `--port auto` picks the one board found.",
        "tvns ports --all",
    ),
    "deploy": (
        "Compile the firmware with mpy-cross and copy it with mpremote: the board's MicroPython "
        "version is checked first, and after a reset `hello` must give the version deployed and "
        "the host's limits_crc. A board with an investigator PIN needs --pin.",
        "tvns deploy --board rp2 --port auto",
    ),
    "board": (
        "Board pin maps (hardware/boards/*.json): check one with the firmware's own boot checks "
        "before it reaches a board.",
        "tvns board check hardware/boards/pico.json",
    ),
    "board check": (
        "The pin-map checks the hazard table depends on, as the firmware runs them at boot: one "
        "role per GPIO, GPIOs the chip has and that are free, outputs on pins that can drive, "
        "the sense ADC on an ADC pin, fail-safe pulls, the output stage low at boot, tick_ms 1, "
        "wdt_timeout_ms 200..2000, ceiling_ua 1..10000. Exit 0 fit, 2 with every problem "
        "named by its field.",
        "tvns board check hardware/boards/pico.json --json",
    ),
    "logs": (
        "Session logs: check a file, export it as JSON and CSV, pull it off a device, or print "
        "the device's recent events.",
        "tvns logs pull --port auto --out out/logs",
    ),
    "logs check": (
        "Count records, torn tail bytes, bad lines and sessions. Exit 0 clean, 3 damaged.",
        "tvns logs check out/logs/session-log.jsonl",
    ),
    "logs export": (
        "Write FILE.json and FILE.csv (cells that a spreadsheet would read as a formula are "
        "quoted: docs/LOG-FORMAT.md).",
        "tvns logs export out/logs/session-log.jsonl --out out/export",
    ),
    "logs pull": (
        "Copy the device's session log byte for byte over the console protocol (CRC-checked "
        "pages), then write it joined as JSON and CSV.",
        "tvns logs pull --port /dev/ttyACM0 --out out/logs",
    ),
    "logs events": (
        "Print the device's recent event records (its RAM ring) as JSON lines.",
        "tvns logs events --port /dev/ttyACM0 --since 0",
    ),
    "report": (
        "One report per session of a log: the tVNS minimum reporting items (Farmer 2021), "
        "filled from what the device logged and the study metadata given to `tvns run --meta`; "
        '"not recorded" where nothing says. Markdown, and self-contained HTML with the plot.',
        "tvns report out/logs/session-log.jsonl --out out/report/session",
    ),
    "verify": (
        "Check a logic-analyzer or scope capture against a protocol and the hard limits "
        "(docs/VERIFY.md). Exit 0 pass, 2 mismatch, 1 unreadable.",
        "tvns verify capture.sr firmware/protocols/default.json --plot out/verify.png",
    ),
    "emulate": (
        "The real firmware on an emulated Pico: the official MicroPython rp2 port in rp2040py, "
        "with a virtual OS-1 output stage and a bench load. Its console is a pty that every "
        "--port command takes (timeouts scaled to the emulator's speed); a board without the "
        "firmware is deployed with tvns deploy first (docs/EMULATOR.md).",
        "tvns emulate --pty --load 2k --state ~/.tvns-pico",
    ),
    "hw": (
        "The reference output stage OS-1 in ngspice (hardware/DESIGN.md).",
        "tvns hw simulate --load 2k",
    ),
    "hw simulate": (
        "The firmware's pulses into the output stage and a bench load: delivered vs commanded "
        "current, charge, net charge, compliance, what the ADC sees.",
        "tvns hw simulate firmware/protocols/default.json --load 500 --json",
    ),
    "hw matrix": (
        "The 21 CFR 882.5892 bench matrix from the simulation, as Markdown.",
        "tvns hw matrix --out hardware/BENCH-MATRIX.md",
    ),
}


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions as written; each option's default shown unless the help says it."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if (
            "default" not in text
            and default not in (None, False, argparse.SUPPRESS, [])
            and action.option_strings
        ):
            text += " (default: %(default)s)"
        return text


class ArgumentParser(argparse.ArgumentParser):
    """Bad flags and values end in one line, `tvns: PROG: what (see PROG --help)`, exit 2."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        sys.stderr.write("tvns: %s: %s (see `%s --help`)\n" % (self.prog, message, self.prog))
        sys.exit(2)


def subparsers(parser):
    """{name: parser} of a parser's subcommands ({} when it has none)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def walk(parser, path=()):
    """(path tuple, parser) for every parser below this one, depth first."""
    for name, child in subparsers(parser).items():
        yield path + (name,), child
        yield from walk(child, path + (name,))


def finish(root):
    """Give every subcommand its description and example from GUIDE."""
    for path, p in walk(root):
        what, example = GUIDE.get(" ".join(path), (None, None))
        if what and not p.description:  # a builder's own description stays (verify)
            p.description = textwrap.fill(what, 88)
        if example:
            p.epilog = ((p.epilog + "\n\n") if p.epilog else "") + "example:\n  " + example
        p.formatter_class = HelpFormatter
