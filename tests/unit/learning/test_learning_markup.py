"""Authors' Markdown is rendered and sanitised: known XSS payloads never reach a pupil's
browser as markup that runs, and the maths survives for KaTeX."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from central_hub.learning.domain.markup import render, render_inline

XSS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<iframe src=javascript:alert(1)></iframe>",
    "[klick](javascript:alert(1))",
    "[klick](JaVaScRiPt:alert(1))",
    "[klick](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](javascript:alert(1))",
    "![x](https://evil.example/track.png)",
    '<a href="javascript:alert(1)">x</a>',
    "<body onload=alert(1)>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<details open ontoggle=alert(1)>",
    '"><script>alert(1)</script>',
    "$<img src=x onerror=alert(1)>$",
    "$$</div><script>alert(1)</script>$$",
    "<object data=javascript:alert(1)>",
    "<form action=javascript:alert(1)><button>x</button></form>",
    "<a href='&#106;avascript:alert(1)'>x</a>",
    "[x](&#106;avascript:alert(1))",
    "<style>@import 'https://evil.example/x.css';</style>",
    "<meta http-equiv=refresh content='0;url=https://evil.example'>",
    "<base href='https://evil.example/'>",
    "<input autofocus onfocus=alert(1)>",
]

SAFE_TAGS = {"p", "br", "hr", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li",
             "h2", "h3", "h4", "a", "img", "table", "thead", "tbody", "tr", "th", "td", "span",
             "div", "sub", "sup", "del"}


class Elements(HTMLParser):
    """Every element and attribute of an HTML fragment, as a browser would parse them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def assert_harmless(html: str) -> None:
    parser = Elements()
    parser.feed(html)
    for tag, attrs in parser.found:
        assert tag in SAFE_TAGS, html
        for name, value in attrs:
            assert not name.startswith("on") and name not in ("style", "srcdoc"), html
            if name in ("href", "src"):
                scheme = urlsplit((value or "").strip()).scheme.lower()
                assert scheme in ("", "http", "https", "mailto"), html
                if tag == "img":
                    assert not scheme and not (value or "").startswith("//"), html


@pytest.mark.parametrize("payload", XSS)
def test_known_payloads_are_harmless(payload: str) -> None:
    for html in (render(payload), render_inline(payload), render(f"Text\n\n{payload}\n")):
        assert_harmless(html)


def test_markdown_and_maths_survive() -> None:
    html = render("**Kürze** $\\frac{6}{8}$:\n\n$$\\frac{6}{8} = \\frac{3}{4}$$\n\n"
                  "- eins\n- zwei\n\n[Hilfe](https://example.org/hilfe) ![Bild](/lernen/a.png)")
    assert "<strong>Kürze</strong>" in html
    assert '<span class="math inline">\\frac{6}{8}</span>' in html
    assert "\\frac{6}{8} = \\frac{3}{4}" in html
    assert "<li>eins</li>" in html
    assert 'href="https://example.org/hilfe"' in html and 'rel="noopener noreferrer"' in html
    assert 'src="/lernen/a.png"' in html
    assert render_inline("$\\frac{1}{4}$") == '<span class="math inline">\\frac{1}{4}</span>'
