"""`govern policy check`: refuse a bundle the embedded engine would evaluate unfaithfully.

rego-cpp treats a call to a built-in it lacks as *undefined*, so a deny rule that calls one silently never
fires. Every call in the bundle is therefore resolved: to a function the bundle defines, or to a built-in
the engine really has. Anything else refuses the bundle.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from govern.policy.bundle import Module, PolicyBundle

KEYWORDS = frozenset({"set", "if", "not", "some", "every", "in", "contains", "else", "with", "as", "default", "import", "package"})

_COMMENT_OR_STRING = re.compile(r'"(?:\\.|[^"\\])*"|`[^`]*`|#[^\n]*')
_CALL = re.compile(r"(?<![\w.\]])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*\(")
_FUNCTION_HEAD = re.compile(r"^([A-Za-z_]\w*)\s*\([^)\n]*\)\s*(?::=|=|if\b|\{|contains\b)", re.MULTILINE)
_IMPORT = re.compile(r"^\s*import\s+(data(?:\.\w+)+|input(?:\.\w+)*|future\.\w+|rego\.v1)(?:\s+as\s+(\w+))?", re.MULTILINE)
_WHOLE_INPUT_WITH = re.compile(r"\bwith\s+input\s+as\b")

KNOWN_PITFALLS = {
    "time.parse_rfc3339_ns": "the embedded engine rejects RFC 3339 times ending in 'Z': pass '+00:00' offsets or epoch ns",
    "upper": "the embedded engine keeps strings escaped, so upper() turns an input's \\n into an invalid \\N",
}


@dataclass(frozen=True)
class BundleProblem:
    path: str
    line: int
    message: str
    fatal: bool = True

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {'error' if self.fatal else 'warning'}: {self.message}"


def blank_out(source: str) -> str:
    """Comments and string literals replaced by spaces, keeping every offset (and so every line) in place."""
    return _COMMENT_OR_STRING.sub(lambda match: re.sub(r"[^\n]", " ", match.group(0)), source)


def defined_functions(module: Module) -> set[str]:
    return set(_FUNCTION_HEAD.findall(blank_out(module.source)))


def check_bundle(bundle: PolicyBundle, is_builtin) -> list[BundleProblem]:
    """Every problem that makes the bundle unsafe for the embedded engine (fatal) or worth a look (not)."""
    functions_by_package: dict[str, set[str]] = {}
    for module in bundle.modules:
        functions_by_package.setdefault(module.package, set()).update(defined_functions(module))
    all_functions = set().union(*functions_by_package.values()) if functions_by_package else set()
    problems = []
    for module in bundle.modules:
        problems.extend(_check_module(module, functions_by_package.get(module.package, set()), all_functions, is_builtin))
    for rule_id in _catalogue_problems(bundle):
        problems.append(rule_id)
    return problems


def _check_module(module: Module, local_functions: set[str], all_functions: set[str], is_builtin) -> list[BundleProblem]:
    text = blank_out(module.source)
    aliases = {"data", "input"}
    for target, alias in _IMPORT.findall(text):
        aliases.add(alias or target.split(".")[-1])
    problems = []
    for match in _CALL.finditer(text):
        name = match.group(1)
        line = text.count("\n", 0, match.start()) + 1
        head, _, rest = name.partition(".")
        if name in KEYWORDS or (rest and head in aliases and rest.split(".")[-1] in all_functions):
            continue
        if not rest and name in local_functions:
            continue
        if not is_builtin(name):
            problems.append(BundleProblem(module.path, line, f"calls {name}(), which the embedded engine does not provide"))
        elif name in KNOWN_PITFALLS:
            problems.append(BundleProblem(module.path, line, f"{name}: {KNOWN_PITFALLS[name]}", fatal=False))
    if module.is_test:
        for match in _WHOLE_INPUT_WITH.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            problems.append(
                BundleProblem(
                    module.path,
                    line,
                    "replaces the whole input ('with input as ...'), which crashes the embedded engine; "
                    "replace one field at a time ('with input.experiment as ...')",
                )
            )
    return problems


def _catalogue_problems(bundle: PolicyBundle) -> list[BundleProblem]:
    """Every rule id the policies emit must be in the catalogue, so decisions carry severity and remediation."""
    ids_in_policies: dict[str, tuple[str, int]] = {}
    for module in bundle.policy_modules:
        for match in re.finditer(r'"rule"\s*:\s*"([A-Z]+-\d+)"', module.source):
            ids_in_policies.setdefault(match.group(1), (module.path, module.source.count("\n", 0, match.start()) + 1))
    return [
        BundleProblem(path, line, f"rule {rule_id} is not in the rule catalogue (govern/catalogue/data.json)")
        for rule_id, (path, line) in sorted(ids_in_policies.items())
        if rule_id not in bundle.catalogue
    ]

