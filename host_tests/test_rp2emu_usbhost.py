"""The emulated host's bulk OUT endpoint (tools/tvns_tools/rp2emu/usbhost.py): an OUT buffer
the device arms is served only when the host has data, as a real host controller does, not
with a zero-length packet every time (rp2040py 0.3.6). Fakes of rp2040py's CDC host, its USB
controller hooks and a clock alarm; no emulator needed."""

from tvns_tools.rp2emu import usbhost

OUT = 2


class _Fifo:
    def __init__(self):
        self.items = []

    @property
    def item_count(self):
        return len(self.items)


class _Usb:
    def __init__(self):
        self.reads = []  # what rp2040py's own on_endpoint_read served: (endpoint, bytes)
        self.on_reset = lambda: None


class _Cdc:
    def __init__(self):
        self.usb = _Usb()
        self.tx_fifo = _Fifo()
        self._out_endpoint = OUT

        def on_read(endpoint, size):  # rp2040py: whatever the FIFO holds, even nothing
            n = min(size, self.tx_fifo.item_count)
            data, self.tx_fifo.items[:n] = bytes(self.tx_fifo.items[:n]), []
            self.usb.reads.append((endpoint, data))

        self.usb.on_endpoint_read = on_read

    def send_serial_byte(self, b):
        self.tx_fifo.items.append(b)


class _Alarm:
    def __init__(self, cb):
        self.cb = cb
        self.due_ns = None

    def schedule(self, ns):
        self.due_ns = ns

    def cancel(self):
        self.due_ns = None

    def fire(self):
        self.due_ns = None
        self.cb()


class _Clock:
    def create_alarm(self, cb):
        self.alarm = _Alarm(cb)
        return self.alarm


def _host():
    cdc, clock = _Cdc(), _Clock()
    return cdc, clock, usbhost.install(cdc, clock)


def test_an_out_buffer_armed_with_nothing_to_send_waits_for_data():
    cdc, clock, ep = _host()
    cdc.usb.on_endpoint_read(OUT, 64)
    assert cdc.usb.reads == []  # no zero-length packet
    assert ep.pending == (OUT, 64) and ep.held == 1
    assert clock.alarm.due_ns == usbhost.HOLD_MAX_NS
    for b in b"hello\n":
        cdc.send_serial_byte(b)
    assert cdc.usb.reads == [] and clock.alarm.due_ns == usbhost.READY_NS
    clock.alarm.fire()
    assert cdc.usb.reads == [(OUT, b"hello\n")]  # the whole write in one packet
    assert ep.pending is None


def test_a_buffer_held_past_its_bound_is_served_empty_as_rp2040py_would():
    # rp2040py passes idle time only from event to event (a blank board's first boot)
    cdc, clock, ep = _host()
    cdc.usb.on_endpoint_read(OUT, 64)
    assert clock.alarm.due_ns == usbhost.HOLD_MAX_NS
    clock.alarm.fire()
    assert cdc.usb.reads == [(OUT, b"")] and ep.pending is None
    assert usbhost.HOLD_MAX_NS >= 25 * 38_000  # far fewer than one every ~38 us


def test_an_out_buffer_armed_with_data_waiting_is_served_at_once():
    cdc, _clock, ep = _host()
    cdc.send_serial_byte(0x41)
    cdc.usb.on_endpoint_read(OUT, 64)
    assert cdc.usb.reads == [(OUT, b"A")]
    assert ep.pending is None and ep.held == 0


def test_other_endpoints_and_enumeration_are_rp2040pys():
    cdc, _clock, _ep = _host()
    cdc.usb.on_endpoint_read(0, 7)  # EP0 (SET_LINE_CODING's data stage and the like)
    cdc._out_endpoint = None  # not configured yet
    cdc.usb.on_endpoint_read(OUT, 64)
    assert cdc.usb.reads == [(0, b""), (OUT, b"")]


def test_a_controller_reset_forgets_the_held_buffer():
    cdc, clock = _Cdc(), _Clock()
    resets = []
    cdc.usb.on_reset = lambda: resets.append(1)  # rp2040py's CDC clears itself here
    ep = usbhost.install(cdc, clock)
    cdc.usb.on_endpoint_read(OUT, 64)
    cdc.usb.on_reset()
    assert ep.pending is None and resets == [1] and clock.alarm.due_ns is None
    cdc.send_serial_byte(1)
    assert clock.alarm.due_ns is None
    clock.alarm.fire()
    assert cdc.usb.reads == []  # the reset chip arms its endpoint again itself
