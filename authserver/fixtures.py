"""Loading a Django fixture without overwriting anything: create the objects that are missing, keep the rest.

``loaddata`` saves every object of a fixture, so it overwrites whatever an administrator changed in an
object the fixture also holds. ``load_missing`` decides per object, by natural key, and creates only
the objects that no row matches: an existing row keeps its fields and its many-to-many relations.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.core import serializers
from django.core.exceptions import ImproperlyConfigured, ObjectDoesNotExist
from django.db import models, transaction
from django.db.models.fields import AutoFieldMixin


def find(name: str) -> Path:
    """The fixture file ``<name>.json`` in the first of ``settings.FIXTURE_DIRS`` that holds one."""
    for directory in settings.FIXTURE_DIRS:
        path = Path(directory) / f"{name}.json"
        if path.is_file():
            return path
    raise ImproperlyConfigured(f"No fixture {name}.json in FIXTURE_DIRS ({settings.FIXTURE_DIRS}).")


@transaction.atomic
def load_missing(path: Path, prepare: Callable[[models.Model], None] | None = None) -> list[models.Model]:
    """Create each object of the fixture at ``path`` that no row matches by natural key; return those created.

    Each object is saved with ``Model.save()``, not loaddata's raw save, so it is created as any other
    code would create it: fields' ``pre_save`` (``auto_now``, hashed client secrets) and signal
    receivers run. ``prepare(instance)``, when given, sets what the fixture leaves out (passwords,
    secrets) before that save. Every model in the fixture needs ``natural_key()`` and a default
    manager with ``get_by_natural_key()``; an object may refer (by natural key) to objects before it.
    """
    created = []
    with open(path, "rb") as stream:
        for item in serializers.deserialize(path.suffix.lstrip("."), stream):
            instance = item.object
            if _exists(instance):
                continue
            if isinstance(instance._meta.pk, AutoFieldMixin):
                instance.pk = None  # a primary key in the fixture would update whatever row holds it
            if prepare is not None:
                prepare(instance)
            instance.save()
            for name, values in (item.m2m_data or {}).items():
                getattr(instance, name).set(values)
            created.append(instance)
    return created


def _exists(instance: models.Model) -> bool:
    manager = instance._meta.default_manager
    if not hasattr(instance, "natural_key") or not hasattr(manager, "get_by_natural_key"):
        raise ImproperlyConfigured(f"{instance._meta.label} has no natural key to match fixture objects by.")
    try:
        manager.get_by_natural_key(*instance.natural_key())
    except ObjectDoesNotExist:
        return False
    return True
