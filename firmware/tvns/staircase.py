# The perception-threshold staircase (docs/TITRATION in PROTOCOL.md "Titration"): pure logic,
# integers in uA, no hardware. A rising series until the first "felt" (rise_ua per trial),
# then up_ua after "not felt" and down_ua after "felt" until `reversals` changes of direction
# (the first "felt" is the first reversal). The threshold is the mean of the amplitudes at
# the reversals, to 1 uA. Never above cap_ua, never below floor_ua; a run ends without a
# threshold when the cap is not felt or after TITRATION_TRIALS_MAX trials.
from tvns import limits as L

UP = 1
DOWN = -1


class Staircase:
    def __init__(self, start_ua, rise_ua, up_ua, down_ua, reversals, cap_ua, floor_ua=100):
        self.rise_ua = rise_ua
        self.up_ua = up_ua
        self.down_ua = down_ua
        self.reversals_needed = reversals
        self.cap_ua = cap_ua
        self.floor_ua = floor_ua
        self.amp_ua = start_ua if start_ua < cap_ua else cap_ua  # the next trial's amplitude
        self.rising = True  # the first series, until the first "felt"
        self.last_dir = UP
        self.trials = []  # [amplitude_ua, felt]
        self.reversal_ua = []  # amplitudes at which the direction changed
        self.done = False
        self.outcome = None  # "threshold", "not_felt_at_cap", "too_many_trials"

    def answer(self, felt):
        """Record the answer to the trial at amp_ua; set the next amplitude. Returns done."""
        if self.done:
            return True
        amp = self.amp_ua
        self.trials.append([amp, bool(felt)])
        direction = DOWN if felt else UP
        if felt:
            self.rising = False
        elif self.rising and amp >= self.cap_ua:
            return self._end("not_felt_at_cap")
        if not self.rising and direction != self.last_dir:
            self.reversal_ua.append(amp)
        self.last_dir = direction
        if len(self.reversal_ua) >= self.reversals_needed:
            return self._end("threshold")
        if len(self.trials) >= L.TITRATION_TRIALS_MAX:
            return self._end("too_many_trials")
        if felt:
            nxt = amp - self.down_ua
        else:
            nxt = amp + (self.rise_ua if self.rising else self.up_ua)
        if nxt > self.cap_ua:
            nxt = self.cap_ua
        if nxt < self.floor_ua:
            nxt = self.floor_ua
        self.amp_ua = nxt
        return False

    def _end(self, outcome):
        self.done = True
        self.outcome = outcome
        return True

    def threshold_ua(self):
        """Mean of the reversal amplitudes (rounded half up), or None without a threshold."""
        if self.outcome != "threshold":
            return None
        n = len(self.reversal_ua)
        return (2 * sum(self.reversal_ua) + n) // (2 * n)
