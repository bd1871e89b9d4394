"""``/docs`` and ``/redoc`` render in headless Chromium with the network cut: every script, style
and font comes from the hub itself (they were blank offline when loaded from a CDN)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Route, sync_playwright

from tests.integration.central_hub.helpers import CHROMIUM, CHROMIUM_ARGS, HubServer


@pytest.mark.slow
@pytest.mark.parametrize(("path", "rendered"), [
    ("/docs", ".swagger-ui .opblock"),
    ("/redoc", "[data-section-id^='tag/vehicles'], [data-section-id^='operation/']"),
])
def test_api_docs_render_with_the_network_cut(hub: HubServer, path: str, rendered: str) -> None:
    elsewhere: list[str] = []

    def only_the_hub(route: Route) -> None:
        if route.request.url.startswith(hub.url):
            route.continue_()
        else:  # the network is cut: anything else fails, and is remembered
            elsewhere.append(route.request.url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.route("**/*", only_the_hub)
            page.goto(hub.url + path)
            page.wait_for_selector(rendered, timeout=30_000)
            assert page.locator(rendered).count() >= 5
            text = page.inner_text("body")
        finally:
            browser.close()
    assert elsewhere == []
    assert "/api/v1/vehicles" in text
