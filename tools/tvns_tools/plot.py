"""The picture a researcher wants from a simulated session: the amplitude envelope over the
whole session with the states shaded, and a zoom on a few pulses of the biphasic waveform."""

import matplotlib

matplotlib.use("Agg")  # files only; no display needed

import matplotlib.pyplot as plt  # noqa: E402

# Ramp up and ramp down in different colours (sessionplot.py uses the same).
_STATE_COLOURS = {
    "RAMP_UP": "#fde2b5",
    "ON": "#cfe8cf",
    "OFF": "#eeeeee",
    "RAMP_DOWN": "#d9c8f0",
}
_LABELS = {"RAMP_UP": "ramp up", "ON": "on", "OFF": "off", "RAMP_DOWN": "ramp down"}


def envelope(segments):
    """(t_s list, amplitude_ma list): each segment's amplitude held over its pulses; the
    outline drops to 0 only where the train really stops (not between ramp steps)."""
    ts, amps = [], []
    prev_end = None
    for start, period, count, amp, _w, _g in segments:
        if count == 0:
            continue
        end = start + count * period
        if prev_end != start:
            if prev_end is not None:
                ts.append(prev_end / 1e6)
                amps.append(0)
            ts.append(start / 1e6)
            amps.append(0)
        ts += [start / 1e6, end / 1e6]
        amps += [amp / 1000, amp / 1000]
        prev_end = end
    if prev_end is not None:
        ts.append(prev_end / 1e6)
        amps.append(0)
    return ts, amps


def one_pulse(segments):
    """Current (mA) versus time (us) for the first pulse at the session's peak amplitude."""
    peak = max((s[3] for s in segments if s[2]), default=0)
    for _start, _period, count, amp, width, gap in segments:
        if amp == peak and count:
            margin = max(width // 4, 10)
            ts = [-margin, 0, 0, width, width, width + gap, width + gap, 2 * width + gap]
            cur = [0, 0, amp, amp, 0, 0, -amp, -amp]
            ts += [2 * width + gap, 2 * width + gap + margin]
            cur += [0, 0]
            return ts, [c / 1000 for c in cur], width, gap
    return [0, 1], [0, 0], 0, 0


def _ended_early(result):
    return result["final_state"] in ("STOPPED", "FAULT") and not result.get("cut_short")


def _marks(result):
    """[(t_s, label, colour, style)]: the intended end, a stop's ramp down, each fault."""
    p = result["protocol"]
    out = []
    if p["session_s"] <= result["sim_s"] * 1.05 or _ended_early(result):
        out.append((p["session_s"], "intended end %g s" % p["session_s"], "#555555", "--"))
    if result["final_state"] == "STOPPED":
        downs = [t for t, s in result["states"] if s == "RAMP_DOWN"]
        if downs:
            out.append((downs[-1], "stop", "#1f4e9c", ":"))
    for f in result["faults"]:
        out.append((f["t_s"], "fault: %s" % f["fault"], "#c62828", "-"))
    return out


def plot(result, path):
    p = result["protocol"]
    segs = result["segments"]
    fig = plt.figure(figsize=(11, 7.5))
    grid = fig.add_gridspec(2, 2, height_ratios=[3, 2])
    ax1 = fig.add_subplot(grid[0, :])
    ax2 = fig.add_subplot(grid[1, 0])
    ax3 = fig.add_subplot(grid[1, 1])
    states = result["states"] + [[result["sim_s"], "END"]]
    shown = set()
    for (t, s), (t_next, _) in zip(states, states[1:], strict=False):
        colour = _STATE_COLOURS.get(s)
        if colour and t_next > t:
            label = None if s in shown else _LABELS[s]
            ax1.axvspan(t, t_next, color=colour, lw=0, label=label)
            shown.add(s)
    ts, amps = envelope(segs)
    ax1.plot(ts, amps, color="#1f4e9c", lw=1.0, label="amplitude per pulse")
    for t, label, colour, style in _marks(result):
        ax1.axvline(t, color=colour, ls=style, lw=1.0, label=label)
    ax1.set_xlabel("session time (s)")
    ax1.set_ylabel("peak current per phase (mA)")
    right = result["sim_s"]
    if _ended_early(result):  # show where it should have ended
        right = max(right, result["protocol"]["session_s"] * 1.02)
    ax1.set_xlim(0, max(right, 1e-3))
    ax1.set_ylim(0, max(p["amplitude_ma"] * 1.15, 0.1))
    ax1.legend(loc="upper right", fontsize=7, ncol=5)
    ax1.set_title(
        "%s: %g mA, %d us/phase, gap %d us, %g Hz, %g s on / %g s off, %g s session%s\n"
        "%d pulses, final state %s (simulated, %s runtime)"
        % (
            str(p["name"]).replace("$", r"\$"),  # data, not mathtext
            p["amplitude_ma"],
            p["pulse_width_us"],
            p["interphase_gap_us"],
            p["frequency_hz"],
            p["on_s"],
            p["off_s"],
            p["session_s"],
            " SHAM" if p["sham"] else "",
            result["pulses"],
            result["final_state"],
            result.get("runtime", "?"),
        ),
        fontsize=10,
    )
    # Ramp-up zoom: every 0.1 mA step visible.
    ramp_s = p["ramp_up_s"] + min(2.0, p["on_s"])
    ax2.plot(ts, amps, color="#1f4e9c", lw=1.0, drawstyle="default")
    ax2.set_xlim(0, ramp_s)
    ax2.set_ylim(0, max(p["amplitude_ma"] * 1.15, 0.1))
    ax2.set_xlabel("session time (s)")
    ax2.set_ylabel("peak current (mA)")
    ax2.set_title("ramp up: %g s in steps of <= 0.1 mA" % p["ramp_up_s"], fontsize=9)
    # One biphasic pulse at the peak amplitude.
    wt, wc, width, gap = one_pulse(segs)
    ax3.plot(wt, wc, color="#b22222", lw=1.5)
    ax3.axhline(0, color="black", lw=0.5)
    ax3.set_xlabel("time from pulse start (us)")
    ax3.set_ylabel("current (mA)")
    ax3.set_title(
        "one pulse: %d us phase A (+), %d us gap, %d us phase B (-)" % (width, gap, width),
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
