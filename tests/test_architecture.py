"""The package's shape, kept by a test: one dependency direction, no import cycles, no import side effects.

Every ``import`` of ours inside ``llmops_nb/`` — at module level or inside a function, but not
under ``if TYPE_CHECKING:`` — is an edge. Edges must point down the layers below (or stay in one
unit), and no set of modules may import each other in a circle.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "llmops_nb"

# Lower numbers are lower layers; a unit may import its own layer or below. A unit is a
# subpackage (llmops_nb.store) or a top-level module (llmops_nb._config).
LAYERS = {
    # leaves: settings, errors, secrets, safety, HTML escaping, the display registry, prices
    "_config": 0, "_errors": 0, "_redact": 0, "_safety": 0, "_html": 0, "_display": 0, "_pricing": 0,
    "_on_import": 0, "_format": 0,
    "pii": 1,  # PII found and masked, hashed or dropped by policy (uses the secret layer)
    "tracing": 1,  # spans, context, records, the sink protocol
    "store": 2, "integrations": 2,  # the sink and the DuckDB file; SDK capture
    "models": 3, "_trace": 3, "local_model": 3, "otel": 3, "_autolog": 3, "replay": 3,
    "evals": 4, "prompts": 4, "_diff": 4,
    "agents": 4,  # sessions, hotspots, the agent graph's data (uses store, tracing, _trace)
    "guardrails": 4,  # validators on calls' inputs and outputs (uses evals' judges and scorers, pii, tracing)
    "monitor": 5,  # online scorers, metrics, dashboards, alerts (uses evals, store, tracing)
    "gateway": 5,  # one governed endpoint: routing, keys, budgets (uses store, tracing, models' retry, pii)
    "widgets": 5, "magics": 5, "_export": 5, "_runtime": 5, "__main__": 5,  # views, magics, wiring
    "__init__": 6,
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _runtime_imports(tree: ast.Module) -> list[ast.AST]:
    """Import nodes, skipping ``if TYPE_CHECKING:`` blocks (annotations only, never run)."""
    nodes: list[ast.AST] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            nodes.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return nodes


def _edges() -> dict[str, set[str]]:
    modules = _modules()
    edges: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in _runtime_imports(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - node.level + 1]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                if not module.startswith("llmops_nb"):
                    continue
                targets = [f"{module}.{alias.name}" for alias in node.names] + [module]
            else:
                targets = [alias.name for alias in node.names if alias.name.startswith("llmops_nb")]
            for candidate in targets:
                found = candidate
                while found not in modules and "." in found:
                    found = found.rsplit(".", 1)[0]
                if found in modules and found != name:
                    edges[name].add(found)
                    break
    return edges


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_import_points_down_the_layers():
    upward = []
    for source, targets in _edges().items():
        for target in targets:
            if _unit(source) == _unit(target):
                continue
            assert _unit(source) in LAYERS, f"{source}: add its unit to LAYERS in this test"
            assert _unit(target) in LAYERS, f"{target}: add its unit to LAYERS in this test"
            if LAYERS[_unit(target)] > LAYERS[_unit(source)]:
                upward.append(f"{source} -> {target}")
    assert not upward, "imports pointing up the layers:\n" + "\n".join(sorted(upward))


def test_no_import_cycles():
    edges = _edges()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def strongconnect(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in edges[node]:
            if target not in index:
                strongconnect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in edges:
        if node not in index:
            strongconnect(node)
    assert not cycles, f"import cycles: {cycles}"


def test_importing_the_package_changes_nothing_in_the_process():
    code = (
        "import concurrent.futures, sys\n"
        "submit = concurrent.futures.ThreadPoolExecutor.submit\n"
        "import llmops_nb\n"
        "assert concurrent.futures.ThreadPoolExecutor.submit is submit, 'import patched ThreadPoolExecutor'\n"
        "heavy = [m for m in ('duckdb', 'pandas', 'IPython', 'openai', 'anthropic', 'pyarrow', 'opentelemetry')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "@llmops_nb.trace\n"
        "def f():\n    return 1\n"
        "assert concurrent.futures.ThreadPoolExecutor.submit is not submit, 'tracing in use carries context'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stderr
