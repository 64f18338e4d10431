"""The shell of the self-contained HTML reports: one file, inline CSS, no script, no network.

Text goes through :func:`html.escape` everywhere; only :class:`Raw` (markup built here or by
``churn_core.charts``) passes unescaped, so a source path or a feature value from a file cannot
inject markup into a page someone opens.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from pathlib import Path

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem 2rem; color: #222; max-width: 1400px }
h1 { font-size: 1.5rem; margin-bottom: .2rem } h2 { font-size: 1.15rem; margin-top: 1.8rem }
.meta { color: #555; margin-top: 0 }
table { border-collapse: collapse; margin: .6rem 0 } th, td { padding: .25rem .6rem;
  border-bottom: 1px solid #ddd; text-align: left } td.num { text-align: right;
  font-variant-numeric: tabular-nums } th { background: #f3f3f3 }
.verdict { display: inline-block; padding: .3rem .8rem; border-radius: .3rem; font-weight: 600 }
.bad { background: #fde2e1; color: #9b1c1c } .good { background: #def7e5; color: #14532d }
tr.bad td { background: #fff1f0 }
.charts { display: flex; flex-wrap: wrap; gap: 1rem } figure { margin: 0 }
figcaption { font-weight: 600; margin-bottom: .2rem }
"""


class Raw(str):
    """Markup that is already safe (built from escaped parts); not escaped again."""


def text(value: object) -> str:
    return value if isinstance(value, Raw) else html.escape(str(value))


def tag(name: str, content: object, css_class: str = "") -> Raw:
    attribute = f' class="{html.escape(css_class)}"' if css_class else ""
    return Raw(f"<{name}{attribute}>{text(content)}</{name}>")


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    row_classes: Sequence[str] | None = None,
    numeric: Sequence[int] = (),
) -> Raw:
    """A table; cells in the ``numeric`` columns are right-aligned."""
    head = "".join(f"<th>{text(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        css = row_classes[i] if row_classes else ""
        cells = "".join(
            f'<td class="num">{text(c)}</td>' if j in numeric else f"<td>{text(c)}</td>"
            for j, c in enumerate(row)
        )
        body.append(f'<tr class="{html.escape(css)}">{cells}</tr>' if css else f"<tr>{cells}</tr>")
    return Raw(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")


def figure(caption: str, svg: str) -> Raw:
    """A chart (SVG from churn_core.charts) with its caption."""
    return Raw(f"<figure><figcaption>{text(caption)}</figcaption>{svg}</figure>")


def chart_row(figures: Iterable[str]) -> Raw:
    return Raw(f'<div class="charts">{"".join(figures)}</div>')


def page(title: str, sections: Iterable[object]) -> str:
    """A whole document. ``sections`` are Raw markup or plain text (escaped)."""
    body = "\n".join(text(s) if isinstance(s, Raw) else f"<p>{text(s)}</p>" for s in sections)
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # No script, no remote resource: the policy makes the browser refuse any that slipped in.
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{text(title)}</title><style>{STYLE}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )


def write(path: str | Path, document: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document, encoding="utf-8")
    return path
