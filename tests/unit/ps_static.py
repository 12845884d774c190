"""Static checks of PowerShell sources: they parse, keep to Windows PowerShell 5.1, and honour the contract.

There is no PowerShell on the test machines, so the Windows agent is checked
here with the tree-sitter PowerShell grammar: syntax errors, constructs that only
PowerShell 6/7 accepts, and the operations and reply fields the contract names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import tree_sitter
import tree_sitter_powershell

_PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))

#: node types whose text is data or prose, not code
_OPAQUE = frozenset({"comment", "string_literal", "expandable_string_literal", "verbatim_string_characters",
                     "expandable_here_string_literal", "verbatim_here_string_characters"})  # fmt: skip

#: (what, pattern over code with strings and comments blanked): PowerShell 6+/7 only
PS7_ONLY: tuple[tuple[str, str], ...] = (
    ("null-coalescing operator ??", r"\?\?"),
    ("null-conditional member access ?.", r"[\w)\]}]\?\.[A-Za-z_]"),
    ("null-conditional index ?[", r"\$\w+\?\["),
    ("pipeline chain operator &&", r"&&"),
    ("pipeline chain operator ||", r"\|\|"),
    ("ternary operator ? :", r"\s\?\s[^:\n]+\s:\s"),
    ("ForEach-Object -Parallel", r"(?i)(ForEach-Object|foreach|%)\b[^\n|]*\s-Parallel\b"),
    ("ConvertFrom-Json -AsHashtable", r"(?i)ConvertFrom-Json\b[^\n|]*-AsHashtable\b"),
    ("PowerShell 7 cmdlet", r"(?i)\b(Get-Error|Join-String|Test-Json|ConvertTo-CliXml|Get-Uptime)\b"),
    ("clean block", r"(?im)^\s*clean\s*\{"),
    (".NET Core only API", r"(?i)\[(System\.)?(HashCode|Text\.Json\.\w+|Range|Index)\]|::GetRelativePath\(|::ToHexString\("),
    ("$PSStyle", r"(?i)\$PSStyle\b"),
)


@dataclass(frozen=True)
class Finding:
    line: int
    problem: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.problem}"


def _walk(node: Any) -> Iterator[Any]:
    yield node
    for child in node.children:
        yield from _walk(child)


@lru_cache(maxsize=128)
def parse(source: bytes) -> Any:
    return _PARSER.parse(source)


def syntax_errors(source: bytes) -> list[Finding]:
    tree = parse(source)
    return [
        Finding(node.start_point[0] + 1, f"syntax error near {source[node.start_byte : node.end_byte][:40]!r}")
        for node in _walk(tree.root_node)
        if node.type == "ERROR" or node.is_missing
    ]


@lru_cache(maxsize=128)
def code_only(source: bytes) -> str:
    """The source with comments and string contents blanked (newlines kept, so lines still count)."""
    blanked = bytearray(source)
    for node in _walk(parse(source).root_node):
        if node.type in _OPAQUE:
            for i in range(node.start_byte, node.end_byte):
                if blanked[i] not in (0x0A, 0x0D):
                    blanked[i] = 0x20
    return blanked.decode("utf-8", errors="replace")


def ps7_constructs(source: bytes) -> list[Finding]:
    code = code_only(source)
    found = []
    for what, pattern in PS7_ONLY:
        for match in re.finditer(pattern, code):
            found.append(Finding(code.count("\n", 0, match.start()) + 1, f"{what} is not Windows PowerShell 5.1"))
    return sorted(found, key=lambda f: f.line)


def hashtable_keys(source: bytes) -> set[str]:
    """Every key written in a hashtable literal (``@{ key = ... }``)."""
    keys = set()
    for node in _walk(parse(source).root_node):
        if node.type == "key_expression":
            keys.add(source[node.start_byte : node.end_byte].decode().strip("'\""))
    return keys


def assigned_members(source: bytes) -> set[str]:
    """Every member name assigned to (``$record.name = ...``), outside strings and comments."""
    return set(re.findall(r"\$\w+(?:\.\w+)*\.(\w+)\s*=(?!=)", code_only(source)))


def produced_fields(source: bytes) -> set[str]:
    """The names the script can put in a reply: hashtable literal keys and assigned members."""
    return hashtable_keys(source) | assigned_members(source)


def switch_labels(source: bytes) -> set[str]:
    """Every quoted label of a ``switch`` clause."""
    labels = set()
    for node in _walk(parse(source).root_node):
        if node.type == "switch_clause_condition":
            labels.add(source[node.start_byte : node.end_byte].decode().strip("'\""))
    return labels


def schema_property_names(schema: dict[str, Any]) -> set[str]:
    """Every property name a JSON Schema defines (not the keys of free-form maps)."""
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            for name, sub in (node.get("properties") or {}).items():
                names.add(name)
                visit(sub)
            for key, sub in node.items():
                if key != "properties":
                    visit(sub)
        elif isinstance(node, list):
            for item in node:
                visit(item)

    visit(schema)
    return names


def nodes(source: bytes, node_type: str) -> list[Any]:
    """Every node of ``node_type`` in the source's syntax tree."""
    return [node for node in _walk(parse(source).root_node) if node.type == node_type]


def functions(source: bytes) -> dict[str, bytes]:
    """Each ``Function Name { ... }`` of the source by name (case as written), with its whole text."""
    found = {}
    for node in nodes(source, "function_statement"):
        name = next((c for c in node.children if c.type == "function_name"), None)
        if name is not None:
            found[source[name.start_byte : name.end_byte].decode()] = source[node.start_byte : node.end_byte]
    return found


def string_literals(source: bytes) -> list[tuple[int, str]]:
    """(line, text without quotes) of every string literal."""
    found = []
    for node in _walk(parse(source).root_node):
        if node.type in ("string_literal",):
            text = source[node.start_byte : node.end_byte].decode()
            found.append((node.start_point[0] + 1, text[1:-1] if len(text) >= 2 else text))
    return found


def requires(source: bytes) -> list[tuple[str, str]]:
    """The ``#AnsibleRequires -PowerShell|-CSharpUtil NAME`` lines of a PowerShell or C# source, as (kind, name)."""
    return re.findall(r"(?m)^\s*(?:#|//)AnsibleRequires\s+-(PowerShell|CSharpUtil)\s+(\S+)\s*$", source.decode())


def read_fields(source: bytes) -> set[str]:
    """Names the source reads from a dictionary: ``$x.name``, ``$x['name']`` and ``Get-Field ... -Name 'name'``."""
    text = source.decode()
    code = code_only(source)
    fields = set()
    for chain in re.findall(r"\$[\w:]+((?:\.\w+)+)", code):
        fields.update(chain.split(".")[1:])
    fields |= set(re.findall(r"\$\w+\['(\w+)'\]", text))
    fields |= set(re.findall(r"-Name '(\w+)'", text))
    return fields
