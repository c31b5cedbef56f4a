"""Keeping freed array memory in the process, so that the next batch reuses it.

A training step allocates the same large arrays (im2col columns, activations, gradients)
again and again. glibc hands arrays above its mmap threshold straight back to the kernel
when they are freed, and the next step pays a page fault for every 4 kB it touches: for a
small CNN this doubled the time of a convolution. PyTorch avoids it with its own caching
allocator; we raise glibc's thresholds instead (Linux only; COURSE_KEEP_MEMORY=0 opts out).
"""
import ctypes
import os
import sys

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3


def keep_freed_memory(mmap_threshold=32 << 20, trim_threshold=256 << 20, top_pad=16 << 20):
    """Ask glibc to serve arrays up to `mmap_threshold` bytes from its heap and to keep up to
    `trim_threshold` bytes of freed heap. Returns True when the settings took effect."""
    if os.environ.get("COURSE_KEEP_MEMORY") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):       # not glibc (musl, ...): leave the allocator alone
        return False
    return all(mallopt(option, value) == 1 for option, value in
               [(M_MMAP_THRESHOLD, mmap_threshold), (M_TRIM_THRESHOLD, trim_threshold),
                (M_TOP_PAD, top_pad)])
