"""A tiny test runner for the MicroPython unix runtime: imports each module named on the
command line and runs its test_* functions. Prints one line per failure and closes with
'N passed, N failed'. Exit status 0 only when nothing failed.
Usage: MICROPYPATH=firmware:host_tests micropython host_tests/mp_runner.py MODULE..."""

import sys


def _import(name):
    """__import__; after a RuntimeError, again once every firmware module is loaded on its
    own. The 32-bit unix port (the board-numerics runtime) allows 40 KB of C stack, and
    compiling a long chain of nested imports from source can pass it; loaded one by one,
    no chain is long. (A board imports precompiled .mpy files: no compiler on the stack.)"""
    try:
        return __import__(name)
    except RuntimeError:
        pass
    import os

    import tvns

    top = tvns.__file__.rsplit("/", 1)[0]
    for _ in range(2):
        for f in sorted(os.listdir(top)):
            if f.endswith(".py") and f != "__init__.py":
                try:
                    __import__("tvns." + f[:-3])
                except Exception:  # the test module's own import below reports real errors
                    pass
    return __import__(name)


def run_module(name):
    passed = failed = 0
    mod = _import(name)
    for attr in sorted(dir(mod)):
        if not attr.startswith("test_"):
            continue
        fn = getattr(mod, attr)
        try:
            fn()
            passed += 1
            print("PASS %s.%s" % (name, attr))
        except Exception as exc:  # report every failure, keep going
            failed += 1
            print("FAIL %s.%s: %s %r" % (name, attr, type(exc).__name__, exc.args))
            sys.print_exception(exc)
    return passed, failed


def main(names):
    total_p = total_f = 0
    for name in names:
        p, f = run_module(name)
        total_p += p
        total_f += f
    print("%d passed, %d failed" % (total_p, total_f))
    return 1 if total_f or not total_p else 0


sys.exit(main(sys.argv[1:]))
