"""The board's console reader (tvns/console_io.py PadReader): a line per call from the port's
stdin, never waiting. The fake is the rp2/esp32 port's stdin as MicroPython v1.28.0 has it
(ports/rp2/mphalport.c mp_hal_stdin_rx_chr: the receive ring buffer first, then the
os.dupterm stream; shared/runtime/sys_stdio_mphal.c and py/stream.c: readline(max) reads a
byte at a time until a newline or max bytes, and waits for good when neither gives one)."""

import pytest
from tvns.console_io import PadReader, PollReader, board_reader


class PortWouldWait(AssertionError):
    pass


class PortStdin:
    """sys.stdin.buffer on the rp2 port, with os.dupterm."""

    def __init__(self):
        self.rx = bytearray()  # stdin_ringbuf: what the USB stack has received
        self.dupterm_obj = None
        self.pads_read = 0

    def dupterm(self, obj):
        prev = self.dupterm_obj
        self.dupterm_obj = obj
        return prev

    def _rx_chr(self):
        if self.rx:
            c = self.rx[0]
            del self.rx[0]
            return c
        if self.dupterm_obj is not None:
            buf = bytearray(1)
            if self.dupterm_obj.readinto(buf):
                self.pads_read += 1
                return buf[0]
        raise PortWouldWait("the port would wait here for input, for good")

    def readline(self, max_size=-1):
        out = bytearray()
        while max_size < 0 or len(out) < max_size:
            c = self._rx_chr()
            out.append(c)
            if c == 10:
                break
        return bytes(out)


class Poll:
    def __init__(self, stdin):
        self.stdin = stdin

    def ipoll(self, _timeout):
        return iter([(self.stdin, 1)] if self.stdin.rx else [])

    def poll(self, _timeout):
        return []


def _reader():
    port = PortStdin()
    return PadReader(port, port.dupterm, Poll(port)), port


def test_a_whole_request_line_comes_in_one_read_and_the_pad_never_shows():
    reader, port = _reader()
    line = b'{"id": 1, "cmd": "load", "protocol": {"schema": 1}}\n'
    port.rx += line
    assert reader.read() == line
    assert port.rx == b""
    assert reader.read() == b""  # nothing there: no wait, no pad byte in the data


def test_lines_then_a_partial_line_then_its_rest():
    reader, port = _reader()
    port.rx += b'{"cmd": "status"}\n{"cmd": "hello"}\n{"cmd": "st'
    assert reader.read() == b'{"cmd": "status"}\n{"cmd": "hello"}\n{"cmd": "st'
    port.rx += b'op"}\n'
    assert reader.read() == b'op"}\n'


def test_a_newline_at_the_very_end_of_what_arrived_is_the_hosts_not_a_pad():
    reader, port = _reader()
    port.rx += b"\n\n"
    assert reader.read() == b"\n\n"
    assert reader.read() == b""


def test_a_flood_without_newlines_is_read_at_most_max_bytes_per_pass():
    reader, port = _reader()
    port.rx += b"x" * 3000
    got = reader.read(1024)
    assert got == b"x" * 1024
    assert len(port.rx) == 3000 - 1024


@pytest.mark.parametrize("noise", [bytes(range(256)), b"\x00\xff\r\x03\n"])
def test_every_byte_value_comes_through_unchanged(noise):
    reader, port = _reader()
    port.rx += noise
    assert reader.read() == noise


def test_a_dropped_pad_stream_is_attached_again_before_the_read():
    # os_dupterm.c drops a stream whose method raised; a readline without it waits for good
    reader, port = _reader()
    port.dupterm(None)
    port.rx += b"par"
    assert reader.read() == b"par"


def test_the_pad_is_attached_for_the_read_only():
    # Attached, the pad's Python methods run in every poll and write of the link (os_dupterm.c)
    reader, port = _reader()
    assert port.dupterm_obj is None
    seen = []
    readline = port.readline
    port.readline = lambda n: (seen.append(port.dupterm_obj), readline(n))[1]
    port.rx += b"ab\n"
    assert reader.read() == b"ab\n"
    assert seen and all(s is reader._pad for s in seen)
    assert port.dupterm_obj is None


def test_the_pad_is_detached_when_the_read_raises():
    reader, port = _reader()

    def interrupted(n):
        raise KeyboardInterrupt

    port.readline = interrupted
    with pytest.raises(KeyboardInterrupt):
        reader.read()
    assert port.dupterm_obj is None


def test_close_detaches_the_pad_for_the_repl():
    reader, port = _reader()
    port.dupterm(reader._pad)
    reader.close()
    assert port.dupterm_obj is None
    port.rx += b"x"
    with pytest.raises(PortWouldWait):  # the REPL's own reads wait, as they should
        port.readline()


def test_the_pad_stream_takes_output_and_never_says_readable():
    reader, port = _reader()
    pad = reader._pad
    assert pad.write(bytearray(b"abc")) == 3
    assert pad.ioctl(3, 1) == 0  # MP_STREAM_POLL: the link's own poll decides


def test_without_dupterm_a_board_reads_a_byte_at_a_time():
    import os

    r, w = os.pipe()
    try:
        with open(r, "rb", buffering=0, closefd=False) as f:
            assert isinstance(board_reader(f), PollReader)  # CPython: no os.dupterm
    finally:
        os.close(r)
        os.close(w)
