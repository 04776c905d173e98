"""The API's docs page in Chromium under the app's CSP: Swagger UI runs from this server's files
and shows the API's operations; nothing is fetched from elsewhere and no script is refused."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

VIOLATIONS = """window.__violations = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__violations.push([e.violatedDirective, e.sourceFile, e.sample]));"""


def test_the_docs_page_runs_swagger_ui_from_this_server(page: Page, server):
    fetched = []
    page.on("request", lambda request: fetched.append(request.url))
    page.add_init_script(VIOLATIONS)
    page.goto("/api/v1/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Data-loss incident tracker API")
    document = page.request.get("/api/v1/openapi.json").json()
    operations = [path for path, item in document["paths"].items() for _method in item]
    expect(page.locator(".opblock-summary-path")).to_have_count(len(operations))  # every operation shown
    shown = page.locator(".opblock-summary-path").all_inner_texts()
    assert sorted(shown) == sorted(operations)
    assert [url for url in fetched if not url.startswith(server.url)] == []
    refused = page.evaluate("window.__violations")
    # Swagger UI's React also renders one empty <style> element, which the CSP refuses harmlessly;
    # a refused script would mean the page does not work.
    assert [v for v in refused if v[0].startswith("script-src")] == [], refused
