"""The picture a researcher wants from a simulated session: the amplitude envelope over the
whole session with the states shaded, and a zoom on a few pulses of the biphasic waveform."""

import matplotlib

matplotlib.use("Agg")  # files only; no display needed

import matplotlib.pyplot as plt  # noqa: E402

_STATE_COLOURS = {
    "RAMP_UP": "#fde2b5",
    "ON": "#cfe8cf",
    "OFF": "#eeeeee",
    "RAMP_DOWN": "#fde2b5",
}


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
            ax1.axvspan(t, t_next, color=colour, lw=0, label=None if s in shown else s)
            shown.add(s)
    ts, amps = envelope(segs)
    ax1.plot(ts, amps, color="#1f4e9c", lw=1.0, label="amplitude per pulse")
    ax1.set_xlabel("session time (s)")
    ax1.set_ylabel("peak current per phase (mA)")
    ax1.set_xlim(0, max(result["sim_s"], 1e-3))
    ax1.set_ylim(0, max(p["amplitude_ma"] * 1.15, 0.1))
    ax1.legend(loc="upper right", fontsize=8, ncol=5)
    ax1.set_title(
        "%s: %g mA, %d us/phase, gap %d us, %g Hz, %g s on / %g s off, %g s session%s\n"
        "%d pulses, final state %s (simulated, %s runtime)"
        % (
            p["name"],
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
