"""SOP texts: Markdown to HTML that is safe to put in a page.

Two layers, because the text is written by users and shown to every member of staff:
markdown-it-py renders CommonMark with raw HTML turned off (so `<script>` is shown as text, and
its link validation already refuses `javascript:` and most `data:` URLs), then nh3 sanitises the
result against an allow-list of tags, attributes and URL schemes, whatever the renderer let through.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

_renderer = MarkdownIt("commonmark", {"html": False}).enable("table").enable("strikethrough")

ALLOWED_TAGS = frozenset({
    "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "img", "li", "ol", "p", "pre", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
})  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "td": {"style"},  # markdown-it writes column alignment as style; filtered below
    "th": {"style"},
}
#: Absolute URLs may use only these; relative links (e.g. to /files/...) stay as they are.
URL_SCHEMES = frozenset({"http", "https", "mailto"})


def render_markdown(text: str | None) -> Markup:
    """Sanitised HTML for `text`; links get rel="noopener noreferrer"."""
    if not text:
        return Markup("")
    html = _renderer.render(text)
    clean = nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer",
        filter_style_properties={"text-align"},
        strip_comments=True,
    )
    return Markup(clean)  # safe: sanitised by nh3 just above
