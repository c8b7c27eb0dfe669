# PBKDF2-HMAC-SHA256 (RFC 8018) over hashlib.sha256, the one hash every MicroPython port
# has: hmac and hashlib.pbkdf2_hmac are missing on most ports. Checked against CPython's
# hashlib.pbkdf2_hmac and published vectors under both runtimes (host_tests/mp_state_checks).
# Slow on purpose (the investigator PIN, tvns/lock.py); main loop only, never the tick.
import hashlib

_BLOCK = 64  # SHA-256 block size, bytes


def _pads(key):
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key + bytes(_BLOCK - len(key))
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def hmac_sha256(key, msg):
    ipad, opad = _pads(key)
    inner = hashlib.sha256(ipad)
    inner.update(msg)
    outer = hashlib.sha256(opad)
    outer.update(inner.digest())
    return outer.digest()


def pbkdf2_sha256(password, salt, iterations, dklen=32):
    """bytes -> bytes, as CPython's hashlib.pbkdf2_hmac("sha256", ...)."""
    ipad, opad = _pads(password)
    sha = hashlib.sha256
    out = b""
    block = 1
    while len(out) < dklen:
        h = sha(ipad)
        h.update(salt + block.to_bytes(4, "big"))
        o = sha(opad)
        o.update(h.digest())
        u = o.digest()
        acc = int.from_bytes(u, "big")
        for _ in range(iterations - 1):
            h = sha(ipad)
            h.update(u)
            o = sha(opad)
            o.update(h.digest())
            u = o.digest()
            acc ^= int.from_bytes(u, "big")
        out += acc.to_bytes(32, "big")
        block += 1
    return out[:dklen]
