"""The picture of a verification: one pulse measured against the one expected there (the
first mismatch, or the first pulse when all pass), the whole capture's pulses against the
schedule's, and the amplitude per pulse against the staircase when it was captured."""

import bisect

import matplotlib

matplotlib.use("Agg")  # files only

import matplotlib.pyplot as plt  # noqa: E402

_LANES = (("phase_a", 3), ("phase_b", 2), ("sync", 1), ("gate", 0))


def plot(ctx, doc, path):
    has_amp = ctx.amp is not None
    fig, axes = plt.subplots(3 if has_amp else 2, 1, figsize=(11, 8.5 if has_amp else 6.5))
    first = doc["first_mismatch"]
    t0 = _focus(ctx, first)
    _zoom(axes[0], ctx, t0, first)
    _overview(axes[1], ctx, first)
    if has_amp:
        _amplitude(axes[2], ctx, first)
    verdict = "PASS" if doc["verdict"] == "pass" else "MISMATCH"
    fig.suptitle(
        "%s: %s vs %s (sample period %.4g ns)"
        % (verdict, doc["capture"]["path"], doc["protocol"]["name"], ctx.sample_ns),
        color="green" if verdict == "PASS" else "red",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _focus(ctx, first):
    """Capture time (ns) to zoom on: the pulse at or before the first mismatch."""
    starts = ctx.pulses.a_rise
    if not starts:
        return ctx.cap.start_ns
    if first is None or first["t_s"] is None:
        return starts[0]
    t = int(round(first["t_s"] * 1e9))
    i = max(0, bisect.bisect_right(starts, t) - 1)
    return starts[i]


def _steps(changes, lo, hi):
    """(xs, ys) of a wire between lo and hi, as a step line."""
    times = [t for t, _v in changes]
    i = max(0, bisect.bisect_right(times, lo) - 1)
    xs, ys = [lo], [changes[i][1] if changes else 0]
    for t, v in changes[i + 1 :]:
        if t > hi:
            break
        xs += [t, t]
        ys += [ys[-1], v]
    xs.append(hi)
    ys.append(ys[-1])
    return xs, ys


def _zoom(ax, ctx, t0, first):
    exp = ctx.exp
    lo = t0 - exp.pulse_ns // 2 - 20_000
    hi = t0 + exp.pulse_ns * 3 // 2 + 20_000
    us = 1e-3
    for role, lane in _LANES:
        name = ctx.roles.get(role)
        if name is None or name not in ctx.cap.digital:
            continue
        xs, ys = _steps(ctx.cap.digital[name], lo, hi)
        ax.plot([(x - t0) * us for x in xs], [lane * 1.5 + y for y in ys], lw=1.6, label=role)
    # The expected pulse, anchored on the schedule when the capture is placed, else on the
    # measured phase A start (widths and gap still show).
    s = t0
    if ctx.offset_ns is not None and exp.starts:
        i = bisect.bisect_left(exp.starts, t0 - ctx.offset_ns - ctx.slack_ns)
        if i < len(exp.starts) and abs(exp.starts[i] + ctx.offset_ns - t0) <= ctx.slack_ns:
            s = exp.starts[i] + ctx.offset_ns
    w, g = exp.width_ns, exp.gap_ns
    for lane, (a, b) in ((3, (s, s + w)), (2, (s + w + g, s + 2 * w + g))):
        xs = [lo, a, a, b, b, hi]
        ys = [0, 0, 1, 1, 0, 0]
        ax.plot([(x - t0) * us for x in xs], [lane * 1.5 + y for y in ys], "k--", lw=1)
    ax.plot([], [], "k--", lw=1, label="expected")
    if first is not None and first["t_s"] is not None:
        x = (first["t_s"] * 1e9 - t0) * us
        if lo <= first["t_s"] * 1e9 <= hi:
            ax.axvline(x, color="red", lw=1.2)
        ax.set_title(
            "first mismatch: %s. %s" % (first["check"], first["detail"]), fontsize=9, color="red"
        )
    else:
        ax.set_title("first pulse, measured vs expected", fontsize=9)
    ax.set_yticks([lane * 1.5 + 0.5 for _r, lane in _LANES])
    ax.set_yticklabels([r for r, _l in _LANES])
    ax.set_xlabel("us from the pulse start at %.6f s (capture time)" % (t0 / 1e9))
    ax.legend(loc="upper right", fontsize=7, ncol=5)


def _overview(ax, ctx, first):
    starts = ctx.pulses.a_rise
    s = 1e-9
    ax.vlines([t * s for t in starts], 1.1, 1.9, color="#1f4e9c", lw=0.6)
    if ctx.offset_ns is not None:
        off = ctx.offset_ns
        lo, hi = ctx.cap.start_ns - off, ctx.cap.end_ns - off
        exp_in = [t + off for t in ctx.exp.starts if lo <= t <= hi]
        ax.vlines([t * s for t in exp_in], 0.1, 0.9, color="black", lw=0.6)
    if ctx.gate_iv is not None:
        for r, f in ctx.gate_iv:
            r = ctx.cap.start_ns if r is None else r
            f = ctx.cap.end_ns if f is None else f
            ax.axvspan(r * s, f * s, color="#cfe8cf", lw=0, zorder=0)
    if first is not None and first["t_s"] is not None:
        ax.axvline(first["t_s"], color="red", lw=1.2)
    ax.set_yticks([0.5, 1.5])
    ax.set_yticklabels(["expected", "measured"])
    ax.set_ylim(0, 2)
    ax.set_xlim(ctx.cap.start_ns * s, ctx.cap.end_ns * s)
    ax.set_xlabel("capture time (s); one line per pulse; green: gate open")


def _amplitude(ax, ctx, first):
    p = ctx.pulses
    s = 1e-9
    ts, amps = [], []
    for r, f in zip(p.a_rise, p.a_fall):
        a = ctx.amp.phase_ua(r, f)
        if a is not None:
            ts.append(r * s)
            amps.append(a / 1000)
    ax.plot(ts, amps, ".", ms=2, color="#1f4e9c", label="measured (phase A)")
    if ctx.offset_ns is not None:
        exp = ctx.exp
        off = ctx.offset_ns
        xs = [(t + off) * s for t in exp.starts if ctx.cap.start_ns <= t + off <= ctx.cap.end_ns]
        ys = [
            a / 1000
            for t, a in zip(exp.starts, exp.amps)
            if ctx.cap.start_ns <= t + off <= ctx.cap.end_ns
        ]
        ax.step(xs, ys, where="post", color="black", lw=0.8, label="expected staircase")
    if first is not None and first["t_s"] is not None:
        ax.axvline(first["t_s"], color="red", lw=1.2)
    ax.set_ylabel("mA")
    ax.set_xlabel("capture time (s)")
    ax.legend(loc="upper right", fontsize=7)
