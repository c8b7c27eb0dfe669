# The firmware's main program (main.py runs main(sys.argv) after its first lines): build the
# board from its config and run the app; whatever happens, output off. A module, not main.py
# itself, because main.py is compiled from source at every boot (61 ms of the rp2 port's
# boot, measured on the emulated Pico) while this is deployed as .mpy (docs/SPEED.md
# "Boot"). Under board/ because it picks the board (the core never imports one).
import sys

BOARD_CONFIG = "board.json"  # written next to main.py by `tvns deploy`
LOG_FILE = "log.jsonl"  # the session log on the board's flash (`tvns logs pull`)
HOST_PLATFORMS = ("linux", "darwin", "win32")
GC_QUIET_MS = 20  # input-free time before an idle garbage collection (_RealPacer)


def build_board():
    if sys.platform == "rp2":
        from tvns.board import rp2

        cfg = _boot_pin_map()
        return rp2.build_from_file(BOARD_CONFIG) if cfg is None else rp2.build(cfg)
    if sys.platform == "esp32":
        from tvns.board import esp32

        cfg = _boot_pin_map()
        return esp32.build_from_file(BOARD_CONFIG) if cfg is None else esp32.build(cfg)
    raise OSError("no board support for %s" % sys.platform)


def _boot_pin_map():
    """The map boot.py parsed from BOARD_CONFIG at this boot (boot.py and main.py share the
    __main__ globals), taken once: the same file, not read and parsed a second time (~23 ms
    of the rp2 boot, docs/SPEED.md). None when boot.py left none."""
    import __main__

    cfg = getattr(__main__, "BOOT_PIN_MAP", None)
    if cfg is not None:
        __main__.BOOT_PIN_MAP = None
    return cfg


class _RealPacer:
    """On a board the tick runs on its own timer: the loop just sleeps, waking on input.
    While a reply is still queued (longer than the 256-byte USB FIFO: `load`'s, `status`)
    it also wakes as the link drains and writes the rest then, never later than the pass
    (without this the tail of a reply waited up to a whole 100 ms pass, docs/SPEED.md)."""

    def __init__(self, reader, writer, clock, con=None, collect=None):
        self._reader = reader
        self._writer = writer
        self._clock = clock
        self._con = con
        self._collect = collect

    def wait(self, ms):
        w = self._writer
        con = self._con
        if con is not None and con.gc_due and not w.queued and ms > GC_QUIET_MS:
            # Garbage collected while nothing waits, not inside the next request: on the
            # rp2 port a collection takes ~25 ms (emulated Pico, 120 KB free), more than the
            # whole `load` goal, and `load` leaves the most garbage (console.Console.gc_due).
            # After GC_QUIET_MS without input: a host's next request of a burst (load, arm,
            # start) comes sooner than that and is served first.
            clock = self._clock
            t0 = clock.ticks_ms()
            self._reader.wait(GC_QUIET_MS)
            if self._reader.ready():
                return
            con.gc_due = False
            self._collect()
            ms -= clock.ticks_diff(clock.ticks_ms(), t0)
        if w.queued:
            clock = self._clock
            t0 = clock.ticks_ms()
            left = ms
            while w.queued and left > 0 and not self._reader.ready():
                w.wait_writable(left)
                w.pump()
                left = ms - clock.ticks_diff(clock.ticks_ms(), t0)
            ms = left
        self._reader.wait(ms)


# While the board boots from .mpy files, a collection every this many bytes allocated
# (gc.threshold): the imports load every module's bytecode and machine code into the heap and
# leave ~100 KB of garbage between what they keep, and with the port's default (collect
# only when an allocation fails) what they keep ends up spread over the whole heap: on the
# emulated Pico 115 KB free after boot in ~700 holes, the largest 12.7 KB, and after two
# sessions a triggered `load` found no 1.3 KB block (MemoryError). Collected every 48 KB,
# what boot keeps packs at the bottom: the largest free block 95 KB (docs/SPEED.md "Heap"),
# for ~90 ms of boot (a collection ~20 ms). Not on the tvns UF2 (_frozen()): there the code
# stays in flash, boot keeps far less, and the heap stays packed without them (measured,
# docs/SPEED.md "Heap"), while they cost ~21 ms of its 250 ms boot goal.
_BOOT_GC_BYTES = 48 * 1024


def _gc_every(n_bytes):
    """Collect now, then every n_bytes allocated (-1: only when an allocation fails, the
    port's default: a collection in every 48 KB of a session's main loop would cost more than
    the packing is worth there; the heap stays packed, docs/SPEED.md)."""
    import gc

    gc.collect()
    threshold = getattr(gc, "threshold", None)
    if threshold is not None:
        threshold(n_bytes)


def _frozen():
    """True when the firmware runs from the image's flash (the tvns UF2 with the package
    frozen in, docs/FIRMWARE-BUILD.md): its marker module imports from '.frozen' (looked up
    there alone, as `tvns deploy` does: a tvns_frozen.py on the file system is not frozen
    code) and this module was not loaded from a .mpy file (a /tvns folder on the flash
    shadows the frozen package as a whole: then the boot is the .mpy path's, collections
    and all)."""
    if __file__.endswith(".mpy"):
        return False
    saved = sys.path[:]
    sys.path[:] = [".frozen"]
    try:
        import tvns_frozen  # noqa: F401 - the marker (tools/tvns_tools/frozen.py)

        return True
    except ImportError:
        return False
    finally:
        sys.path[:] = saved


def main(argv):
    host = None
    boot_gc = sys.platform not in HOST_PLATFORMS and not _frozen()
    if boot_gc:
        _gc_every(_BOOT_GC_BYTES)
    if sys.platform in HOST_PLATFORMS:
        from tvns.board import simmain  # host only (the sim board): never deployed

        if "--simulate" in argv:
            return simmain.simulate(argv)
        host = simmain.Host(argv)
    from tvns.app import App
    from tvns.console import Console
    from tvns.console_io import PollReader, PollWriter, board_reader

    board = build_board() if host is None else host.board
    con = app = writer = reader = None
    reason = "exception"
    try:
        # The power-cut-safe session log: on a board always (log.jsonl on its flash); on the
        # sim board where --log says (tvns_tools' local transport passes one).
        log_path = LOG_FILE if host is None else host.log_path
        log = None
        log_failed = None
        if log_path is not None:
            from tvns.log import Log

            try:
                log = Log(log_path)
            except OSError as exc:  # the device still answers; arm is refused (journal.py)
                log_failed = "cannot open %s (%s)" % (log_path, exc)
        app = App(board, log)
        app.journal.failed = log_failed
        stdin = getattr(sys.stdin, "buffer", sys.stdin)
        stdin = getattr(stdin, "raw", stdin)  # CPython: unbuffered
        # A board reads a line per call (console_io.PadReader: os.dupterm, detached below);
        # a pipe (the sim device) a byte per call.
        reader = PollReader(stdin) if host is not None else board_reader(stdin)
        stdout = getattr(sys.stdout, "buffer", sys.stdout)
        # Never wait for a host that stopped reading (console_io.PollWriter): padded 64-byte
        # chunks on a board's USB CDC, a pipe takes PIPE_BUF at once.
        if host is None:
            writer = PollWriter(stdout, 64, pad=True)
        else:
            writer = PollWriter(getattr(stdout, "raw", stdout), 4096)
        kbd_intr = None
        if host is None:
            import micropython

            kbd_intr = getattr(micropython, "kbd_intr", None)  # guarded: not on every port
        con = Console(app, writer.write, out=writer, kbd_intr=kbd_intr)
        if host is None:
            import gc

            # con.gc_due starts set: without the boot collections (the tvns UF2) the main
            # loop collects boot's garbage once the link is quiet (a collection before the
            # boot line cost the frozen build 12 ms of its 250 ms boot goal, docs/SPEED.md)
            pacer = _RealPacer(reader, writer, board.clock, con, gc.collect)
        else:
            pacer = host.pacer(reader)
        con.event(_boot(con))
        if boot_gc:
            _gc_every(-1)  # booted: what it kept is packed; back to the port's default
            con.gc_due = False  # just collected: the idle one would find nothing more

        def poll():
            con.service()  # events first: what happened before a reply is sent before it
            con.feed(reader.read())
            return not reader.eof

        # Output stays off until a command arrives; an exception latches FAULT (App).
        app.run_forever(poll, pacer.wait)
        reason = "eof"
        return 0
    except BaseException as exc:
        reason = "interrupt" if isinstance(exc, KeyboardInterrupt) else "exception"
        raise
    finally:
        board.safe_off()  # the one abort path, whatever ended the loop
        if reader is not None:
            reader.close()  # the REPL reads stdin next: no pad stream left on it
        if con is not None:
            _abort_event(con, board, app, reason)
            for _ in range(16):  # what is still queued, as far as the link takes it now
                if not writer.queued:
                    break
                writer.pump()


def _boot(con):
    ev = con.hello()
    ev["event"] = "boot"
    return ev


def _abort_event(con, board, app, reason):
    # Logged after safe_off: what the output looks like now, and the state it was cut in.
    ev = {"event": "abort", "reason": reason, "output": "off"}
    ev["state"] = app.status()["state"] if app is not None else None
    ev["amplitude_ua"] = getattr(board.dac, "value_ua", None)
    ev["gated"] = getattr(board.engine, "gated", None)
    try:
        con.event(ev)
    except Exception:  # noqa: BLE001 - the link may be gone; the output is off already
        pass
