"""CPython stand-in for MicroPython's builtin `micropython` module, so every firmware module
writes `from micropython import const` exactly as micropython-lib does (Blinka's idea).

Only `const` and the code emitter decorators (`native`: CPython runs the function as it is)
are here: the firmware uses nothing else from `micropython` at import time, and a missing
attribute must fail loudly rather than be faked. It is put on sys.path, ahead of
everything else, by tvns_tools.firmware.import_firmware() and host_tests/conftest.py, so
CPython never depends on Blinka's `micropython` package that a dependency happens to pull
in. It never leaves the host: it lives outside firmware/ (deploy, package.json and
manifest.py read firmware/ only), and MicroPython never sees it (its builtin module wins)."""


def const(x):
    return x


def native(fn):
    """@micropython.native: MicroPython compiles the function to machine code; CPython runs
    it as written (the behaviour is the same, only the speed differs)."""
    return fn


def viper(fn):
    """@micropython.viper: MicroPython compiles the function to machine code with machine-word
    integers and raw pointers (ptr8/ptr32, which a firmware module defines for CPython);
    CPython runs it as written."""
    return fn
