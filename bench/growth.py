"""Rows for the growth benchmark, written straight into the server's database (and its shared state).

Run inside the server's environment, e.g. ``manage.py shell -c "from bench import growth; growth.grow()"``:
100,000 users, 1,000,000 issued access tokens (for those users and the demo clients) and 100,000
revoked tokens on the deny-list, which is what a revocation leaves behind (DOT deletes the row).
Rows go in with ``bulk_create`` in large batches; the deny-list entries one by one through
``sharedstate``, as ``authserver.revoking`` writes them (one announcement at the end).
"""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta

BATCH = 20_000


def _checksum(kind: str, index: int) -> str:
    return hashlib.sha256(f"bench-{kind}-{index}".encode()).hexdigest()


def users(count: int) -> int:
    from django.contrib.auth import get_user_model

    model = get_user_model()
    made = 0
    for start in range(0, count, BATCH):
        rows = [
            model(username=f"bench-user-{i:07d}", password="!")
            for i in range(start, min(count, start + BATCH))
        ]
        made += len(model.objects.bulk_create(rows, batch_size=BATCH))
    return made


def access_tokens(count: int) -> int:
    """Live-looking tokens spread over the bench users (a third are client-credentials tokens)."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from oauth2_provider.models import get_access_token_model, get_application_model

    model = get_access_token_model()
    user_ids = list(
        get_user_model().objects.filter(username__startswith="bench-user-").values_list("id", flat=True)
    )
    applications = list(get_application_model().objects.values_list("id", flat=True))
    expires = timezone.now() + timedelta(hours=1)
    made = 0
    for start in range(0, count, BATCH):
        rows = []
        for i in range(start, min(count, start + BATCH)):
            checksum = _checksum("access", i)
            rows.append(
                model(
                    user_id=None if i % 3 == 0 or not user_ids else user_ids[i % len(user_ids)],
                    application_id=applications[i % len(applications)],
                    token=checksum,
                    token_checksum=checksum,
                    expires=expires,
                    scope="mcp:read mcp:tools",
                )
            )
        made += len(model.objects.bulk_create(rows, batch_size=BATCH))
    return made


def revoked(count: int) -> int:
    """Deny-list entries (the shared state), keyed like ``authserver.revoking.cache_key``."""
    import sharedstate
    from authserver import revoking

    for i in range(count):
        sharedstate.set(revoking.cache_key(_checksum("revoked", i)), 1, 3600)
    sharedstate.changed(revoking.TOPIC)
    return count


def grow(n_users: int = 100_000, n_tokens: int = 1_000_000, n_revoked: int = 100_000) -> None:
    """Write everything and print one line per kind with the time it took."""
    for label, step, count in (("users", users, n_users), ("access tokens", access_tokens, n_tokens)):
        started = time.monotonic()
        print(f"{label}: {step(count)} in {time.monotonic() - started:.1f} s", flush=True)
    started = time.monotonic()
    print(f"revoked tokens: {revoked(n_revoked)} in {time.monotonic() - started:.1f} s", flush=True)
