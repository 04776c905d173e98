"""The PDF renderer is safe with hostile documents: it reads no local file, makes no network
request, embeds no attachment, and stops a render that runs over its time limit.

The hostile HTML goes to the renderer twice: through the Markdown pipeline (where nh3 already
strips most of it) and straight, as if the sanitiser had missed it (defence in depth).
"""
from __future__ import annotations

import io
import socket
import threading
from pathlib import Path

import pypdf
import pytest

from incidents.markdown import render_markdown
from incidents.reports.render import ASSET_ORIGIN, RefusedURL, RenderTimeout, SafeFetcher, render_pdf

STATIC = Path(__file__).resolve().parents[1] / "static"
PASSWD_LINE = Path("/etc/passwd").read_text().splitlines()[0]  # e.g. root:x:0:0:root:/root:/bin/bash
HOSTNAME = Path("/etc/hostname").read_text().strip() if Path("/etc/hostname").exists() else None


class Listener:
    """A TCP socket on 127.0.0.1 that counts every connection made to it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.close()


def hostile(port: int) -> str:
    return f"""
<img src="file:///etc/passwd" alt="passwd">
<link rel="attachment" href="file:///etc/hostname">
<a rel="attachment" href="file:///etc/passwd">attached passwd</a>
<style>@import url(http://127.0.0.1:{port}/import.css);
@font-face {{ font-family: Hostile; src: url(file:///dev/urandom); }}
p {{ font-family: Hostile; }}</style>
<img src="http://127.0.0.1:{port}/pixel.png" alt="pixel">
<link rel="stylesheet" href="http://127.0.0.1:{port}/sheet.css">
<img src="/static/../../../../etc/passwd" alt="traversal">
<object data="file:///etc/passwd"></object>
<iframe src="file:///etc/passwd"></iframe>
<p>Hostile body text</p>
"""


def document(body: str) -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Hostile test</title>'
            f'<link rel="stylesheet" href="/static/css/print.css"></head><body>{body}</body></html>')


def read_back(pdf: bytes) -> tuple[pypdf.PdfReader, str]:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return reader, "\n".join(page.extract_text() or "" for page in reader.pages)


def assert_nothing_leaked(pdf: bytes) -> None:
    reader, text = read_back(pdf)
    assert reader.attachments == {}
    assert "/EmbeddedFiles" not in str(reader.trailer["/Root"].get("/Names", {}))
    for page in reader.pages:  # no file-attachment annotations either
        for annot in page.get("/Annots") or []:
            assert annot.get_object().get("/Subtype") != "/FileAttachment"
    assert PASSWD_LINE not in text and "root:x:0" not in text
    assert PASSWD_LINE.encode() not in pdf
    if HOSTNAME and len(HOSTNAME) >= 4:  # a two-letter host name could appear in any text
        assert HOSTNAME not in text


@pytest.mark.parametrize("route", ["straight to the renderer", "through Markdown"])
def test_hostile_document_reads_no_file_reaches_no_socket_and_still_renders(listener, route):
    html = hostile(listener.port)
    if route == "through Markdown":
        html = str(render_markdown(html))
    result = render_pdf(document(html), static_folder=STATIC, timeout=60)

    assert result.pages >= 1
    assert "Hostile body text" in read_back(result.pdf)[1]
    assert_nothing_leaked(result.pdf)
    assert listener.connections == 0
    if route == "straight to the renderer":
        refused = " ".join(result.refused)
        for url in ("file:///etc/passwd", "file:///etc/hostname", "file:///dev/urandom",
                    f"http://127.0.0.1:{listener.port}/pixel.png"):
            assert url in refused


def test_a_render_over_its_time_limit_is_stopped_with_a_clear_error():
    long_document = document("<p>page</p>" * 20_000)
    with pytest.raises(RenderTimeout, match="longer than 0.05 seconds"):
        render_pdf(long_document, static_folder=STATIC, timeout=0.05)
    # The renderer is still usable afterwards.
    assert render_pdf(document("<p>after</p>"), static_folder=STATIC, timeout=60).pages == 1


def test_fetcher_serves_the_apps_static_assets_and_data_urls_only(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    fetcher = SafeFetcher(STATIC)
    css = fetcher.fetch(ASSET_ORIGIN + "static/css/print.css")
    assert css.content_type == "text/css" and b"@page" in css.read()
    assert fetcher.fetch("data:text/plain;base64,aGVsbG8=").read() == b"hello"
    assert fetcher.fetch("data:,plain%20text").read() == b"plain text"
    for url in ["file:///etc/passwd", f"file://{secret}", "http://127.0.0.1:9/", "https://example.com/x.png",
                ASSET_ORIGIN + "static/../../etc/passwd", ASSET_ORIGIN + "static/%2e%2e/%2e%2e/etc/passwd",
                ASSET_ORIGIN + "instance/secret_key", ASSET_ORIGIN + "static/no-such-file.css",
                "ftp://127.0.0.1/x", "https://assets.invalid.example.com/static/css/print.css"]:
        with pytest.raises(RefusedURL):
            fetcher.fetch(url)


def test_a_symlink_in_static_cannot_point_outside_it(tmp_path):
    static = tmp_path / "static"
    static.mkdir()
    (static / "ok.css").write_text("p { color: red }")
    (static / "escape.css").symlink_to("/etc/passwd")
    fetcher = SafeFetcher(static)
    assert fetcher.fetch(ASSET_ORIGIN + "static/ok.css").read() == b"p { color: red }"
    with pytest.raises(RefusedURL):
        fetcher.fetch(ASSET_ORIGIN + "static/escape.css")
