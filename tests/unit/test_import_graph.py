"""The project's import graph has no circles, counting imports inside functions too.

The layer contract (``cli → flows → decisions | experts``, and no Prefect in the domain) is
import-linter's, in ``.importlinter``, checked by ``make test``; this test guards what a layer
contract cannot see: a circle inside one package, such as a function-local import that hides
``decision → stages → runs → decision``.
"""

from __future__ import annotations

import grimp
import networkx as nx

PACKAGES = ("cli", "flows", "decisions", "experts")


def test_no_module_imports_itself_through_others() -> None:
    """No chain of imports between the project's modules leads back to where it started."""
    graph = grimp.build_graph(*PACKAGES)
    imports = nx.DiGraph(
        (module, imported)
        for module in graph.modules
        for imported in graph.find_modules_directly_imported_by(module)
    )
    circles = sorted(nx.simple_cycles(imports), key=len)
    assert not circles, f"{len(circles)} import circles, the shortest: {' → '.join(circles[0])}"
