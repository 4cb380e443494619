"""The output tail: the last bytes of a command's output, kept in bounded memory.

A command may print gigabytes; the deployer keeps only the end of it (``keep_bytes``, by
default 64 KiB). Chunks are appended as they come and the buffer is trimmed in large steps
(when it reaches twice ``keep_bytes``), so the cost per byte is a copy, never Python work
per line. Redaction happens on the text of the whole kept tail, before it is cut down to the
few lines a message shows, so a secret that straddles that cut is still caught.
"""

__all__ = ["OutputTail"]

_KEEP_BYTES = 64 * 1024
_LAST_LINE_BYTES = 4096


class OutputTail:
    def __init__(self, *, keep_bytes: int = _KEEP_BYTES) -> None:
        if keep_bytes <= 0:
            raise ValueError("keep_bytes must be > 0")
        self._keep_bytes = keep_bytes
        self._buf = bytearray()
        self._cut = False  # the start of the output was dropped
        self.total_bytes = 0

    def feed(self, chunk: bytes) -> None:
        self._buf += chunk
        self.total_bytes += len(chunk)
        if len(self._buf) >= 2 * self._keep_bytes:
            del self._buf[: -self._keep_bytes]
            self._cut = True

    def last_line(self) -> str | None:
        """The last complete, non-blank line (raw: not redacted), or None.

        A line longer than 4 KiB is not given: its start may be gone, and with it part of a
        secret that redaction would otherwise recognise.
        """
        end = self._buf.rfind(b"\n")
        if end < 0:
            return None
        start = max(end - _LAST_LINE_BYTES, 0)
        lines = bytes(self._buf[start:end]).split(b"\n")
        if start > 0 or self._cut:
            lines = lines[1:]  # may be the end of a longer line
        for raw in reversed(lines):
            if raw.strip():
                return raw.decode(errors="replace")
        return None

    def text(self) -> str:
        """The kept output as text (raw). After a cut, the first, partial line is dropped
        (if the tail is one giant line, its first KiB is dropped instead)."""
        data = bytes(self._buf)
        if self._cut:
            newline = data.find(b"\n")
            data = data[newline + 1 :] if newline >= 0 else data[1024:]
        return data.decode(errors="replace")
