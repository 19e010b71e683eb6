"""A ZIP file written as a stream: stdlib ``zipfile`` on a sink that cannot seek.

``zipfile`` writes each entry's sizes and CRC after its data (a data descriptor) when its
file cannot seek, so nothing before the current entry is ever needed again: the caller
takes the bytes written so far (``take()``) after each piece and sends them on. Memory
stays at one piece plus the central directory (a few dozen bytes per entry).

    archive = ZipStream()
    with archive.open("data.json") as handle:
        handle.write(b"...")
        send(archive.take())
    archive.add("file.pdf", data)
    send(archive.close())
"""

from __future__ import annotations

import zipfile
from datetime import datetime
from typing import IO

# Text compresses well; attachments (PDF, images, office files) mostly do not: storing
# them costs no CPU on the event loop and hardly any size.
DEFLATED, STORED = zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED


class _Sink:
    """Collects what zipfile writes; it has no seek or tell, so zipfile streams."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass


class ZipStream:
    def __init__(self, *, when: datetime | None = None) -> None:
        self._sink = _Sink()
        self._zip = zipfile.ZipFile(self._sink, mode="w", compression=DEFLATED, compresslevel=6)  # type: ignore[arg-type]
        # Every entry carries this time (the package's), not the wall clock of the writer.
        moment = when or datetime(2000, 1, 1)
        self._stamp = (max(moment.year, 1980), moment.month, moment.day, moment.hour, moment.minute,
                       moment.second - moment.second % 2)

    def _info(self, name: str, compression: int) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, self._stamp)
        info.compress_type = compression
        info.external_attr = 0o644 << 16  # a readable file when unpacked
        return info

    def open(self, name: str, compression: int = DEFLATED) -> IO[bytes]:
        """An entry written piece by piece (close it before the next one)."""
        return self._zip.open(self._info(name, compression), mode="w", force_zip64=True)

    def add(self, name: str, data: bytes, compression: int = STORED) -> None:
        """An entry whose bytes are at hand."""
        self._zip.writestr(self._info(name, compression), data)

    def take(self) -> bytes:
        """The bytes written since the last take."""
        parts, self._sink.parts = self._sink.parts, []
        return b"".join(parts)

    def close(self) -> bytes:
        """The end of the archive (the central directory); with whatever was not taken."""
        self._zip.close()
        return self.take()
