"""The envelope plot of one logged session for `tvns report`: amplitude over session time
drawn from the logged state changes (what the device recorded, not a re-simulation)."""


def envelope(session):
    """(t_s list, amplitude_ma list) from the logged state times: ramps drawn as straight
    lines (the firmware steps by <= 0.1 mA), OFF and the end states at 0 mA."""
    doc = session["start"]["protocol"]
    amp = 0.0 if doc["sham"] else float(doc["amplitude_ma"])
    end_s = (session["end"] or {}).get("duration_s")
    kept = [r for r in session["events"] if r["kind"] in ("state", "amplitude", "fault")]
    marks = [(r["t_s"], r) for r in sorted(kept, key=lambda r: (r["t_s"], r["seq"]))]
    ts, amps = [], []
    level, state, prev = 0.0, None, None
    for i, (t, r) in enumerate(marks):
        if r["kind"] == "amplitude" and not doc["sham"]:
            amp = float(r["amplitude_ma"])
        prev = state
        if r["kind"] == "state":
            state = r["state"]
        elif r["kind"] == "fault":
            state = "FAULT"
        nxt = marks[i + 1][0] if i + 1 < len(marks) else (end_s if end_s is not None else t)
        # The final ramp down leaves the set amplitude even after an OFF train (schedule.py);
        # a stop ramps down from wherever the output was.
        start_level = {"ON": amp, "RAMP_DOWN": amp if prev == "OFF" else level}.get(state, 0.0)
        end_level = {"ON": amp}.get(state, 0.0)
        if state == "RAMP_UP":  # cut short by a stop or fault: only part of the way up
            end_level = amp * min(1.0, (nxt - t) / doc["ramp_up_s"])
        ts += [t, nxt]
        amps += [start_level, end_level]
        level = end_level
    return ts, amps


# The same colours as tvns simulate's plot (plot.py): ramp up and ramp down told apart.
STATE_COLOURS = {
    "RAMP_UP": ("#fde2b5", "ramp up"),
    "ON": ("#cfe8cf", "on"),
    "OFF": ("#eeeeee", "off"),
    "RAMP_DOWN": ("#d9c8f0", "ramp down"),
}


def spans(session):
    """[(t0, t1, state)] of the logged states, each up to the next state or the end."""
    kept = sorted(
        (r for r in session["events"] if r["kind"] == "state"), key=lambda r: (r["t_s"], r["seq"])
    )
    end_s = (session["end"] or {}).get("duration_s")
    out = []
    for i, r in enumerate(kept):
        nxt = kept[i + 1]["t_s"] if i + 1 < len(kept) else end_s
        if nxt is not None and nxt > r["t_s"]:
            out.append((r["t_s"], nxt, r["state"]))
    return out


def marks(session):
    """[(t_s, label, colour, style)]: the intended end, a stop, each fault, the actual end."""
    doc = session["start"]["protocol"]
    end = session["end"] or {}
    out = [(doc["session_s"], "intended end %g s" % doc["session_s"], "#555555", "--")]
    reason = end.get("reason")
    if end.get("state") == "STOPPED":
        downs = [r["t_s"] for r in session["events"] if r.get("state") == "RAMP_DOWN"]
        t = downs[-1] if downs else end.get("t_s")
        if t is not None:
            out.append((t, "stop (%s)" % reason, "#1f4e9c", ":"))
    for r in session["events"]:
        if r["kind"] == "fault" and r.get("t_s") is not None:
            out.append((r["t_s"], "fault: %s" % r.get("fault"), "#c62828", "-"))
    if end.get("duration_s") is not None:
        out.append((end["duration_s"], "end: %s" % end.get("state"), "#000000", "-."))
    return out


def plot(session, index, path):
    import matplotlib

    matplotlib.use("Agg")  # files only
    import matplotlib.pyplot as plt

    doc = session["start"]["protocol"]
    ts, amps = envelope(session)
    fig, ax = plt.subplots(figsize=(10, 3.8))
    shown = set()
    for t0, t1, state in spans(session):
        colour, label = STATE_COLOURS.get(state, (None, None))
        if colour:
            ax.axvspan(t0, t1, color=colour, lw=0, label=None if state in shown else label)
            shown.add(state)
    ax.plot(ts, amps, color="#1f4e9c", lw=1.0, label="amplitude")
    for t, label, colour, style in marks(session):
        ax.axvline(t, color=colour, ls=style, lw=1.0, label=label)
    ax.set_xlabel("session time (s)")
    ax.set_ylabel("peak current per phase (mA)")
    ax.set_ylim(0, max(doc["amplitude_ma"] * 1.15, 0.1))
    ax.legend(loc="upper right", fontsize=7, ncol=4)
    # The name is data: matplotlib would read $...$ in it as mathtext.
    name = str(doc.get("name", "")).replace("$", r"\$")
    ax.set_title(
        "session %d, %s: from the log (state times as logged, ramps drawn straight)%s"
        % (index, name, " SHAM" if doc["sham"] else ""),
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
