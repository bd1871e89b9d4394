"""Authors' Markdown to HTML that is safe to show: rendered on the server, then sanitised.

WHY both steps here: authors are volunteers, and an account can be taken over, so whatever
an author writes is treated as hostile. markdown-it-py renders CommonMark with the maths
plugin (``$...$`` and ``$$...$$`` become elements KaTeX renders in the browser); raw HTML in
the source is not rendered at all, and nh3 (ammonia) then keeps only an allowlist of elements
and attributes, so no script, event handler, ``javascript:`` link or style reaches a pupil's
browser whatever the renderer lets through. Images only from the hub itself (relative
addresses): the platform loads nothing from outside.
"""

from __future__ import annotations

from functools import cache

import nh3
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin

_TAGS = {
    "p", "br", "hr", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li",
    "h2", "h3", "h4", "a", "img", "table", "thead", "tbody", "tr", "th", "td", "span", "div",
    "sub", "sup", "del",
}
_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "th": {"align"},
               "td": {"align"}, "ol": {"start"}}
_CLASSES = {"span": {"math", "inline"}, "div": {"math", "block"}}


@cache
def _renderer() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table").enable("strikethrough")
    dollarmath_plugin(md, allow_space=True, double_inline=True)
    return md


def _attribute(element: str, attribute: str, value: str) -> str | None:
    if element == "img" and attribute == "src" and ("://" in value or value.startswith("//")):
        return None  # images come from the hub itself, never from outside
    return value


def render(markdown: str) -> str:
    """Sanitised HTML of an author's Markdown (maths kept for KaTeX)."""
    html = _renderer().render(markdown)
    return sanitise(html)


def render_inline(markdown: str) -> str:
    """Sanitised HTML of one line (an option, a title): no paragraph around it."""
    return sanitise(_renderer().renderInline(markdown))


def sanitise(html: str) -> str:
    """Only the allowlisted elements, attributes and classes; links to http(s) and mail."""
    return nh3.clean(html, tags=_TAGS, attributes=_ATTRIBUTES, allowed_classes=_CLASSES,
                     url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer",
                     attribute_filter=_attribute, strip_comments=True)
