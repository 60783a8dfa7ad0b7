"""The process settings of the commands that move bulk data (sshviz/net/process.py)."""

from __future__ import annotations

import gc
import platform

import pytest

from sshviz.net import process


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_glibc_keeps_freed_buffers():
    assert process._keep_freed_memory() is True


def test_start_up_objects_are_left_out_of_the_cycle_collector():
    try:
        process.prepare_for_bulk_transfers()
        assert gc.get_freeze_count() > 1000  # the modules, classes and catalog made so far
        garbage = []
        garbage.append(garbage)  # a cycle made after: still collected
        del garbage
        assert gc.collect() >= 1
    finally:
        gc.unfreeze()
