"""The wire protocol for the Python tests: one encoder of the request frame (docs/protocol.md).

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
    import frames

A frame is field1 (u32), field2 (u16), n (u32), all little-endian, then field3: n bytes of
UTF-8.  Python standard library only.
"""
import struct

# The book's client message and the server's reply.
BOOK_FIELD3 = b"Hello, server! 1"
REPLY = b"Hello, client!"
HEADER_SIZE = 10


def encode(field3=BOOK_FIELD3, field1=1, field2=1, length=None):
    """The frame for (field1, field2, field3); field3 is bytes, or str (encoded as UTF-8).
    length, when given, is written as n instead of len(field3): for frames that lie about
    their size."""
    if isinstance(field3, str):
        field3 = field3.encode()
    n = len(field3) if length is None else length
    return struct.pack("<IHI", field1, field2, n) + field3
