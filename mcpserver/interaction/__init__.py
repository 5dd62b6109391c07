"""Asking the user or the model during a call: elicitation (form and URL mode), sampling and roots.

``asking`` is the author API on the request context (``ctx.elicit``, ``ctx.sample``, ...) and chooses
how a request asks; ``rounds`` is the 2026-07-28 input-required pattern (SEP-2322); ``state`` seals
its ``requestState``; ``questions`` builds the questions and reads the answers. In the 2025 era the
questions go to ``transport.clientrequests``.
"""

from .questions import ClientCannot, Elicited, Question

__all__ = ["ClientCannot", "Elicited", "Question"]
