"""GX Data Docs that read offline: no CDN asset is needed to see them.

GX's pages load Bootstrap, jQuery, Font Awesome, Vega and a logo from public CDNs; on a
machine without internet (or in a locked-down browser) the page stays half-empty while it
waits for them. After the docs are built, every external script, stylesheet and image is
removed from each page and a small inline stylesheet takes Bootstrap's place, so tables,
verdicts and values read in any browser from the run folder alone. Charts that need Vega
(none of this project's expectations draws one) are the one thing lost.
"""

from __future__ import annotations

import re
from pathlib import Path

_EXTERNAL = [
    re.compile(r"<script\b[^>]*\bsrc=[\"']https?://[^>]*>\s*</script>", re.IGNORECASE),
    re.compile(r"<link\b[^>]*\bhref=[\"']https?://[^>]*>", re.IGNORECASE),
    re.compile(r"<img\b[^>]*\bsrc=[\"']https?://[^>]*>", re.IGNORECASE),
    re.compile(r"url\(\s*[\"']?https?://[^)]*\)", re.IGNORECASE),  # CSS backgrounds
]
_STYLE = """<style id="recsys-offline">
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; }
th { background: #f3f3f3; }
a { color: #0b5cad; }
.collapse { display: block; }
.navbar, .ge-footer, form, .cooltip, button { display: none; }
.text-danger, .fa-times { color: #b00020; }
.text-success, .fa-check-circle { color: #1b7a1b; }
</style>"""


def make_offline(docs_dir: Path) -> int:
    """Strip external assets from every page under `docs_dir`; returns the pages changed."""
    changed = 0
    for page in sorted(Path(docs_dir).rglob("*.html")):
        html = page.read_text(encoding="utf-8")
        out = html
        for pattern in _EXTERNAL:
            out = pattern.sub("", out)
        if "recsys-offline" not in out:
            out = re.sub(r"</head>", _STYLE + "</head>", out, count=1, flags=re.IGNORECASE)
            if page.name == "index.html" and page.parent == Path(docs_dir):
                # GX fills the index's tables from scripts: list the pages as plain links.
                head, body, rest = re.split(r"(<body[^>]*>)", out, maxsplit=1)
                out = head + body + _links(page.parent) + rest
        if out != html:
            page.write_text(out, encoding="utf-8")
            changed += 1
    return changed


def _links(docs_dir: Path) -> str:
    names = [
        p.relative_to(docs_dir).as_posix()
        for folder in ("expectations", "validations")
        for p in sorted((docs_dir / folder).rglob("*.html"))
    ]
    items = [f'<li><a href="{name}">{name}</a></li>' for name in names]
    return '<div id="recsys-pages"><h2>Pages</h2><ul>' + "".join(items) + "</ul></div>"


def external_assets(docs_dir: Path) -> list[str]:
    """The http(s) scripts, stylesheets and images the pages under `docs_dir` still load."""
    found = []
    for page in sorted(Path(docs_dir).rglob("*.html")):
        html = page.read_text(encoding="utf-8")
        found += [m.group(0)[:80] for p in _EXTERNAL for m in p.finditer(html)]
    return found
