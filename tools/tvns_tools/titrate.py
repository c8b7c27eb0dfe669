"""`tvns titrate`: the perception-threshold staircase run on the device (firmware
tvns/titration.py; PROTOCOL.md "Titration"). Each trial is a short train the device
validates and runs within its hard limits; the operator answers felt / not felt at the
keyboard (one line on stdin per trial: y/yes/1 felt, n/no/0 not felt, q quit; pipes
welcome). The device logs every trial and the result. With --session the session protocol's
amplitude is set from the threshold (--times K or --offset-ma D) into --out, and --lock
sets the device's ceiling to that amplitude with the investigator PIN."""

import json
import math
import sys

from tvns_tools.firmware import ToolError
from tvns_tools.link import open_device

TRIAL_TIMEOUT_S = 120.0
PARAM_FLAGS = (
    ("start_ma", float),
    ("rise_ma", float),
    ("up_ma", float),
    ("down_ma", float),
    ("cap_ma", float),
    ("reversals", int),
    ("pulses", int),
    ("pulse_width_us", int),
    ("frequency_hz", int),
    ("electrode_area_cm2", float),
)
_YES = ("y", "yes", "1", "f", "felt")
_NO = ("n", "no", "0", "not", "nf")


def params_from(args):
    out = {}
    for name, _kind in PARAM_FLAGS:
        v = getattr(args, name, None)
        if v is not None:
            out[name] = v
    return out


def ask(prompt, stdin=None):
    """The operator's answer: True felt, False not felt, None quit."""
    stdin = stdin or sys.stdin
    while True:
        sys.stderr.write(prompt)
        sys.stderr.flush()
        line = stdin.readline()
        if not line:
            return None  # end of input: as quit
        word = line.strip().lower()
        if word in _YES:
            return True
        if word in _NO:
            return False
        if word in ("q", "quit"):
            return None
        sys.stderr.write("answer y (felt), n (not felt) or q (quit)\n")


def session_amplitude(threshold_ma, times=None, offset_ma=None):
    """The session amplitude from the threshold, to 0.001 mA (rounded down: never above)."""
    if times is not None:
        ma = threshold_ma * times
    else:
        ma = threshold_ma + offset_ma
    return math.floor(ma * 1000 + 1e-9) / 1000


def write_session(path_in, path_out, amplitude_ma):
    """The session protocol with its amplitude set, judged by the firmware's validator."""
    from tvns_tools import protofile

    raw = protofile.read_bytes(path_in)
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise ToolError("%s: not JSON (%s)" % (path_in, exc), 2) from exc
    doc["amplitude_ma"] = amplitude_ma
    text = json.dumps(doc, indent=2) + "\n"
    proto, errors, _warn, _doc = protofile.judge(text.encode())
    if proto is None:
        raise protofile.InvalidProtocolFile(path_out, errors)
    with open(path_out, "w") as f:
        f.write(text)
    return text


def cmd_titrate(args):
    if (args.times is not None or args.offset_ma is not None) and not args.session:
        raise ToolError("--times / --offset-ma need --session PROTOCOL and --out FILE")
    if args.session and (args.times is None) == (args.offset_ma is None):
        raise ToolError("--session needs exactly one of --times K or --offset-ma D")
    if args.session and not args.out:
        raise ToolError("--session needs --out FILE (the protocol with the amplitude set)")
    if args.lock and not (args.session and args.pin):
        raise ToolError("--lock needs --session (the amplitude to lock) and --pin")
    if args.times is not None and not 0 < args.times <= 10:
        raise ToolError("--times must be above 0 and at most 10")
    dev = open_device(args)
    try:
        return _run(dev, args)
    finally:
        dev.close()


def _run(dev, args):
    fields = {"params": params_from(args)}
    if args.pin:
        fields["pin"] = args.pin
    st = dev.request("titrate", **fields)["titration"]
    while not st["done"]:
        t = dev.request("trial")
        sys.stderr.write("trial %d: %.3f mA ...\n" % (t["trial"], t["amplitude_ma"]))
        end = dev.wait_end(TRIAL_TIMEOUT_S)
        if end["state"] != "DONE":
            st = dev.request("answer", felt=False)["titration"]
            raise ToolError("trial %d ended %s: titration stopped" % (t["trial"], end["state"]))
        felt = ask("felt? [y/n/q] ")
        if felt is None:
            st = dev.request("answer", abort=True)["titration"]
            break
        st = dev.request("answer", felt=felt)["titration"]
    result = {"titration": st}
    code = 0
    if st["threshold_ma"] is None:
        code = 3
    elif args.session:
        amp = session_amplitude(st["threshold_ma"], args.times, args.offset_ma)
        write_session(args.session, args.out, amp)
        result["session"] = {"file": args.out, "amplitude_ma": amp}
        if args.lock:
            reply = dev.request("set_ceiling", ceiling_ma=amp, pin=args.pin)
            result["session"]["ceiling_ma"] = reply["ceiling_ua"] / 1000
    if args.json:
        print(json.dumps(dict(result, exit_code=code)))
    else:
        if st["threshold_ma"] is None:
            print("no threshold: %s after %d trials" % (st["outcome"], st["trials"]))
        else:
            print(
                "perception threshold %.3f mA (%d trials, %d reversals)"
                % (st["threshold_ma"], st["trials"], st["reversals"])
            )
        if "session" in result:
            s = result["session"]
            line = "session amplitude %.3f mA written to %s" % (s["amplitude_ma"], s["file"])
            if "ceiling_ma" in s:
                line += "; ceiling locked at %.3f mA" % s["ceiling_ma"]
            print(line)
    return code


def add_args(p):
    from tvns_tools.link import add_link_args

    add_link_args(p)
    g = p.add_argument_group("staircase (device defaults in brackets)")
    g.add_argument("--start-ma", metavar="MA", type=float, help="first trial [0.2]")
    g.add_argument(
        "--rise-ma", metavar="MA", type=float, help="step of the rising series until felt [0.2]"
    )
    g.add_argument("--up-ma", metavar="MA", type=float, help="step up after not felt [0.1]")
    g.add_argument("--down-ma", metavar="MA", type=float, help="step down after felt [0.3]")
    g.add_argument(
        "--cap-ma", metavar="MA", type=float, help="never above this [3; at most 5 and the ceiling]"
    )
    g.add_argument("--reversals", metavar="N", type=int, help="reversals to average [8]")
    g.add_argument("--pulses", metavar="N", type=int, help="pulses at the trial amplitude [15]")
    g.add_argument("--pulse-width-us", metavar="US", type=int, help="per phase [200]")
    g.add_argument("--frequency-hz", metavar="HZ", type=int, help="[25]")
    g.add_argument("--electrode-area-cm2", metavar="CM2", type=float, help="[1]")
    p.add_argument("--pin", help="investigator PIN (when the device is locked; --lock needs it)")
    p.add_argument("--session", metavar="PROTOCOL", help="a session protocol to dose from it")
    p.add_argument("--times", type=float, metavar="K", help="session amplitude = K x threshold")
    p.add_argument(
        "--offset-ma", type=float, metavar="D", help="session amplitude = threshold + D mA"
    )
    p.add_argument("--out", metavar="FILE", help="where the dosed session protocol goes")
    p.add_argument(
        "--lock",
        action="store_true",
        help="set the device's ceiling to the session amplitude (with --pin)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    return p
