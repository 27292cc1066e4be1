"""Install a throwaway distribution with entry points, as a third party's package would be.

Why: the contract "adding a plugin is one module in your own package" is only shown by a
plugin that lives outside ``redline`` and is found through its distribution's metadata,
exactly as ``pip install their-package`` would make it visible.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def installed_distribution(
    root: Path,
    name: str,
    modules: Mapping[str, str],
    entry_points: Mapping[str, Mapping[str, str]],
) -> Iterator[Path]:
    """Write ``modules`` (dotted name -> source) and a ``name-0.1.dist-info`` declaring
    ``entry_points`` (group -> {plugin name: "module:attr"}) under ``root``, put ``root``
    on ``sys.path`` for the duration, then remove every trace (path and imported modules).
    """
    for dotted, source in modules.items():
        path = root.joinpath(*dotted.split(".")).with_suffix(".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(root).parents:
            init = root / parent / "__init__.py"
            if parent != Path(".") and not init.exists():
                init.write_text("")
        path.write_text(textwrap.dedent(source))
    dist = root / f"{name.replace('-', '_')}-0.1.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    lines = []
    for group, plugins in entry_points.items():
        lines.append(f"[{group}]")
        lines += [f"{plugin} = {target}" for plugin, target in plugins.items()]
        lines.append("")
    (dist / "entry_points.txt").write_text("\n".join(lines))
    sys.path.insert(0, str(root))
    top = {dotted.split(".")[0] for dotted in modules}
    try:
        yield root
    finally:
        sys.path.remove(str(root))
        for module in [m for m in sys.modules if m.split(".")[0] in top]:
            del sys.modules[module]
