"""The state checks shared with MicroPython (mp_state_checks.py), run here under CPython;
test_micropython.py runs them under both MicroPython runtimes."""

import os

import pytest
from mp_state_checks import (  # noqa: F401 - pytest collects the imported tests
    test_ctrl_c_is_kept_from_the_repl_while_a_pin_is_set,
    test_exposure_ignores_the_host_clock,
    test_lock_out_right_across_the_wrap_and_after_weeks,
    test_log_read_pages_match_the_file,
    test_pbkdf2_vectors,
    test_pin_rules_and_record,
    test_start_failing_changes_nothing,
    test_store_never_crashes_on_garbage_and_locks,
    test_store_round_trip_and_reset,
)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path):
    here = os.getcwd()
    os.chdir(tmp_path)
    yield
    os.chdir(here)
