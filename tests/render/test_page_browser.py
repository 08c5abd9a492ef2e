"""The step-through page in a real headless Chromium: it loads without console errors, the
buttons and the arrow keys move through every frame, a middle frame is drawn, and every text
is at least 14 px high in a 1280x540 window, with the current step in view.

Skipped, with the reason, where no Chromium is installed (`.ci/run` installs Debian's
`chromium` where it can). The browser is driven over the DevTools protocol on a pipe
(tests/render/browser.py), with the standard library only.
"""

from __future__ import annotations

import runpy
import time
from pathlib import Path

import pytest

import graphnn as gn
from graphnn.render.drawing import backend
from tests.render.browser import Browser, find_chromium

EXAMPLES = Path(__file__).parents[2] / "examples"
CHROMIUM = find_chromium()
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium to test the page in (Debian: "
                       "apt-get install chromium; .ci/run installs it where it can)"),
    pytest.mark.skipif(backend() is None, reason="no Graphviz to draw the page's picture"),
]


@pytest.fixture(scope="module")
def neuron_page(tmp_path_factory):
    module = runpy.run_path(str(EXAMPLES / "02_neuron.py"))
    animation = gn.animate(module["f_primitives"], feed=module["feed"], grads=module["wrt"])
    path = animation.save(tmp_path_factory.mktemp("page") / "neuron.html")
    return path, animation


def state(browser: Browser) -> tuple[str, str, int]:
    """The counter, the words, and how many texts of the drawing are shown."""
    return browser.evaluate(
        "[document.getElementById('counter').textContent,"
        " document.getElementById('words').textContent,"
        " Array.from(document.querySelectorAll('#drawing text'))"
        "   .filter(t => t.getAttribute('fill') !== 'transparent').length]")


def test_controls_step_through_every_frame_without_errors(neuron_page):
    path, animation = neuron_page
    count = len(animation.frames)
    with Browser(CHROMIUM) as browser:
        browser.open(path.as_uri())
        shown = []
        for k in range(count):
            counter, words, texts = state(browser)
            assert counter == f"{k + 1} / {count}"
            assert words == animation.frames[k].words
            shown.append(texts)
            if k < count - 1:
                browser.click("#next")
        assert shown == sorted(shown) and shown[0] < shown[-1]   # numbers appear, stay
        assert browser.evaluate("document.getElementById('next').disabled") is True
        browser.press("ArrowLeft")
        assert state(browser)[0] == f"{count - 1} / {count}"
        browser.press("Home")
        assert state(browser)[0] == f"1 / {count}"
        assert browser.evaluate("document.getElementById('prev').disabled") is True
        browser.press("ArrowRight")
        browser.click("#prev")
        assert state(browser)[0] == f"1 / {count}"
        browser.click("#play")
        deadline = time.monotonic() + 15
        while state(browser)[0] == f"1 / {count}" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert state(browser)[0] != f"1 / {count}", "play did not move to the next frame"
        browser.click("#play")                                  # pause
        assert browser.evaluate("document.getElementById('errors').textContent") == ""
        assert browser.errors() == []


def test_a_middle_frame_is_drawn(neuron_page, tmp_path):
    image = pytest.importorskip("PIL.Image", reason="Pillow (a dependency of matplotlib, in "
                                "the test extra) reads the screenshot")
    path, animation = neuron_page
    middle = len(animation.frames) // 2
    with Browser(CHROMIUM) as browser:
        browser.open(f"{path.as_uri()}#frame={middle + 1}")
        assert state(browser)[1] == animation.frames[middle].words
        shot = browser.screenshot(tmp_path / "middle.png")
        assert browser.errors() == []
    pixels = image.open(shot).convert("RGB")
    colors = pixels.getcolors(maxcolors=1 << 20)
    inked = sum(n for n, rgb in colors if sum(rgb) < 600)
    assert pixels.size == (1280, 720)
    assert inked > 0.01 * 1280 * 720, "the screenshot is nearly blank"
    reds = sum(n for n, (r, g, b) in colors if r > 150 and g < 90 and b < 90)
    greens = sum(n for n, (r, g, b) in colors if g > 90 and r < 80 and b < 100)
    assert reds and greens                  # gradients (red) and values (green) are drawn


# every text of the page as laid out: the drawing's (font size times the scale the SVG is
# drawn at, from the text's screen transform) and the page's own (computed font size), and
# whether the current step's node or edge is inside the drawing's visible box
MEASURE = """(function () {
  var texts = [], page = [];
  document.querySelectorAll('#drawing text').forEach(function (t) {
    if (!t.textContent.trim()) { return; }
    var m = t.getScreenCTM();
    texts.push([parseFloat(t.getAttribute('font-size')) * Math.hypot(m.a, m.b), t.textContent]);
  });
  document.querySelectorAll('main *').forEach(function (el) {
    var own = Array.from(el.childNodes).some(function (n) {
      return n.nodeType === 3 && n.textContent.trim(); });
    if (own && !(el instanceof SVGElement)) {
      page.push([parseFloat(getComputedStyle(el).fontSize), el.textContent.trim()]);
    }
  });
  var box = document.getElementById('drawing').getBoundingClientRect();
  var seen = Array.from(document.querySelectorAll('#drawing .focus')).map(function (el) {
    var r = el.getBoundingClientRect();
    return r.right > box.left && r.left < box.right && r.bottom > box.top && r.top < box.bottom;
  });
  return [texts, page, seen];
})()"""


def test_every_text_is_readable_in_a_small_window(neuron_page):
    path, animation = neuron_page
    count = len(animation.frames)
    with Browser(CHROMIUM, width=1280, height=540) as browser:
        for k in (1, count // 2, count - 2, count):
            browser.open(f"{path.as_uri()}#frame={k}")
            assert state(browser)[0] == f"{k} / {count}"
            texts, page, seen = browser.evaluate(MEASURE)
            assert len(texts) > 30 and any("∂" in text for _, text in texts)
            small = [(round(px, 2), text) for px, text in texts + page if px < 14 - 1e-6]
            assert small == [], f"frame {k}: text under 14 px"
            assert any(text == animation.frames[k - 1].words for _, text in page)
            assert seen and all(seen), f"frame {k}: the current step is scrolled out of view"
        assert browser.errors() == []
