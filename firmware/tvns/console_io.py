# Non-blocking byte input for the console: select.poll on the stdin stream, then only
# the bytes already there. On the boards (USB CDC) and the MicroPython unix port this is
# the one way to read the serial link without ever waiting in the main loop.
import select

from micropython import const

READ_MAX_BYTES = const(1024)  # per main-loop pass: a flood cannot starve the loop


class PollReader:
    def __init__(self, stream):
        self._stream = stream
        self._poll = select.poll()
        self._poll.register(stream, select.POLLIN)
        self._one = bytearray(1)
        self.eof = False  # the host closed the link (pipes only; a USB CDC never ends)

    def read(self, max_bytes=READ_MAX_BYTES):
        """The bytes available now (maybe none), at most max_bytes; never blocks.
        One byte per read: read(n) would wait for all n on these streams."""
        out = bytearray()
        one = self._one
        while len(out) < max_bytes and self._poll.poll(0):
            if not self._stream.readinto(one):
                self.eof = True
                break
            out += one
        return out

    def wait(self, timeout_ms):
        """Sleep up to timeout_ms, returning early when input arrives."""
        if timeout_ms > 0 and not self.eof:
            self._poll.poll(timeout_ms)
