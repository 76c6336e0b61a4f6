"""Syntax errors in Kotlin and Swift sources, found with tree-sitter (no compiler needed)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from tests.demos._tools import missing

LANGUAGE_OF_SUFFIX = {".kt": "kotlin", ".kts": "kotlin", ".swift": "swift"}


@cache
def _parser(language: str):
    try:
        import tree_sitter
        import tree_sitter_kotlin
        import tree_sitter_swift
    except ImportError:
        missing("tree-sitter, tree-sitter-kotlin or tree-sitter-swift (pip, the test extra)")
    grammar = {"kotlin": tree_sitter_kotlin, "swift": tree_sitter_swift}[language]
    return tree_sitter.Parser(tree_sitter.Language(grammar.language()))


def syntax_errors(source: bytes, language: str, name: str) -> list[str]:
    """``name:line:col: ...`` for every ERROR or MISSING node (1-based line and column)."""
    tree = _parser(language).parse(source)
    found: list[str] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            line, column = node.start_point
            kind = f"missing {node.type}" if node.is_missing else "syntax error"
            snippet = source[node.start_byte : node.start_byte + 40].decode(errors="replace")
            found.append(f"{name}:{line + 1}:{column + 1}: {kind} near {snippet!r}")
        elif node.has_error:
            stack.extend(node.children)
    return sorted(found)


def file_errors(path: Path, root: Path) -> list[str]:
    language = LANGUAGE_OF_SUFFIX[path.suffix]
    return syntax_errors(path.read_bytes(), language, str(path.relative_to(root)))
