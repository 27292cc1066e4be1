"""The sections of ``redline report``, found through the plugin registry.

Why a registry: adding a section is one new module (a class with ``name``, ``title``,
``order`` and ``build``; see :mod:`redline.analysis.sections.base`), built-in or from
another distribution's entry-point group ``redline.report_sections``; the report builds,
times, numbers and lists them in order without being edited. Sections that need a
service (target comparisons need attack comparisons and judges) live beside that service
and are named here by path, so analysis imports no service.
"""

from __future__ import annotations

from typing import Any

from redline.analysis.sections.base import ReportSection
from redline.errors import ConfigError
from redline.plugins import Registry, require_attributes

BUILTINS = {
    "tables": "redline.analysis.sections.cells:CellsSection",
    "attack success": "redline.analysis.sections.success:SuccessSection",
    "distributions": "redline.analysis.sections.distributions:DistributionsSection",
    "people": "redline.analysis.sections.people:PeopleSection",
    "mixed models": "redline.analysis.sections.mixed:MixedModelsSection",
    "agreement": "redline.analysis.sections.agreement:AgreementSection",
    "tags": "redline.analysis.sections.tags:TagsSection",
    "template attacks": "redline.analysis.sections.templates:TemplatesSection",
    "pii": "redline.analysis.sections.pii:PiiSection",
    "attack map": "redline.analysis.sections.attack_map:AttackMapSection",
    "target comparison": "redline.attack.report_section:TargetComparisonSection",
}


def validate(name: str, obj: Any) -> type[ReportSection]:
    """A section class declaring its name, title, order and a build method."""
    if not isinstance(obj, type):
        raise ConfigError(f"report section plugin {name!r} must be a class, got {obj!r}")
    require_attributes("report section", name, obj, {"name": str, "order": int})
    require_attributes("report section", name, obj, {"title": (str, type(None))})
    declared = getattr(obj, "name", None)
    if declared != name:
        raise ConfigError(f"report section plugin {name!r} declares name {declared!r}")
    if not callable(getattr(obj, "build", None)):
        raise ConfigError(f"report section plugin {name!r} has no build(context) method")
    return obj


SECTIONS: Registry[type[ReportSection]] = Registry(
    "report_sections", BUILTINS, validate, noun="report section"
)


def ordered() -> list[type[ReportSection]]:
    """Every registered section class, in report order (ties by name)."""
    return sorted(SECTIONS.load_all().values(), key=lambda s: (s.order, s.name))


def anchor(section: type[ReportSection]) -> str:
    """The HTML id of a section's heading."""
    return str(getattr(section, "anchor", section.name.replace(" ", "-")))


def steps() -> list[str]:
    """The progress steps of a report: every section, then rendering the page. Names
    only, nothing imported, so ``redline report`` sizes its bar cheaply."""
    return [*SECTIONS.names(), "render"]
