# The investigator lock: a PIN, stored only as a PBKDF2-HMAC-SHA256 hash with a random salt
# in the board's store, and a rate limit on wrong PINs in the device's own monotonic time
# (tvns/uptime.py: right at any uptime, across the 12.4-day ticks wrap). docs/BLINDING.md
# has the threat model. Main loop only (a check takes about half a second on an RP2040).
#
# Store keys: "pin": {"alg": "pbkdf2-sha256", "iter", "salt": hex, "hash": hex};
# "pin_fails": consecutive wrong PINs. Wrong PINs: after PIN_TRIES_FREE in a row, every PIN
# check is refused for PIN_LOCK_MS, doubling with each further wrong PIN (capped at
# PIN_LOCK_MAX_MS); a right PIN resets the count. The count survives a reset, and a boot
# with the count at or above the limit starts the lock-out again, so rebooting does not buy
# more guesses. The PIN itself is never stored, logged or echoed.
#
# Old stores (version 1) held {"salt", "hash"}: one salted SHA-256, fast to brute-force.
# Such a record never unlocks anything any more: a version-1 store is damaged (no checksum)
# and the only thing its PIN can do is re-provision the device once (`reset_store`), which
# re-hashes it with PBKDF2 (verify_record(..., legacy=True)).
import binascii
import hashlib

try:
    import os
except ImportError:  # pragma: no cover
    import uos as os

from tvns import errors as E
from tvns.store import PIN_ALG

PIN_MIN_CHARS = 6
PIN_MAX_CHARS = 32
PIN_TRIES_FREE = 3
PIN_LOCK_MS = 30000
PIN_LOCK_MAX_MS = 3600000
# PBKDF2 iterations: about 0.5 s per check on an RP2040 at 125 MHz. Measured on the emulated
# Pico (rp2040py 0.3.6, MicroPython v1.28.0): 200 iterations 81.2 ms, 0.406 ms each, so 1200
# take 0.49 s (the emulator's flash has no wait states: the chip is a little slower). A
# guess costs that on the device; the lock-out bounds guesses at the console to a few an hour.
PIN_ITERATIONS = 1200
_SALT_BYTES = 16


def _hex(b):
    return binascii.hexlify(b).decode()


def pin_record(pin, iterations=PIN_ITERATIONS, salt=None):
    salt = salt if salt is not None else os.urandom(_SALT_BYTES)
    digest = _pbkdf2()(pin.encode(), salt, iterations)
    return {"alg": PIN_ALG, "iter": iterations, "salt": _hex(salt), "hash": _hex(digest)}


def _legacy_hash(salt_hex, pin):
    h = hashlib.sha256(binascii.unhexlify(salt_hex))
    h.update(pin.encode())
    return _hex(h.digest())


def _same(a, b):
    # Compare without an early exit: the time taken tells nothing about the hash.
    if len(a) != len(b):
        return False
    d = 0
    for i in range(len(a)):
        d |= ord(a[i]) ^ ord(b[i])
    return d == 0


def verify_record(rec, pin, legacy=False):
    """True when pin matches the stored record. legacy: also accept a version-1 record
    (salted SHA-256): only reset_store asks for that."""
    try:
        if rec.get("alg") == PIN_ALG:
            salt = binascii.unhexlify(rec["salt"])
            digest = _pbkdf2()(pin.encode(), salt, int(rec["iter"]))
            return _same(_hex(digest), rec["hash"])
        if legacy and "alg" not in rec:
            return _same(_legacy_hash(rec["salt"], pin), rec["hash"])
    except (KeyError, ValueError, TypeError, AttributeError):
        pass
    return False


def lock_ms(fails):
    """The lock-out after `fails` consecutive wrong PINs (0: none)."""
    if fails < PIN_TRIES_FREE:
        return 0
    n = fails - PIN_TRIES_FREE
    if n > 8:  # 30 s << 7 already passes the cap; keep the shift (and the int) small
        return PIN_LOCK_MAX_MS
    ms = PIN_LOCK_MS << n
    return ms if ms < PIN_LOCK_MAX_MS else PIN_LOCK_MAX_MS


def check_new_pin(new_pin):
    if (
        not isinstance(new_pin, str)
        or not PIN_MIN_CHARS <= len(new_pin) <= PIN_MAX_CHARS
        or not all(" " < c <= "~" for c in new_pin)
    ):
        msg = "new_pin must be %d..%d printable ASCII characters (e.g. %d digits or more)" % (
            PIN_MIN_CHARS,
            PIN_MAX_CHARS,
            PIN_MIN_CHARS,
        )
        raise E.TvnsError(E.BAD_FIELD, msg, "new_pin")


class PinLock:
    def __init__(self, store, uptime):
        self._store = store
        self._uptime = uptime
        fails = store.get("pin_fails") or 0
        self.fails = fails
        self._until_ms = None  # uptime ms when the present lock-out ends; None: not locked
        if lock_ms(fails):
            self._until_ms = uptime.ms() + lock_ms(fails)

    def is_set(self):
        return self._store.get("pin") is not None

    def locked_for_ms(self):
        if self._until_ms is None:
            return 0
        left = self._until_ms - self._uptime.ms()
        if left <= 0:
            self._until_ms = None
            return 0
        return left

    def check(self, pin, always=False):
        """Raise unless pin is the investigator PIN. Without a PIN set, pass, unless always
        (allocate, unblind): those need a PIN to exist. A damaged store: refused."""
        if self._store.damaged:
            raise E.TvnsError(E.STORE_DAMAGED, "the store is damaged: reset_store first")
        if not self.is_set():
            if always:
                raise E.TvnsError(E.PIN_REQUIRED, "set an investigator PIN first (set_pin)", "pin")
            return
        if pin is None:
            raise E.TvnsError(E.PIN_REQUIRED, "this command needs the investigator PIN", "pin")
        self.verify([self._store.get("pin")], pin)

    def verify(self, records, pin, legacy=False):
        """Check pin against any of records, with the lock-out. The count is written to the
        store when it can be (held back while stimulating; RAM only while damaged)."""
        left = self.locked_for_ms()
        if left:
            msg = "too many wrong PINs: PIN checks refused for %d s" % ((left + 999) // 1000)
            raise E.TvnsError(E.PIN_LOCKED_OUT, msg, "pin")
        for rec in records:
            if verify_record(rec, pin, legacy):
                if self.fails:
                    self.fails = 0
                    self._save(None)
                return
        self.fails += 1
        self._save(self.fails)
        wait = lock_ms(self.fails)
        if wait:
            self._until_ms = self._uptime.ms() + wait
        raise E.TvnsError(E.BAD_PIN, "wrong investigator PIN", "pin")

    def _save(self, fails):
        if not self._store.damaged:
            try:
                self._store.put("pin_fails", fails)
            except E.TvnsError:
                pass  # the store is now damaged (locked); the count stays in RAM

    def set_pin(self, new_pin, old_pin):
        """The first PIN needs none; changing it needs the old one."""
        check_new_pin(new_pin)
        self.check(old_pin)
        self._store.put("pin", pin_record(new_pin))


def _pbkdf2():
    """PBKDF2-SHA256, imported when a PIN is set or checked: a device without a PIN never
    loads it (boot time and heap, docs/SPEED.md)."""
    from tvns.pbkdf2 import pbkdf2_sha256

    return pbkdf2_sha256
