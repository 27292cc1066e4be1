"""``redline.datasets`` resolves its public names on first use (so that the CLI can read
the export formats without loading the importer and exporter)."""

from __future__ import annotations

import pytest

import redline.datasets as datasets
from redline.datasets.exporter import ExportFormat as FromExporter
from redline.datasets.formats import ExportFormat


@pytest.mark.parametrize("name", datasets.__all__)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(datasets, name) is not None


def test_one_export_format_everywhere() -> None:
    assert datasets.ExportFormat is ExportFormat is FromExporter
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        datasets.nothing  # noqa: B018
