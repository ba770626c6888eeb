"""All SQL lives in the store layer (storewatch/store/): no other module holds an SQL statement.

A real scan of the package's source: every string literal (f-strings with their holes
filled by a placeholder) that reads as an SQL statement is found, docstrings aside, and
one outside storewatch/store/ fails the test with its file and line.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import storewatch

PACKAGE = Path(storewatch.__file__).parent
STORE = PACKAGE / "store"

# Paths whose SQL is not the app database's, or is still being moved into the store by the
# session that owns it (issue 14 point 3). Remove an entry as soon as it holds no SQL.
NOT_YET_MOVED = {
    PACKAGE / "jobs" / "taskfile.py": "PRAGMA quick_check on huey.db, Huey's own file (not the app database)",
}

# Uppercase keywords before a lowercase table or column name: how this codebase writes SQL,
# and not how it writes messages, help or comments.
_STATEMENT = re.compile("|".join([
    r"\bSELECT\b.*?\bFROM\s+[a-z_(]",
    r"\bSELECT\s+(\d|COUNT|MAX|MIN|SUM|COALESCE|EXISTS)\b",
    r"\bINSERT\s+(OR\s+[A-Z]+\s+)?INTO\s+[a-z_]",
    r"\bREPLACE\s+INTO\s+[a-z_]",
    r"\bUPDATE\s+[a-z_]+\s+SET\b",
    r"\bDELETE\s+FROM\s+[a-z_]",
    r"\b(CREATE|DROP|ALTER)\s+(TEMP\s+|UNIQUE\s+)?(TABLE|INDEX|VIEW|TRIGGER)\b",
    r"^\s*PRAGMA\s+\w+\s*(=\s*\w+|\(\w*\))?\s*;?\s*$",
    r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|VACUUM|ANALYZE|ATTACH|DETACH)(\s+[A-Z_]+)?\s*;?\s*$",
]), re.DOTALL)


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings (a module's, a class's, a function's)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _literal_text(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(part.value if isinstance(part, ast.Constant) else "?" for part in node.values)
    return None


def sql_statements(source: str) -> list[tuple[int, str]]:
    """(line, text) of every string literal in `source` that is an SQL statement."""
    tree = ast.parse(source)
    skipped = _docstrings(tree)
    inside_fstrings = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)
                       for part in node.values}
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped or id(node) in inside_fstrings:
            continue
        text = _literal_text(node)
        if text is not None and _STATEMENT.search(text):
            found.append((node.lineno, text))
    return sorted(found)


def _allowed(path: Path) -> bool:
    return path.is_relative_to(STORE) or any(path.is_relative_to(folder) for folder in NOT_YET_MOVED)


def test_no_sql_statement_outside_the_store_layer() -> None:
    misplaced = [f"{path.relative_to(PACKAGE.parent)}:{line}: {text.strip()[:80]}"
                 for path in sorted(PACKAGE.rglob("*.py")) if not _allowed(path)
                 for line, text in sql_statements(path.read_text(encoding="utf-8"))]
    assert misplaced == [], "SQL outside storewatch/store/ (move it into a store module):\n" + "\n".join(misplaced)


def test_the_scan_finds_the_store_layers_own_sql() -> None:
    """The scan is not vacuous: the statements the store holds are found, in each store module that has them."""
    found = {path.name: len(sql_statements(path.read_text(encoding="utf-8"))) for path in STORE.glob("*.py")}
    for module in ("captures.py", "events.py", "rois.py", "settings.py", "scores.py", "retention_runs.py",
                   "metrics.py", "image_rows.py", "database_file.py", "migrations.py", "connection.py"):
        assert found[module] > 0, module


def test_the_scan_tells_sql_from_prose() -> None:
    source = '''
"""Module docstring: SELECT the rows FROM captures, as prose."""
import click

a = "SELECT id FROM captures WHERE device_id = ?"
b = ("UPDATE jobs SET state = 'queued'"
     " WHERE id = ?")
c = f"DELETE FROM event_images WHERE event_id IN ({marks})"
d = "INSERT OR REPLACE INTO metrics_samples (ts, values_json) VALUES (?, ?)"
e = "PRAGMA quick_check"
f = "PRAGMA journal_mode=WAL"
g = "SELECT COUNT(*) FROM jobs"
h = "CREATE INDEX jobs_state ON jobs (state)"

def f():
    """Select a device from the list; PRAGMA quick_check (or integrity_check) is run."""
    click.echo("Select a device, then update its settings.")
    click.option("--full", help="PRAGMA integrity_check (slower) instead of quick_check.")
    raise ValueError(f"delete from {name} failed: no such ROI")
'''
    lines = [line for line, _ in sql_statements(source)]
    assert lines == [5, 6, 8, 9, 10, 11, 12, 13]


def test_the_allow_list_names_paths_that_exist() -> None:
    for path, why in NOT_YET_MOVED.items():
        assert path.exists(), why


# The facade's stores: Appliance in appliance.py builds each once, and nothing else builds one.
FACADE_STORES = ("RoiStore", "EventStore", "JobQueue", "ScoreStore", "CaptureStore", "DeviceRegistry")


def store_constructions(source: str) -> list[tuple[int, str]]:
    """(line, class) of every call that builds one of the facade's stores."""
    return sorted((node.lineno, node.func.id if isinstance(node.func, ast.Name) else node.func.attr)
                  for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call)
                  and (getattr(node.func, "id", None) or getattr(node.func, "attr", None)) in FACADE_STORES)


def test_only_the_appliance_builds_the_facades_stores() -> None:
    appliance_module = PACKAGE / "appliance.py"
    built = [f"{path.relative_to(PACKAGE.parent)}:{line}: {name}(...)"
             for path in sorted(PACKAGE.rglob("*.py"))
             if path != appliance_module
             for line, name in store_constructions(path.read_text(encoding="utf-8"))]
    assert built == [], "use the Appliance's store (appliance.rois, .events, .jobs ...):\n" + "\n".join(built)
    assert {name for _, name in store_constructions(appliance_module.read_text(encoding="utf-8"))} == set(FACADE_STORES)
