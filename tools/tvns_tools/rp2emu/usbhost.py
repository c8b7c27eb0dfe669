"""The USB host's bulk OUT endpoint as a real host drives it: data goes out only when there is
data to send.

rp2040py 0.3.6's CDC host (rp2040py/usb/cdc.py `_on_endpoint_read`) answers every OUT buffer
the device arms at once with whatever its FIFO holds, and with an empty FIFO that is a
zero-length packet: the device's USB IRQ and TinyUSB task run for it, arm the buffer again, and
the next one comes 10 us later. Idle, the emulated Pico took a zero-length packet every ~38 us
(1,323 in 50 emulated ms, measured 2026-11-27): ~30 % of its CPU went to the USB interrupt and
task, and every firmware figure measured on the emulator (boot, `load`, the main loop) paid for
it. A real host controller (Linux cdc-acm) schedules an OUT transaction only for data the tty
was given; a device's armed buffer then simply waits (docs/SPEED.md "`load`, request to
reply"). Here an OUT buffer armed while the FIFO is empty is held, and served READY_NS after
the next byte is queued (all of a host write is queued at once: one packet carries it).

Held for at most HOLD_MAX_NS, then served empty as before: rp2040py passes idle time only
from one event to the next, and at one point of a blank board's first boot (the port
formatting littlefs, ~16.8 emulated ms) the CPU waits with no event of its own: held for good,
the clock stood there (the rp2emu tier's deploy onto a blank board). One zero-length packet a
millisecond instead of one every ~38 us: ~1 % of the CPU instead of ~30 %.

Installed by EmuPico(data_only_usb=True), which harness.EmuBoard asks for: every board of the
bench and the tier. (With the CPU idle up to 1 ms at a time, three 1-us kill tests of the tier
failed at first: an input the host changed at the end of an idle jump was seen by the PIO from
the jump's start. EmuPico.drive now runs the PIO up to the present first: pio_timing.)
"""

READY_NS = 10_000  # from the host's write to its OUT transaction: rp2040py's own read delay
HOLD_MAX_NS = 1_000_000  # then an empty packet, as rp2040py sends (see above)


class OutEndpoint:
    """Hold the device's OUT arm while the host has nothing to send (engine thread only)."""

    def __init__(self, cdc, clock):
        self._cdc = cdc
        self._usb = cdc.usb
        self._read = self._usb.on_endpoint_read  # rp2040py's: pulls from the FIFO at once
        self._push = cdc.send_serial_byte
        self._alarm = clock.create_alarm(self._serve)
        self.pending = None  # (endpoint, size) of an OUT buffer armed while the FIFO was empty
        self.held = 0  # OUT arms held (each one a zero-length packet rp2040py would have sent)
        self._usb.on_endpoint_read = self._on_read
        cdc.send_serial_byte = self._send
        self._on_reset = self._usb.on_reset
        self._usb.on_reset = self._reset

    def _on_read(self, endpoint, size):
        out = self._cdc._out_endpoint
        if out is not None and endpoint == out and self._cdc.tx_fifo.item_count == 0:
            self.pending = (endpoint, size)
            self.held += 1
            self._alarm.schedule(HOLD_MAX_NS)
            return
        self._read(endpoint, size)

    def _send(self, byte):
        self._push(byte)
        if self.pending is not None:
            self._alarm.schedule(READY_NS)

    def _serve(self):
        """READY_NS after the host's write, or HOLD_MAX_NS after the arm (then empty)."""
        if self.pending is not None:
            endpoint, size = self.pending
            self.pending = None
            self._read(endpoint, size)

    def _reset(self):
        self.pending = None  # a reset chip arms its endpoints again
        self._alarm.cancel()
        self._on_reset()


def install(cdc, clock):
    return OutEndpoint(cdc, clock)
