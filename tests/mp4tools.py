"""Edit the boxes of an mp4 that OpenCV wrote, to make the inputs phones and broken downloads produce:
a rotation matrix in the track header (a portrait phone video stored landscape) and the index (moov box) moved in
front of the media data ("fast start"), so that a truncated file still opens and lists every frame."""

from __future__ import annotations

import struct
from pathlib import Path


def boxes(data: bytes, start: int, end: int):
    """(type, offset, header size, size) of each box in data[start:end]."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", data[pos + 8 : pos + 16])[0], 16
        elif size == 0:
            size = end - pos
        yield kind, pos, header, size
        pos += size


def find(data: bytes, path: list[bytes], start: int = 0, end: int | None = None) -> list[tuple[int, int, int]]:
    """(offset, header size, size) of every box at `path` (e.g. [b"moov", b"trak", b"tkhd"])."""
    end = len(data) if end is None else end
    found = []
    for kind, pos, header, size in boxes(data, start, end):
        if kind == path[0]:
            found += [(pos, header, size)] if len(path) == 1 else find(data, path[1:], pos + header, pos + size)
    return found


def set_rotation(path: Path, degrees: int) -> None:
    """Write the display matrix a phone writes for a video to be shown rotated by `degrees` clockwise."""
    data = bytearray(path.read_bytes())
    [(pos, header, _)] = find(data, [b"moov", b"trak", b"tkhd"])
    version = data[pos + header]
    matrix = pos + header + 4 + (20 if version == 0 else 32) + 16  # after the times, ids, layer, volume
    width, height = (struct.unpack(">I", data[matrix + 36 + k : matrix + 40 + k])[0] >> 16 for k in (0, 4))
    one, minus_one = 0x10000, 0xFFFF0000
    a, b, c, d, tx, ty = {
        0: (one, 0, 0, one, 0, 0),
        90: (0, one, minus_one, 0, height << 16, 0),
        180: (minus_one, 0, 0, minus_one, width << 16, height << 16),
        270: (0, minus_one, one, 0, 0, width << 16),
    }[degrees]
    data[matrix : matrix + 36] = struct.pack(">9I", a, b, 0, c, d, 0, tx, ty, 0x40000000)
    path.write_bytes(bytes(data))


def index_first(data: bytes) -> bytes:
    """The same mp4 with its moov box (the index) before the media data, chunk offsets moved to match."""
    top = {kind: (pos, size) for kind, pos, _, size in boxes(data, 0, len(data))}
    moov_at, moov_size = top[b"moov"]
    mdat_at = top[b"mdat"][0]
    assert moov_at > mdat_at, "the index is already in front"
    moov = bytearray(data[moov_at : moov_at + moov_size])
    for pos, header, _ in find(moov, [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stco"]):
        count = struct.unpack(">I", moov[pos + header + 4 : pos + header + 8])[0]
        for k in range(count):
            at = pos + header + 8 + 4 * k
            moov[at : at + 4] = struct.pack(">I", struct.unpack(">I", moov[at : at + 4])[0] + moov_size)
    return data[:mdat_at] + bytes(moov) + data[mdat_at:moov_at] + data[moov_at + moov_size :]
