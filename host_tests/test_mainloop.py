"""The board's main-loop pacer (tvns/board/mainloop.py): a reply longer than the USB FIFO
goes out as the link drains, not a whole 100 ms pass later, and the pass is never longer."""

from tvns.board.mainloop import GC_QUIET_MS, _boot_pin_map, _RealPacer


class Clock:
    def __init__(self):
        self.t = 0

    def ticks_ms(self):
        return self.t

    def ticks_diff(self, a, b):
        return a - b


class Reader:
    def __init__(self, clock, input_at_ms=None):
        self.clock = clock
        self.input_at_ms = input_at_ms
        self.waits = []

    def ready(self):
        return self.input_at_ms is not None and self.clock.t >= self.input_at_ms

    def wait(self, ms):  # select.poll: returns at once when input is there
        self.waits.append(ms)
        if not self.ready():
            end = self.clock.t + max(ms, 0)
            if self.input_at_ms is not None:
                end = min(end, max(self.input_at_ms, self.clock.t))
            self.clock.t = end


class Writer:
    """A link that takes one 64-byte chunk every drain_ms (None: never)."""

    def __init__(self, clock, queued, drain_ms=2):
        self.clock = clock
        self.queued = queued
        self.drain_ms = drain_ms
        self.sent_at = []

    def wait_writable(self, ms):
        self.clock.t += ms if self.drain_ms is None else min(ms, self.drain_ms)

    def pump(self):
        if self.drain_ms is not None and self.queued:
            self.queued = max(0, self.queued - 64)
            self.sent_at.append(self.clock.t)


def _pacer(queued, drain_ms=2, input_at_ms=None):
    clock = Clock()
    reader = Reader(clock, input_at_ms)
    writer = Writer(clock, queued, drain_ms)
    return _RealPacer(reader, writer, clock), clock, reader, writer


def test_a_queued_reply_goes_out_as_the_link_drains_within_the_pass():
    pacer, clock, reader, writer = _pacer(queued=448)
    pacer.wait(100)
    assert writer.queued == 0
    assert writer.sent_at == [2, 4, 6, 8, 10, 12, 14]  # not at the next pass (100 ms)
    assert reader.waits == [86]  # then the rest of the pass, waiting for input
    assert clock.t == 100


def test_a_link_that_takes_nothing_never_stretches_the_pass():
    pacer, clock, reader, writer = _pacer(queued=448, drain_ms=None)
    pacer.wait(100)
    assert writer.queued == 448
    assert clock.t == 100  # the watchdog's pass is kept


def test_input_is_served_before_the_rest_of_a_reply():
    pacer, clock, reader, writer = _pacer(queued=448, input_at_ms=5)
    pacer.wait(100)
    assert clock.t <= 6 and writer.queued > 0  # back to the loop: the request is read


def test_nothing_queued_is_one_wait_for_input():
    pacer, clock, reader, writer = _pacer(queued=0)
    pacer.wait(100)
    assert reader.waits == [100] and clock.t == 100


class Con:
    def __init__(self):
        self.gc_due = True


def _gc_pacer(queued=0, input_at_ms=None, collect_ms=25):
    clock = Clock()
    reader = Reader(clock, input_at_ms)
    writer = Writer(clock, queued)
    con = Con()
    runs = []

    def collect():
        runs.append(clock.t)
        clock.t += collect_ms

    return _RealPacer(reader, writer, clock, con, collect), clock, reader, con, runs


def test_garbage_is_collected_while_idle_once_and_within_the_pass():
    pacer, clock, reader, con, runs = _gc_pacer()
    pacer.wait(100)
    assert runs == [GC_QUIET_MS] and not con.gc_due  # after a quiet while
    assert reader.waits == [GC_QUIET_MS, 100 - GC_QUIET_MS - 25] and clock.t == 100
    pacer.wait(100)
    assert runs == [GC_QUIET_MS]  # once per gc_due


def test_no_collection_while_a_request_or_a_reply_waits():
    pacer, clock, reader, con, runs = _gc_pacer(input_at_ms=0)
    pacer.wait(100)
    assert runs == [] and con.gc_due  # the request first; collected in a later idle pass
    pacer, clock, reader, con, runs = _gc_pacer(input_at_ms=GC_QUIET_MS - 5)
    pacer.wait(100)
    assert runs == [] and con.gc_due and clock.t == GC_QUIET_MS - 5  # the next of a burst
    pacer, clock, reader, con, runs = _gc_pacer(queued=448)
    pacer.wait(100)
    assert runs == [] and con.gc_due


def test_a_load_request_asks_for_a_collection():
    from tvns.app import App
    from tvns.board.sim import SimBoard
    from tvns.console import GC_EVERY, Console

    con = Console(App(SimBoard()), [].append)
    assert con.gc_due  # after boot
    con.gc_due = False
    con.feed(b'{"id": 1, "cmd": "hello"}\n')
    assert not con.gc_due
    con.feed(b'{"id": 2, "cmd": "load", "protocol": "{}"}\n')  # refused: garbage too
    assert con.gc_due
    con.gc_due = False
    con.feed(b'{"id": 3, "cmd": "status"}\n' * (GC_EVERY - 1))
    assert not con.gc_due
    con.feed(b'{"id": 4, "cmd": "status"}\n')
    assert con.gc_due


def test_the_boot_pin_map_is_taken_once(monkeypatch):
    """The map boot.py left in the __main__ globals builds the board once; after that (or
    without one) None: the firmware reads board.json itself."""
    import sys
    import types

    main = types.ModuleType("__main__")
    monkeypatch.setitem(sys.modules, "__main__", main)
    assert _boot_pin_map() is None
    cfg = {"board": "pico"}
    main.BOOT_PIN_MAP = cfg
    assert _boot_pin_map() is cfg
    assert main.BOOT_PIN_MAP is None and _boot_pin_map() is None
