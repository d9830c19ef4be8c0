"""The package's shape, computed from its code: no two parts import each other, directly or in a ring.

A part is a subpackage (``speech.train``) or a top-level module (``speech.recognizer``); every import
statement counts, also those inside functions, since a deferred import is still a dependency."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "speech"


def part(module: str) -> str:
    return ".".join(module.split(".")[:2])


def import_graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if name.startswith("speech.") and part(name) != part(module):
                    edges[part(module)].add(part(name))
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one part (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in edges.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while not group or group[-1] != node:
                group.append(stack.pop())
            if len(group) > 1:
                found.append(sorted(group))

    for node in list(edges):
        if node not in index:
            visit(node)
    return found


def test_no_part_of_the_package_imports_itself_through_others() -> None:
    edges = import_graph()
    assert "speech.train" in edges["speech.cli"]  # the graph is really read from the code
    assert cycles(edges) == []
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c"]]  # and rings are found


def test_training_and_inference_meet_only_below_both() -> None:
    edges = import_graph()
    for inference in ("speech.recognizer", "speech.synthesizer", "speech.vocoder", "speech.aligner"):
        assert not edges[inference] & {"speech.train", "speech.tasks"}, inference
        assert "speech.registry" in edges[inference], f"{inference} loads models through the registry"
    assert not edges["speech.tasks"] & {"speech.train"}
