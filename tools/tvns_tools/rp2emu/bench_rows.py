"""The bench table's rows for the emulated Pico's figures (tools/tvns_tools/rp2emu/bench.py
measures them): issue 18's rows with their goals, then the stock UF2's figures beside them."""

# Goals (issue 18); all "at most" but heap ("at least").
GOALS = {
    "rp2emu_tick_idle_us": ("<=", 10),
    "rp2emu_tick_running_max_us": ("<=", 50),
    "rp2emu_tick_cpu_pct": ("<=", 5),
    "rp2emu_tick_late_max_us": ("<=", 100),  # flash writes aside: none in the bench session
    "rp2emu_boot_ms": ("<=", 250),
    "rp2emu_load_default_ms": ("<=", 15),
    "rp2emu_load_worst_ms": ("<=", 15),
    "rp2emu_heap_free_min_kb": (">=", 150),
}


def rows(figures):
    """(measure, value, goal) rows for the bench table."""

    def goal(key):
        g = GOALS.get(key)
        return "%s %g" % g if g else ""

    f = figures
    out = [
        (
            "rp2emu boot to console (emulated)",
            "%s ms" % f.get("rp2emu_boot_ms"),
            goal("rp2emu_boot_ms"),
        ),
    ]
    for label, name, g in (
        ("rp2emu tick, session idle", "idle", "<= 10"),
        ("rp2emu tick, running, nothing due", "clean", "<= 30"),
        ("rp2emu tick with a ramp step", "ramp_step", "<= 50"),
        ("rp2emu tick with a train edge", "train_edge", "<= 50"),
    ):
        med = f.get("rp2emu_tick_%s_median_us" % name)
        mx = f.get("rp2emu_tick_%s_max_us" % name)
        n = f.get("rp2emu_tick_%s_n" % name)
        out.append((label, "median %s us, max %s us (%s ticks)" % (med, mx, n), g))
    out.append(
        (
            "rp2emu tick, worst while running",
            "%s us" % f["rp2emu_tick_running_max_us"],
            goal("rp2emu_tick_running_max_us"),
        )
    )
    out.append(
        (
            "rp2emu CPU taken by the tick (session)",
            "%s %%" % f["rp2emu_tick_cpu_pct"],
            goal("rp2emu_tick_cpu_pct"),
        )
    )
    if f.get("rp2emu_tick_late_max_us") is not None:
        out.append(
            (
                "rp2emu tick start, late behind the timer, running",
                "%s us (with the flash writes after: %s us; intervals %s-%s us)"
                % (
                    f["rp2emu_tick_late_max_us"],
                    f["rp2emu_tick_late_max_all_us"],
                    f["rp2emu_tick_interval_min_us"],
                    f["rp2emu_tick_interval_max_us"],
                ),
                goal("rp2emu_tick_late_max_us"),
            )
        )
    out.append(
        (
            "rp2emu console load, default protocol",
            "%s ms" % f["rp2emu_load_default_ms"],
            goal("rp2emu_load_default_ms"),
        )
    )
    worst = "%s ms" % f["rp2emu_load_worst_ms"]
    if not f.get("rp2emu_load_worst_ok"):
        worst += " (refused: %s)" % f.get("rp2emu_load_worst_error", "?")
    out.append(
        ("rp2emu console load, 1 h at 100 Hz 0.1/0.1 s", worst, goal("rp2emu_load_worst_ms"))
    )
    out.append(
        (
            "rp2emu heap free after boot / lowest in a session",
            "%s / %s KB" % (f["rp2emu_heap_free_boot_kb"], f["rp2emu_heap_free_min_kb"]),
            goal("rp2emu_heap_free_min_kb"),
        )
    )
    if f.get("rp2emu_stock_boot_ms") is not None:
        out.append(
            (
                "rp2emu stock UF2 + .mpy deploy: boot",
                "%s ms" % f["rp2emu_stock_boot_ms"],
                "(before the tvns UF2)",
            )
        )
        out.append(
            (
                "rp2emu stock UF2 + .mpy deploy: heap free boot / min",
                "%s / %s KB"
                % (f.get("rp2emu_stock_heap_free_boot_kb"), f.get("rp2emu_stock_heap_free_min_kb")),
                "(before the tvns UF2)",
            )
        )
    if f.get("rp2emu_firmware"):
        out.append(("rp2emu firmware measured", f["rp2emu_firmware"], ""))
    return out
