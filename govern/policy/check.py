"""`govern policy check`: refuse a bundle the embedded engine would not evaluate faithfully.

regorus reports a built-in it lacks only when the rule that calls it is evaluated, and answers some calls
silently wrong (`http.send` is undefined, `strings.count` counts overlapping matches). So every call in the
bundle is resolved from regorus's own syntax tree: to a function the bundle defines, or to a built-in the
engine has and answers the same on every run. Decisions must be replayable from their recorded input, so
built-ins that reach outside the input or change from run to run are refused too; the time comes in as
`input.now_ns`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

import regorus

from govern.policy.annotations import FINDING_RULES
from govern.policy.bundle import Module, PolicyBundle
from govern.policy.engines import EngineError
from govern.policy.engines.evaluator import regorus_message
from govern.policy.problems import BundleProblem

REFUSED_BUILTINS = {
    "http.send": "reaches outside the input (and regorus answers it undefined, silently)",
    "net.lookup_ip_addr": "reaches outside the input (DNS)",
    "opa.runtime": "describes the engine, not the input, so a decision could not be replayed elsewhere",
    "time.now_ns": "changes from run to run; policies read the time from input.now_ns, so any decision can be replayed",
    "rand.intn": "changes from run to run",
    "uuid.rfc4122": "changes from run to run",
    "strings.count": "regorus counts overlapping matches (\"aaa\" holds \"aa\" twice), OPA does not",
}
REFUSED_PREFIXES = {
    "rego.metadata.": "neither embedded engine implements it; govern reads METADATA annotations itself "
    "(rule catalogue, enrichment of every finding)",
}
KEYWORDS = frozenset({"print"})
_LOCATION = re.compile(r"-->\s*(?P<path>[^\n:]+):(?P<line>\d+):(?P<col>\d+)")


@cache
def engine_builtins() -> frozenset[str]:
    """The built-ins regorus has, as it reports them itself."""
    engine = regorus.Engine()
    engine.add_policy("builtins.rego", "package builtins\n\nruntime := opa.runtime()\n")
    return frozenset(name for name in engine.eval_rule("data.builtins.runtime")["builtins"] if not name.startswith("__"))


def check_bundle(bundle: PolicyBundle) -> list[BundleProblem]:
    """Everything that makes the bundle unsafe for the embedded engine (fatal) or worth a look (not)."""
    trees, problems = _syntax_trees(bundle.modules)
    if problems:
        return problems
    functions = {f"{_package(trees[m.path])}.{name}" for m in bundle.modules for _, name, _ in rule_heads(trees[m.path])}
    for module in bundle.modules:
        problems.extend(_call_problems(module, trees[module.path], functions))
        problems.extend(_head_problems(module, trees[module.path]))
    problems.extend(bundle.rule_catalogue.problems)
    problems.extend(_unannotated_findings(bundle, trees))
    return problems


def parse_trees(modules: tuple[Module, ...]) -> list[tuple[Module, dict[str, Any], str]]:
    """(module, syntax tree, package) for each module; EngineError if one does not parse."""
    trees, problems = _syntax_trees(modules)
    if problems:
        raise EngineError("the policies do not parse:\n" + "\n".join(str(p) for p in problems))
    return [(module, trees[module.path], _package(trees[module.path])) for module in modules]


def _syntax_trees(modules: tuple[Module, ...]) -> tuple[dict[str, dict[str, Any]], list[BundleProblem]]:
    """regorus's syntax tree of every module, by path, or the parse errors."""
    engine = regorus.Engine()
    problems = []
    for module in modules:
        try:
            engine.add_policy(module.path, module.source)
        except RuntimeError as exc:
            problems.append(_parse_problem(module, exc))
    if problems:
        return {}, problems
    return {tree["source"]["file"]: tree["ast"] for tree in json.loads(engine.get_ast_as_json())}, []


def require_supported(bundle: PolicyBundle) -> None:
    """Refuse a bundle with any fatal problem: it would not be evaluated faithfully."""
    fatal = [p for p in check_bundle(bundle) if p.fatal]
    if fatal:
        raise EngineError("policy bundle refused:\n" + "\n".join(str(p) for p in fatal))


def _parse_problem(module: Module, exc: RuntimeError) -> BundleProblem:
    text = regorus_message(exc)
    found = _LOCATION.search(text)
    message = text.rsplit("error:", 1)[-1].strip() if "error:" in text else text.splitlines()[0]
    return BundleProblem(module.path, int(found["line"]) if found else 1, f"does not parse: {message}")


def dotted(node: Any) -> str | None:
    """`a.b.c` for a Var / RefDot chain (the name of a called function or a rule head), else None."""
    if "Var" in node:
        name: str = node["Var"]["value"]
        return name
    if "RefDot" in node:
        head = dotted(node["RefDot"]["refr"])
        return f"{head}.{node['RefDot']['field'][1]}" if head else None
    if "RefBrack" in node:
        return dotted(node["RefBrack"]["refr"])
    return None


def rule_heads(tree: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(head kind, rule name, rule node) for every rule of a module: kinds Func, Set, Compr, Default."""
    for rule in tree["rules"]:
        if "Default" in rule:
            yield "Default", dotted(rule["Default"]["refr"]) or "", rule["Default"]
            continue
        spec = rule["Spec"]
        kind, head = next(iter(spec["head"].items()))
        yield kind, dotted(head["refr"]) or "", spec


def _package(tree: dict[str, Any]) -> str:
    return (dotted(tree["package"]["refr"]) or "").removeprefix("data.")


def _imports(module: Module, tree: dict[str, Any]) -> dict[str, str]:
    """Import alias → the data path it stands for (`import data.govern.lib` → `lib`: `govern.lib`)."""
    lines = module.source.splitlines()
    aliases = {}
    for entry in tree["imports"]:
        target = dotted(entry["refr"]) or ""
        if not target.startswith("data."):
            continue
        span = entry.get("as")
        if span:
            line = lines[span["line"] - 1]
            alias = line[span["col"] - 1 : span["col"] - 1 + span["end"] - span["start"]]
        else:
            alias = target.rsplit(".", 1)[-1]
        aliases[alias] = target.removeprefix("data.")
    return aliases


def _nodes(root: Any, kind: str) -> list[dict[str, Any]]:
    """Every `kind` node (`Call`, `Object`, …) under `root`, found with an explicit stack: the syntax tree of
    a bundle has some 100,000 nodes, and a recursive generator made this the slowest step of loading it."""
    found, pending = [], [root]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if isinstance(node.get(kind), dict):
                found.append(node[kind])
            pending.extend(value for value in node.values() if isinstance(value, (dict, list)))
        elif isinstance(node, list):
            pending.extend(value for value in node if isinstance(value, (dict, list)))
    return found


def _calls(node: Any) -> list[tuple[str, int]]:
    """(called name, line) for every call under the node."""
    return [(name, call["span"]["line"]) for call in _nodes(node, "Call") if (name := dotted(call["fcn"]))]


def _call_problems(module: Module, tree: dict[str, Any], functions: set[str]) -> list[BundleProblem]:
    package = _package(tree)
    aliases = _imports(module, tree)
    problems = []
    for name, line in _calls(tree["rules"]):
        head, _, rest = name.partition(".")
        if name in KEYWORDS or head == "data" or (head in aliases and rest) or f"{package}.{name}" in functions:
            continue
        reason = REFUSED_BUILTINS.get(name) or next((why for p, why in REFUSED_PREFIXES.items() if name.startswith(p)), None)
        if reason:
            problems.append(BundleProblem(module.path, line, f"calls {name}(), which govern refuses: {reason}"))
        elif name not in engine_builtins():
            problems.append(BundleProblem(module.path, line, f"calls {name}(), which the embedded engine does not provide"))
    return problems


_PLAIN = ("Var", "String", "RawString", "Number", "Bool", "Null")
HEAD_VALUES_IN_BODY = (
    "regorus mis-evaluates a multi-value rule whose head expression is undefined for one iteration (the whole "
    "rule turns empty, or fails): bind the value in the body (`deny contains finding if { …; finding := … }`)"
)


def _plain(node: dict[str, Any]) -> bool:
    """A head expression that is always defined: variables, literals, and collections of them."""
    kind, value = next(iter(node.items()))
    if kind in _PLAIN:
        return True
    if kind in ("Array", "Set"):
        return all(_plain(item) for item in value["items"])
    if kind == "Object":
        return all(_plain(key) and _plain(item) for _, key, item in value["fields"])
    return False


def _head_problems(module: Module, tree: dict[str, Any]) -> list[BundleProblem]:
    """Multi-value rules (`r contains x`, `r[k] := v`) whose key or value is computed in the head."""
    problems = []
    for kind, name, rule in rule_heads(tree):
        if kind not in ("Set", "Compr"):
            continue
        head = rule["head"][kind]
        if kind == "Set":
            expressions = [head["key"]] if head.get("key") else []
        elif "RefBrack" in head["refr"]:
            expressions = [head["refr"]["RefBrack"]["index"]] + ([head["assign"]["value"]] if head.get("assign") else [])
        else:
            continue
        if not all(_plain(expression) for expression in expressions):
            problems.append(BundleProblem(module.path, rule["span"]["line"], f"rule {name}: {HEAD_VALUES_IN_BODY}"))
    return problems


def _rule_ids_in(node: Any) -> set[str]:
    """String values of `"rule": "…"` fields of object literals: the ids a deny/warn body emits."""
    return {
        value["String"]["value"]
        for obj in _nodes(node, "Object")
        for _, key, value in obj["fields"]
        if key.get("String", {}).get("value") == "rule" and "String" in value
    }


def _unannotated_findings(bundle: PolicyBundle, trees: dict[str, dict[str, Any]]) -> list[BundleProblem]:
    """Every deny/warn body of the bundle's own areas is annotated, and emits only the id it is annotated with."""
    declared = bundle.rule_catalogue.finding_rule_lines()
    problems = []
    for module in bundle.policy_modules:
        tree = trees[module.path]
        if _package(tree).startswith("govern.custom"):
            continue
        for kind, name, rule in rule_heads(tree):
            if kind != "Set" or name not in FINDING_RULES:
                continue
            line = rule["span"]["line"]
            rule_id = declared.get((module.path, line))
            if rule_id is None:
                problems.append(BundleProblem(module.path, line, f"this {name} rule has no METADATA annotation (title, custom.id, …)"))
                continue
            for emitted in _rule_ids_in(rule) - {rule_id}:
                problems.append(
                    BundleProblem(module.path, line, f"emits rule id {emitted}, but its METADATA annotation declares {rule_id}")
                )
    return problems
