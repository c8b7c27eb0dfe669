# The device's own monotonic time since boot, right at any uptime. time.ticks_ms() wraps
# every 2**30 ms (12.4 days) and ticks_diff is only meaningful within 2**29 ms (6.2 days):
# anything that compares against a stored tick for longer (the PIN lock-out, the exposure
# window) goes wrong after days. Uptime adds the ticks_diff since its last call into whole
# seconds and a millisecond remainder, both small ints (2**30 s is 34 years). update() must
# run at least every 6 days: the main loop calls it every pass (100 ms). Main loop only.


class Uptime:
    def __init__(self, clock):
        self._clock = clock
        self._last = clock.ticks_ms()
        self.s = 0  # whole seconds since boot
        self._ms = 0  # and milliseconds, 0..999

    def update(self):
        now = self._clock.ticks_ms()
        d = self._clock.ticks_diff(now, self._last)
        if d > 0:
            self._last = now
            ms = self._ms + d
            self.s += ms // 1000
            self._ms = ms % 1000
        return self.s

    def ms(self):
        """Milliseconds since boot (a big int on a board after 12.4 days: main loop only)."""
        self.update()
        return self.s * 1000 + self._ms
