"""The trailing FNV-1a 64 checksum of the library's byte formats (the
accumulator's and the field's; lib/core/hash.h), for the corpus scripts
that rewrite a header field and must keep the bytes loadable."""
import struct


def fnv1a64(b):
    h = 0xcbf29ce484222325
    for x in b:
        h = ((h ^ x) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def rehash(b):
    """b with its last 8 bytes replaced by the checksum of the others."""
    b = bytes(b[:-8])
    return b + struct.pack("<Q", fnv1a64(b))
