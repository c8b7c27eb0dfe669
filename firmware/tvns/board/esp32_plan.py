# The ESP32 RMT engine's arithmetic (board/esp32_rmt.py): the map's `rmt` section, the
# RMT's tick per microsecond, the 15-bit item split, the pipeline latency a protocol
# allows, and the item lists of one pulse. Touches no hardware: the host tools (verify,
# bench) use it too.
from micropython import const

from tvns.board.config import num
from tvns.errors import OUT_OF_RANGE, RESOLUTION, TvnsError

PULSE_MAX = const(32767)  # esp32.RMT.PULSE_MAX: item durations are 15-bit
SOURCE_HZ = const(80000000)  # RMT source clock (APB) on the ESP32
MEM_SYMBOLS = const(64)  # one RMT memory block: a write that fits starts with all its items
TAIL_US = const(1)  # low item after each phase: its fall is an item edge, not end-of-frame
_MARGIN_US = const(200)  # free time left after a pulse's write before the next commit


def read_config(config):
    """The map's `rmt` section with defaults, each checked (TvnsError names the field)."""
    cfg = config.get("rmt", {})
    out = {}
    out["resolution_hz"] = int(
        num(cfg, "resolution_hz", "rmt.resolution_hz", 1000000, SOURCE_HZ, 1000000)
    )
    out["latency_us"] = int(num(cfg, "latency_us", "rmt.latency_us", 1000, 7000, 6000))
    out["lead_min_us"] = int(num(cfg, "lead_min_us", "rmt.lead_min_us", 100, 1000, 300))
    out["skew_max_us"] = int(num(cfg, "skew_max_us", "rmt.skew_max_us", 10, 1000, 300))
    out["skew_comp_us"] = int(
        num(cfg, "skew_comp_us", "rmt.skew_comp_us", 0, out["skew_max_us"], 0)
    )
    if out["lead_min_us"] >= out["latency_us"]:
        raise TvnsError(OUT_OF_RANGE, "rmt.lead_min_us must be below rmt.latency_us", "rmt")
    return out


def ticks_per_us(resolution_hz, source_hz=SOURCE_HZ):
    """RMT ticks per microsecond; TvnsError unless the divider is whole and every us is a
    whole number of ticks (the IDF rounds an inexact divider silently)."""
    if resolution_hz % 1000000 or source_hz % resolution_hz or source_hz // resolution_hz > 255:
        raise TvnsError(
            RESOLUTION,
            "rmt.resolution_hz %d: must be whole MHz dividing the %d Hz RMT clock by 1..255"
            % (resolution_hz, source_hz),
            "rmt.resolution_hz",
        )
    return resolution_hz // 1000000


def items_for(ticks):
    """How many items of at most PULSE_MAX ticks a duration needs."""
    return (ticks + PULSE_MAX - 1) // PULSE_MAX


def split(durs, start, n, ticks):
    """Write ticks into durs[start:start+n] as n near-equal items (each >= 1, <= PULSE_MAX).
    In place, integers only: the tick calls it."""
    q = ticks // n
    r = ticks - q * n
    i = 0
    while i < n:
        durs[start + i] = q + 1 if i < r else q
        i += 1


def latency_for(cfg, width_us, gap_us, period_us):
    """The pipeline latency used for this pulse: the map's, or less when the period is too
    short for it (the pulse's write must end before the next commit). TvnsError if no
    latency leaves lead_min_us."""
    room = period_us - 2 * width_us - gap_us - cfg["skew_max_us"] - TAIL_US - _MARGIN_US
    lat = cfg["latency_us"] if cfg["latency_us"] < room else room
    if lat < cfg["lead_min_us"] + 1000:
        raise TvnsError(OUT_OF_RANGE, "period too short for this board's RMT timing", "period_us")
    return lat


def item_lists(tpu, lat_us, width_us, gap_us, skew_max_us, with_sync):
    """The preallocated item lists for one pulse: ((len S, len A, len B, n lead S, n lead A,
    n lead B), durations/levels for S, A, B). Leads are filled per pulse; the rest is fixed.
    TvnsError if a write would not fit one RMT memory block."""
    n_lead = items_for(lat_us * tpu)
    n_lead_b = items_for((lat_us + width_us + gap_us) * tpu)
    n_w = items_for(width_us * tpu)
    high_s = 2 * width_us + gap_us + skew_max_us
    n_hs = items_for(high_s * tpu)

    def build(n_lo, hi_us, n_hi):
        durs = [1] * n_lo
        levels = [0] * n_lo
        d = [0] * n_hi
        split(d, 0, n_hi, hi_us * tpu)
        durs += d + [TAIL_US * tpu]
        levels += [1] * n_hi + [0]
        return durs, levels

    d_s, lv_s = build(n_lead, high_s, n_hs) if with_sync else ([], [])
    d_a, lv_a = build(n_lead, width_us, n_w)
    d_b, lv_b = build(n_lead_b, width_us, n_w)
    for d in (d_s, d_a, d_b):
        if (len(d) + 2) // 2 > MEM_SYMBOLS:  # + the end marker
            raise TvnsError(
                OUT_OF_RANGE, "pulse needs more than one RMT block at this resolution", "rmt"
            )
    shape = (len(d_s), len(d_a), len(d_b), n_lead, n_lead, n_lead_b)
    return (shape, d_s, lv_s, d_a, lv_a, d_b, lv_b)
