"""The browser tests' own footing (tests/browser.py): Debian's Chromium runs a page's inline
script, a click opens a <details>, a deep link targets its element, and a page that reaches
outside its own file is caught."""

from __future__ import annotations

from .browser import browser, open_page  # noqa: F401  (browser is a fixture)

# A 1x1 GIF inline: data: URLs are the page's own, not requests outside it.
PIXEL = "data:image/gif;base64,R0lGODlhAQABAAAAACH5BAEKAAEALAAAAAABAAEAAAICTAEAOw=="

SELF_CONTAINED = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>self-contained</title>
<style>
  .tall {{ height: 3000px; }}
  :target {{ outline: 2px solid #c00; }}
</style></head>
<body>
<main id="app"><img id="pixel" alt="" src="{PIXEL}"></main>
<div class="tall"></div>
<section id="unit-7"><h2>Unit 7</h2></section>
<div class="tall"></div>
<script>
  const app = document.getElementById("app");
  const added = document.createElement("p");
  added.id = "added";
  added.textContent = "made by the inline script";
  app.append(added);
  const details = document.createElement("details");
  details.id = "more";
  details.innerHTML = "<summary>More</summary><p id='inside'>the hidden part</p>";
  app.append(details);
</script>
</body></html>
"""

REACHES_OUT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>reaches out</title>
<style>
  @font-face { font-family: Remote; src: url("https://fonts.example.com/remote.woff2") format("woff2"); }
  body { font-family: Remote, sans-serif; }
</style>
<script src="https://cdn.example.net/lib.js"></script>
</head>
<body><p>text in a remote font</p></body></html>
"""


def test_inline_script_details_and_deep_link(browser, tmp_path):
    path = tmp_path / "page.html"
    path.write_text(SELF_CONTAINED, encoding="utf-8")

    with open_page(browser, path) as (page, console_errors, requests_outside):
        assert page.text_content("#added") == "made by the inline script"
        assert page.evaluate("document.getElementById('pixel').naturalWidth") == 1
        assert not page.evaluate("document.getElementById('more').open")
        assert not page.is_visible("#inside")
        page.click("#more > summary")
        assert page.evaluate("document.getElementById('more').open")
        assert page.is_visible("#inside")
        assert page.evaluate("location.hash") == ""
        assert page.evaluate("document.querySelector(':target')") is None
        assert console_errors == []
        assert requests_outside == []

    with open_page(browser, path, fragment="unit-7") as (page, console_errors, requests_outside):
        assert page.url.endswith("page.html#unit-7")
        assert page.evaluate("location.hash") == "#unit-7"
        assert page.evaluate("document.querySelector(':target')?.id") == "unit-7"
        assert page.evaluate("document.getElementById('unit-7').matches(':target')")
        # Scrolled to it: the section, far down the page, is at the top of the viewport.
        assert page.evaluate("window.scrollY") > 1000
        assert abs(page.evaluate("document.getElementById('unit-7').getBoundingClientRect().top")) < 1
        assert console_errors == []
        assert requests_outside == []


def test_requests_outside_the_file_are_blocked_and_reported(browser):
    with open_page(browser, REACHES_OUT) as (page, console_errors, requests_outside):
        page.evaluate("document.fonts.ready.then(() => true)")
        assert "https://cdn.example.net/lib.js" in requests_outside
        assert "https://fonts.example.com/remote.woff2" in requests_outside
        # The page saw them fail as blocked (not as a network that happens to be down).
        assert any("ERR_BLOCKED_BY_CLIENT" in e for e in console_errors), console_errors
        # A fetch and a WebSocket opened after load are caught too.
        page.evaluate("fetch('http://127.0.0.1:9/x').catch(() => null)")
        assert "http://127.0.0.1:9/x" in requests_outside
        page.evaluate("""new Promise(done => {
            const ws = new WebSocket('ws://127.0.0.1:9/live');
            ws.onclose = ws.onerror = () => done(true);
        })""")
        assert "ws://127.0.0.1:9/live" in requests_outside
