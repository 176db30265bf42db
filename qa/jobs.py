"""Work in the background: the one way the project starts a thread for a piece of work (opening
the archive beside the web server, warming it up, adding uploaded pages)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

_T = TypeVar("_T")


class Background(Generic[_T]):
    """`make()` run in a daemon thread started now; `get` waits for its value (and re-raises
    its error), `wait` only waits."""

    def __init__(self, make: Callable[[], _T], name: str):
        self._value: _T | None = None
        self._error: BaseException | None = None

        def run() -> None:
            try:
                self._value = make()
            except BaseException as exc:  # noqa: BLE001 - handed to whoever asks for the value
                self._error = exc

        self._thread = threading.Thread(target=run, name=name, daemon=True)
        self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait at most `timeout` seconds; whether the work has ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def get(self) -> _T:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]
