"""What a person waiting at a terminal sees while a demo works: one line per phase on stderr. Nothing when stderr is
not a terminal (CI logs, pipes, the tests), so the result on stdout reads the same everywhere."""

from __future__ import annotations

import sys
from typing import TextIO


class Progress:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    @classmethod
    def for_terminal(cls) -> Progress:
        return cls(sys.stderr if sys.stderr.isatty() else None)

    def __call__(self, message: str) -> None:
        if self.stream is not None:
            print(f"... {message}", file=self.stream, flush=True)


SILENT = Progress()  # says nothing: the default wherever a caller does not ask for progress
