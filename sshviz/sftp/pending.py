"""Results that arrive later, without an event loop: the SFTP client's requests return a
``Pending``; ``spawn`` runs a coroutine that awaits them, resumed as replies arrive.

This keeps the client sans-I/O: whoever feeds it bytes (the conductor, an asyncio protocol)
is what makes progress, and ``Pending.then`` is how either of them learns the outcome.
"""

from __future__ import annotations

from typing import Any, Callable, Coroutine


class Pending:
    __slots__ = ("done", "value", "error", "_callbacks")

    def __init__(self):
        self.done = False
        self.value: Any = None
        self.error: BaseException | None = None
        self._callbacks: list[Callable[["Pending"], None]] = []

    def resolve(self, value: Any = None) -> None:
        if not self.done:
            self.done, self.value = True, value
            self._run()

    def fail(self, error: BaseException) -> None:
        if not self.done:
            self.done, self.error = True, error
            self._run()

    def _run(self) -> None:
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback(self)

    def then(self, callback: Callable[["Pending"], None]) -> "Pending":
        """Call ``callback(self)`` once done (at once if it already is)."""
        if self.done:
            callback(self)
        else:
            self._callbacks.append(callback)
        return self

    def result(self) -> Any:
        if not self.done:
            raise RuntimeError("not done yet")
        if self.error is not None:
            raise self.error
        return self.value

    def __await__(self):
        if not self.done:
            yield self
        return self.result()


def spawn(coroutine: Coroutine) -> Pending:
    """Run ``coroutine`` (which awaits only Pendings) until it returns; its outcome resolves
    the returned Pending."""
    task = Pending()

    def step(sent: Pending | None) -> None:
        try:
            if sent is not None and sent.error is not None:
                awaited = coroutine.throw(sent.error)
            else:
                awaited = coroutine.send(None)
        except StopIteration as stop:
            task.resolve(stop.value)
            return
        except Exception as exc:  # the coroutine's failure is the task's
            task.fail(exc)
            return
        if not isinstance(awaited, Pending):
            coroutine.close()
            task.fail(TypeError(f"an SFTP task awaited {awaited!r}, not a Pending"))
            return
        awaited.then(step)

    step(None)
    return task
