"""The questions a task asks: the input-required rounds of ``interaction.rounds``, kept in the task's
row instead of a sealed ``requestState``.

The function runs from the start in every run of the task, as in a 2026-07-28 retry. A question
without an answer stops it (``InputRequired``); the task then waits in ``input_required`` with the
questions as its ``inputRequests``, and ``tasks/update`` brings the answers (``store.deliver``). Once
every question has one, the task runs again: each answer counts only for the very question it answers.
"""

from __future__ import annotations

from typing import Any

from ..interaction.rounds import Rounds


class TaskInput(Rounds):
    """What one run of a task may ask, and the answers it has (from its row)."""

    def __init__(self, task: Any) -> None:
        sealed = {"a": task.answers, "p": task.pending, "s": task.state}
        super().__init__(lambda: None, task.client_capabilities, task.responses, sealed)

    def _incomplete(self, missing: dict[str, Any], fingerprints: dict[str, str]) -> dict[str, Any]:
        """What the row keeps while the task waits: the questions, the answers so far, their digests."""
        return {
            "input_requests": missing,
            "answers": {**self.earlier, **self.taken},
            "pending": fingerprints,
            "state": self.state,
        }
