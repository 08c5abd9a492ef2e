"""The step-through page in a real headless Chromium: it loads without console errors, the
buttons and the arrow keys move through every frame, and a middle frame is drawn.

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
