# The daily exposure cap as a rolling window in the device's own time (SAFETY.md H11).
#
# Device time `dev_s` = the device time saved at the last store write + the uptime since
# boot: within a boot it is the monotonic clock; across a reboot (no RTC) no time is
# assumed to have passed since the last write, which can only make the window hold longer.
# A session's exposure counts in full until 24 h of device time after it ended. The wall
# clock of `set_time` is information for the log, never authority: only an investigator
# confirmation (`set_time` with the PIN) moves device time forward, by how much the
# confirmed clock is ahead of the last confirmed clock carried forward in device time, and
# never backward. Store key "exposure": {"dev_s", "unix_s" (the confirmed wall clock at
# dev_s, or null), "entries": [[end_dev_s, used_ms], ...]}. Main loop only.
from tvns import limits as L
from tvns.store import ENTRIES_MAX

WINDOW_S = 86400
CAP_MS = L.DAILY_EXPOSURE_MAX_S * 1000


class Exposure:
    def __init__(self, store, uptime):
        self._store = store
        self._uptime = uptime
        rec = store.get("exposure")
        self.base_s = rec["dev_s"] if rec else 0
        self.anchor_unix_s = rec["unix_s"] if rec else None  # confirmed clock at anchor_dev_s
        self.anchor_dev_s = self.base_s
        self.entries = [list(e) for e in rec["entries"]] if rec else []

    def dev_s(self):
        return self.base_s + self._uptime.update()

    def confirmed_unix_s(self):
        """The investigator-confirmed wall clock now, carried in device time, or None."""
        if self.anchor_unix_s is None:
            return None
        return self.anchor_unix_s + self.dev_s() - self.anchor_dev_s

    def used_ms(self):
        """Exposure within the last 24 h of device time; the full cap when the store is
        damaged (nothing in it can be trusted)."""
        if self._store.damaged:
            return CAP_MS
        start = self.dev_s() - WINDOW_S
        used = 0
        for end_s, ms in self.entries:
            if end_s > start:
                used += ms
        return used

    def add(self, ms):
        """Count ms of exposure ending now; returns the store record to write."""
        now = self.dev_s()
        self.entries.append([now, ms])
        return self.record()

    def clear(self):
        self.entries = []
        return self.record()

    def confirm(self, unix_s):
        """Investigator: the wall clock is unix_s now. Returns the seconds device time moved
        forward (0 without an earlier confirmation to measure from)."""
        now = self.dev_s()
        gap = 0
        if self.anchor_unix_s is not None:
            gap = unix_s - (self.anchor_unix_s + now - self.anchor_dev_s)
            if gap < 0:
                gap = 0  # never backward: that would stretch the window's past
            self.base_s += gap
            now += gap
        self.anchor_unix_s = unix_s
        self.anchor_dev_s = now
        return gap

    def record(self):
        now = self.dev_s()
        start = now - WINDOW_S
        live = [e for e in self.entries if e[0] > start]
        while len(live) > ENTRIES_MAX:
            # Merge the two oldest: the later end, the sum (it can only count longer).
            a = live.pop(0)
            live[0] = [live[0][0], a[1] + live[0][1]]
        self.entries = live
        return {"dev_s": now, "unix_s": self.confirmed_unix_s(), "entries": live}
