"""Settings of the whole process for commands that move bulk data (``connect``, ``serve``).

A transfer allocates and frees buffers of 32-256 KiB all the time (socket reads, decrypted
packets, SFTP packets). With glibc's default settings, freeing them shrinks the heap and the
next allocation grows it again, so every buffer costs fresh pages from the kernel (page faults
and zeroing: a fifth of a download's CPU). And Python's cycle collector, run every few hundred
allocations, walks the tens of thousands of objects the imports made, again and again.
"""

from __future__ import annotations

import gc

# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3

KEEP_FREED = 64 * 1024 * 1024  # free memory kept at the heap's top before giving it back
HEAP_STEP = 4 * 1024 * 1024  # how much more the heap grows by than an allocation asks
OWN_MAPPING = 1024 * 1024  # allocations from this size up get a mapping of their own, unmapped when freed


def prepare_for_bulk_transfers() -> None:
    """Keep freed buffers for reuse rather than returning them to the kernel (glibc only;
    elsewhere nothing changes), and leave the objects made so far (modules, classes, the
    message catalog) out of the cycle collector's walks. Call once the imports are done."""
    _keep_freed_memory()
    gc.freeze()


def _keep_freed_memory() -> bool:
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (ImportError, OSError, AttributeError):  # not glibc, or no C library to ask
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return all(mallopt(parameter, value) == 1 for parameter, value in (
        (_M_MMAP_THRESHOLD, OWN_MAPPING), (_M_TRIM_THRESHOLD, KEEP_FREED), (_M_TOP_PAD, HEAP_STEP)))


__all__ = ["prepare_for_bulk_transfers"]
