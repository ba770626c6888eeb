"""The admin app's source keeps the house rules: one module loaded by index.html, imports that
resolve, no inline scripts, no globals, no network beyond the appliance."""

from __future__ import annotations

import re
from pathlib import Path

from storewatch.server.spa import STATIC_DIR

STATIC_IMPORT = re.compile(r"""^\s*(?:import|export)\s[^;]*?from\s*["']([^"']+)["']""", re.M)
DYNAMIC_IMPORT = re.compile(r"""import\(\s*[`"']([^`"']+)[`"']""")
PAGES = {"overview", "devices", "device", "events", "queue", "settings", "notifications", "login"}


def _modules() -> list[Path]:
    return sorted(STATIC_DIR.rglob("*.js"))


def test_every_static_import_resolves_to_a_module():
    for module in _modules():
        for target in STATIC_IMPORT.findall(module.read_text()):
            assert target.startswith(("./", "../")), f"{module.name}: {target} is not a relative module"
            assert (module.parent / target).resolve().is_file(), f"{module.name} imports missing {target}"


def test_every_routed_page_is_a_module_with_a_render_function():
    app = (STATIC_DIR / "app.js").read_text()
    assert DYNAMIC_IMPORT.findall(app) == ["./pages/${found.route.page}.js"]
    routed = set(re.findall(r'page: "([a-z-]+)"', app))
    assert routed == PAGES
    for name in routed:
        assert "export async function render(main, context)" in (STATIC_DIR / "pages" / f"{name}.js").read_text()


def test_index_loads_one_module_and_has_no_inline_script_or_style():
    html = (STATIC_DIR / "index.html").read_text()
    assert re.findall(r"<script\b[^>]*>", html) == ['<script type="module" src="/static/app.js">']
    assert re.search(r"<script\b[^>]*>\s*[^<\s]", html) is None
    assert " style=" not in html and "<style" not in html and re.search(r"\son[a-z]+=", html) is None


def test_modules_use_no_globals_no_inner_html_and_no_outside_network():
    for module in _modules():
        text = module.read_text().replace('"http://www.w3.org/2000/svg"', "")
        assert "http://" not in text and "https://" not in text, module
        assert "innerHTML" not in text and "document.write" not in text and "eval(" not in text, module
        assert not re.search(r"window\.(?!addEventListener|removeEventListener|matchMedia)", text), module
        assert "setAttribute(\"style\"" not in text, module  # the CSP allows no inline styles


def test_modules_stay_small():
    for module in [*_modules(), STATIC_DIR / "style.css"]:
        lines = len(module.read_text().splitlines())
        assert lines <= 600 if module.suffix == ".css" else lines <= 400, f"{module.name} has {lines} lines"
