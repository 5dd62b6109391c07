"""The shared state keeps every live deny-list entry (the embedded default's database cache: Django culls past
300 by default)."""

import pytest

import sharedstate
from authserver import revoking


@pytest.mark.django_db
def test_a_thousand_revocations_all_stay_on_the_deny_list():
    for index in range(1000):
        sharedstate.set(revoking.cache_key(f"{index:064x}"), 1, 3600)
    assert all(sharedstate.get(revoking.cache_key(f"{index:064x}")) == 1 for index in range(1000))
