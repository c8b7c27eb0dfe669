"""Capture readers: VCD (ours, PulseView/sigrok exports, GTKWave) through pyvcd's tokenizer,
sigrok session files (.sr) through sigrok-cli, and CSV (csvread.py). Each returns a
Capture (capture.py) with times in integer nanoseconds."""

import io
import pathlib
import re
import shutil
import subprocess

from tvns_tools.verify import csvread
from tvns_tools.verify.capture import Capture, Unreadable

_UNIT_NS = {"s": 1e9, "ms": 1e6, "us": 1e3, "ns": 1.0, "ps": 1e-3, "fs": 1e-6}
_RATE = re.compile(r"at\s+([0-9.]+)\s*(GHz|MHz|kHz|Hz)", re.I)
_RATE_SCALE = {"ghz": 1e9, "mhz": 1e6, "khz": 1e3, "hz": 1.0}


def read(path, sample_rate_hz=None):
    """Capture from a file, by extension (then by content). Unreadable on any failure."""
    p = pathlib.Path(path)
    if not p.is_file():
        raise Unreadable("cannot read %s: no such file" % path)
    ext = p.suffix.lower()
    try:
        head = p.open("rb").read(4)
    except OSError as exc:
        raise Unreadable("cannot read %s: %s" % (path, exc.strerror)) from exc
    if ext == ".sr" or head[:2] == b"PK":
        cap = read_sr(p)
    elif ext == ".vcd" or head[:1] == b"$":
        with p.open("rb") as f:
            cap = read_vcd(f, p, "vcd")
    elif ext in (".csv", ".txt"):
        cap = csvread.read_csv(p)
    else:
        raise Unreadable("%s: unknown capture format (expected .vcd, .sr or .csv)" % path)
    if sample_rate_hz:
        cap.set_sample_period(1e9 / sample_rate_hz, "--sample-rate %g Hz" % sample_rate_hz)
    if cap.sample_ns is None:
        raise Unreadable("%s: cannot tell the sample period; give --sample-rate HZ" % path)
    if cap.end_ns is None or cap.end_ns <= cap.start_ns:
        raise Unreadable("%s: the capture holds no time span" % path)
    return cap


def read_vcd(stream, path, fmt):
    """VCD from a binary stream. Scalar wires become digital channels, real variables analog
    ones (our `amplitude_ua` in uA, anything else in volts); vectors are skipped."""
    from vcd.reader import TokenKind, VCDParseError, tokenize

    cap = Capture(path, fmt)
    ids = {}  # id code -> (name, kind)
    scale_ns = None
    rate_hz = None
    t = None
    digital, analog = {}, {}
    try:
        for tok in tokenize(stream):
            kind = tok.kind
            if kind is TokenKind.CHANGE_SCALAR:
                ch = tok.data
                entry = ids.get(ch.id_code)
                if entry is None or entry[1] != "wire":
                    continue
                level = 1 if ch.value == "1" else 0  # x and z read as low
                seq = digital[ch.id_code]
                if not seq or seq[-1][1] != level:
                    seq.append((t or 0, level))
            elif kind is TokenKind.CHANGE_TIME:
                t = int(round(tok.data * scale_ns)) if scale_ns else tok.data
                if cap.start_ns is None:
                    cap.start_ns = t
            elif kind is TokenKind.CHANGE_REAL:
                ch = tok.data
                if ch.id_code in analog:
                    times, values = analog[ch.id_code]
                    times.append(t or 0)
                    values.append(float(ch.value))
            elif kind is TokenKind.TIMESCALE:
                scale_ns = tok.data.magnitude * _UNIT_NS[tok.data.unit.value]
            elif kind is TokenKind.VAR:
                v = tok.data
                vt = v.type_.value
                if vt in ("wire", "reg", "logic") and v.size == 1:
                    ids[v.id_code] = (v.reference, "wire")
                    digital.setdefault(v.id_code, [])
                elif vt == "real":
                    ids[v.id_code] = (v.reference, "real")
                    analog.setdefault(v.id_code, ([], []))
                else:
                    cap.notes.append("VCD variable %s (%s %d) skipped" % (v.reference, vt, v.size))
            elif kind is TokenKind.COMMENT:
                m = _RATE.search(tok.data or "")
                if m:
                    rate_hz = float(m.group(1)) * _RATE_SCALE[m.group(2).lower()]
    except (VCDParseError, ValueError, KeyError, UnicodeError) as exc:
        raise Unreadable("%s: not a readable VCD (%s)" % (path, exc)) from exc
    if scale_ns is None:
        raise Unreadable("%s: not a VCD ($timescale missing)" % path)
    cap.end_ns = t
    cap.resolution_ns = max(1.0, scale_ns)
    for code, (name, kind) in ids.items():
        if kind == "wire":
            seq = digital[code]
            if not seq or seq[0][0] != cap.start_ns:
                seq.insert(0, (cap.start_ns, 0))
            cap.add_digital(name, seq)
        else:
            times, values = analog[code]
            if times:
                cap.add_analog(name, times, values, "uA" if name.endswith("_ua") else "V")
    if rate_hz:
        cap.set_sample_period(1e9 / rate_hz, "sigrok export at %s" % _hz(rate_hz))
    else:
        cap.set_sample_period(scale_ns, "VCD timescale %s" % _ns_text(scale_ns))
    return cap


def sigrok_cli():
    return shutil.which("sigrok-cli")


def read_sr(path):
    """A sigrok session (.sr) through sigrok-cli: --show for the sample rate and length,
    `-O vcd` for the logic channels (change-only, so long sessions stay small)."""
    exe = sigrok_cli()
    if exe is None:
        raise Unreadable(
            "%s: reading a sigrok session needs sigrok-cli (Debian/Ubuntu package sigrok-cli); "
            "or export it from PulseView as VCD" % path
        )
    show = _run([exe, "-i", str(path), "--show"], path)
    rate = re.search(r"Samplerate:\s*(\d+)", show)
    count = re.search(r"Logic sample count:\s*(\d+)", show)
    vcd_text = _run([exe, "-i", str(path), "-O", "vcd"], path, text=False)
    cap = read_vcd(io.BytesIO(vcd_text), path, "sigrok session (.sr)")
    if rate:
        rate_hz = int(rate.group(1))
        cap.set_sample_period(1e9 / rate_hz, "sigrok session at %s" % _hz(rate_hz))
        if count:
            cap.end_ns = max(cap.end_ns or 0, int(round(int(count.group(1)) * 1e9 / rate_hz)))
    if "analog" in show.lower() and re.search(r":\s*analog", show):
        cap.notes.append("analog channels in the .sr were not read: export them as CSV")
    return cap


def _run(cmd, path, text=True):
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Unreadable("%s: sigrok-cli failed (%s)" % (path, exc)) from exc
    err = proc.stderr.decode("utf-8", "replace").strip()
    if proc.returncode != 0 or (err and not proc.stdout):
        first = err.splitlines()[0] if err else "exit %d" % proc.returncode
        raise Unreadable("%s: sigrok-cli could not read it (%s)" % (path, first))
    return proc.stdout.decode("utf-8", "replace") if text else proc.stdout


def _hz(rate_hz):
    for scale, unit in ((1e9, "GHz"), (1e6, "MHz"), (1e3, "kHz")):
        if rate_hz >= scale:
            return "%g %s" % (rate_hz / scale, unit)
    return "%g Hz" % rate_hz


def _ns_text(ns):
    for scale, unit in ((1e9, "s"), (1e6, "ms"), (1e3, "us")):
        if ns >= scale:
            return "%g %s" % (ns / scale, unit)
    return "%g ns" % ns
