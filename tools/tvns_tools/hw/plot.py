"""PNG of one run: electrode current and voltage over the stretch and one pulse up close,
with what the ADC (GP26 / pin 31) and the compliance/kill lines (GP15 / pin 20, GP7 /
pin 10) see."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot(w, stim, report, path, title):
    fig, axes = plt.subplots(3, 1, figsize=(9, 8), constrained_layout=True)
    t_ms = w.t_us / 1000
    ax = axes[0]
    ax.plot(t_ms, w.i_ma, lw=0.8, color="tab:blue")
    ax.set_ylabel("electrode current (mA)")
    ax.set_title(title, fontsize=10)
    ax2 = ax.twinx()
    ax2.plot(t_ms, w.v_load, lw=0.6, color="tab:orange", alpha=0.7)
    ax2.set_ylabel("load voltage (V)", color="tab:orange")
    s, _amp, width, gap = stim.pulses[0]
    lo, hi = s - 0.2 * width, s + 2 * width + gap + 0.2 * width
    m = (w.t_us >= lo) & (w.t_us <= hi)
    ax = axes[1]
    ax.plot(w.t_us[m] - s, w.i_ma[m], color="tab:blue", label="current (mA)")
    ax.set_ylabel("mA")
    ax.set_xlabel("us from the first pulse's phase A")
    ax3 = ax.twinx()
    ax3.plot(w.t_us[m] - s, w.v_load[m], color="tab:orange", label="load voltage (V)")
    ax3.set_ylabel("V", color="tab:orange")
    ax.set_title(
        "delivered %.3f mA for %.3f mA commanded, %.4f uC per phase, net %.2g uC"
        % (
            report["delivered_ma"],
            report["commanded_ma"],
            report["charge_per_phase_uc"],
            report["net_charge_uc"],
        ),
        fontsize=9,
    )
    ax = axes[2]
    ax.plot(t_ms, w.adc0, label="ADC0 / GP26 / pin 31 (V)")
    ax.plot(t_ms, w.compl / 3.3 * 0.5 + 1.2, label="GP15 / pin 20 compliance (high = tripped)")
    ax.plot(t_ms, w.killn / 3.3 * 0.5 + 1.9, label="GP7 / pin 10 KILL_n (low = kill)")
    ax.set_xlabel("ms")
    ax.set_yticks([])
    ax.legend(loc="upper right", fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)
