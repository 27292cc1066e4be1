"""The store: SQLAlchemy models, engine and migrations. Knows nothing of web or CLI."""

from redline.store.engine import Store, make_engine, open_store, upgrade
from redline.store.models import (
    Attempt,
    AttemptStatus,
    Base,
    Candidate,
    Origin,
    Person,
    PreferenceModel,
    Review,
    Role,
    Target,
    Task,
    Turn,
    WellbeingSurvey,
)

__all__ = [
    "Attempt",
    "AttemptStatus",
    "Base",
    "Candidate",
    "Origin",
    "Person",
    "PreferenceModel",
    "Review",
    "Role",
    "Store",
    "Target",
    "Task",
    "Turn",
    "WellbeingSurvey",
    "make_engine",
    "open_store",
    "upgrade",
]
