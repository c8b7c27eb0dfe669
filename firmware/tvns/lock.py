# The investigator lock: a PIN, stored only as a salted SHA-256 hash in the board's store,
# and a rate limit on wrong PINs in board time (docs/BLINDING.md). Main loop only.
#
# Store keys: "pin": {"salt": hex, "hash": hex}; "pin_fails": consecutive wrong PINs.
# Wrong PINs: after PIN_TRIES_FREE in a row, every PIN check is refused for PIN_LOCK_MS,
# doubling with each further wrong PIN (capped at PIN_LOCK_MAX_MS); a right PIN resets
# the count. The count survives a reset, and a boot with the count at or above the limit
# starts the lock-out again, so rebooting does not buy more guesses.
# The PIN itself is never stored, logged or echoed.
import binascii
import hashlib

try:
    import os
except ImportError:  # pragma: no cover
    import uos as os

from tvns import errors as E

PIN_MIN_CHARS = 4
PIN_MAX_CHARS = 32
PIN_TRIES_FREE = 3
PIN_LOCK_MS = 30000
PIN_LOCK_MAX_MS = 3600000
_SALT_BYTES = 16


def _hash(salt_hex, pin):
    h = hashlib.sha256(binascii.unhexlify(salt_hex))
    h.update(pin.encode())
    return binascii.hexlify(h.digest()).decode()


def _same(a, b):
    # Compare without an early exit: the time taken tells nothing about the hash.
    if len(a) != len(b):
        return False
    d = 0
    for i in range(len(a)):
        d |= ord(a[i]) ^ ord(b[i])
    return d == 0


def lock_ms(fails):
    """The lock-out after `fails` consecutive wrong PINs (0: none)."""
    if fails < PIN_TRIES_FREE:
        return 0
    ms = PIN_LOCK_MS << (fails - PIN_TRIES_FREE)
    return ms if ms < PIN_LOCK_MAX_MS else PIN_LOCK_MAX_MS


class PinLock:
    def __init__(self, store, clock):
        self._store = store
        self._clock = clock
        self.fails = store.get("pin_fails") or 0
        self._until_ms = None  # ticks_ms when the present lock-out ends; None: not locked
        if lock_ms(self.fails):
            self._until_ms = clock.ticks_add(clock.ticks_ms(), lock_ms(self.fails))

    def is_set(self):
        return self._store.get("pin") is not None

    def locked_for_ms(self):
        if self._until_ms is None:
            return 0
        left = self._clock.ticks_diff(self._until_ms, self._clock.ticks_ms())
        if left <= 0:
            self._until_ms = None
            return 0
        return left

    def check(self, pin, always=False):
        """Raise unless pin is the investigator PIN. Without a PIN set, pass, unless always
        (allocate, unblind): those need a PIN to exist."""
        if not self.is_set():
            if always:
                raise E.TvnsError(E.PIN_REQUIRED, "set an investigator PIN first (set_pin)", "pin")
            return
        if pin is None:
            raise E.TvnsError(E.PIN_REQUIRED, "this command needs the investigator PIN", "pin")
        left = self.locked_for_ms()
        if left:
            msg = "too many wrong PINs: PIN checks refused for %d s" % ((left + 999) // 1000)
            raise E.TvnsError(E.PIN_LOCKED_OUT, msg, "pin")
        rec = self._store.get("pin")
        if not _same(_hash(rec["salt"], pin), rec["hash"]):
            self.fails += 1
            self._store.put("pin_fails", self.fails)
            wait = lock_ms(self.fails)
            if wait:
                self._until_ms = self._clock.ticks_add(self._clock.ticks_ms(), wait)
            raise E.TvnsError(E.BAD_PIN, "wrong investigator PIN", "pin")
        if self.fails:
            self.fails = 0
            self._store.put("pin_fails", None)

    def set_pin(self, new_pin, old_pin):
        """The first PIN needs none; changing it needs the old one."""
        if not isinstance(new_pin, str) or not PIN_MIN_CHARS <= len(new_pin) <= PIN_MAX_CHARS:
            msg = "new_pin must be a string of %d..%d characters" % (PIN_MIN_CHARS, PIN_MAX_CHARS)
            raise E.TvnsError(E.BAD_FIELD, msg, "new_pin")
        self.check(old_pin)
        salt = binascii.hexlify(os.urandom(_SALT_BYTES)).decode()
        self._store.put("pin", {"salt": salt, "hash": _hash(salt, new_pin)})
