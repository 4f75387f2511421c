"""Low-bit weights packed into a byte stream, as a device stores them in ROM.

Values of `bits` bits (1..8) are laid end to end, least significant bit first, row after row: value i
occupies bits [i*bits, (i+1)*bits) of the stream (byte j holds bits 8j..8j+7). Signed values are two's
complement in their `bits` bits (sign-extended on reading); codebook indices are unsigned. Row masks
(pruning) are the same stream with bits = 1. `pack_bits` / `unpack_bits` (numpy) write and read whole
streams; `read_bits` (numba) reads one value inside a kernel, so no unpacked copy of a layer exists.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hearpipe.errors import InvalidInput


def packed_bytes(n: int, bits: int) -> int:
    """Bytes a stream of n values of `bits` bits occupies."""
    return (n * bits + 7) // 8


def pack_bits(values, bits: int, signed: bool = True) -> np.ndarray:
    """Integers (any shape, flattened in C order) -> uint8 stream of `bits` bits per value."""
    if not 1 <= bits <= 8:
        raise InvalidInput(f"packed values must have 1..8 bits, got {bits}")
    v = np.asarray(values, dtype=np.int64).ravel()
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if v.size and (v.min() < lo or v.max() > hi):
        raise InvalidInput(
            f"values {v.min()}..{v.max()} do not fit {bits} {'signed' if signed else 'unsigned'} bits"
        )
    u = (v & ((1 << bits) - 1)).astype(np.uint8)
    bitplanes = (u[:, None] >> np.arange(bits, dtype=np.uint8)) & 1  # (n, bits), LSB first
    return np.packbits(bitplanes.ravel(), bitorder="little")


def unpack_bits(stream, bits: int, n: int, signed: bool = True) -> np.ndarray:
    """The first n values of a stream written by `pack_bits` (int64)."""
    s = np.asarray(stream, dtype=np.uint8)
    if s.size < packed_bytes(n, bits):
        raise InvalidInput(
            f"packed stream holds {s.size} bytes, {packed_bytes(n, bits)} needed for {n} values"
        )
    planes = np.unpackbits(s, bitorder="little")[: n * bits].reshape(n, bits).astype(np.int64)
    v = (planes << np.arange(bits)).sum(axis=1)
    if signed:
        v = np.where(v >= 1 << (bits - 1), v - (1 << bits), v)
    return v


@njit(inline="always", cache=True)
def read_bits(buf, off, bitpos, bits, signed):
    """Value at bit position `bitpos` of the stream whose byte j is buf[off + j] & 0xFF (buf may be
    int16, a byte per element, with one padding byte after the stream); sign-extended if `signed`."""
    j = off + (bitpos >> 3)
    word = (np.int64(buf[j]) & 0xFF) | ((np.int64(buf[j + 1]) & 0xFF) << 8)
    v = (word >> (bitpos & 7)) & ((np.int64(1) << bits) - 1)
    if signed and v >= (np.int64(1) << (bits - 1)):
        v -= np.int64(1) << bits
    return v
