"""A tiny test runner for the MicroPython unix runtime: imports each module named on the
command line and runs its test_* functions. Prints one line per failure and closes with
'N passed, N failed'. Exit status 0 only when nothing failed.
Usage: MICROPYPATH=firmware:host_tests micropython host_tests/mp_runner.py MODULE..."""

import sys


def run_module(name):
    passed = failed = 0
    mod = __import__(name)
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
