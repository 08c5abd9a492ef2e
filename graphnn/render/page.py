"""The step-through as one self-contained web page: no network, no external scripts or fonts.

Stage: rendering. Input: the drawing as SVG, whose numbers are painted in code colours (one
per item: a value, a gradient, a local derivative), the frames and the colour key. Output:
HTML text.

The drawing is inlined once. The page's script gives each coded text its real colour and
shows it from the first frame that has it on; the current step's node or edge is outlined,
and its formula is written above the drawing. Controls: previous, play/pause, next, the arrow
keys (space plays), Home and End; `#frame=N` in the address opens frame N. Any script error
is written into the page (element `#errors`), so a test can read it from the DOM too.

Every text is readable: the page's own at least 15 px, and the drawing's at least
MIN_TEXT_PX (14 px). The controls, the words and the colour key take two lines, and the
drawing fills the rest of the window, scaled as large as fits; where that would make its
smallest text smaller than MIN_TEXT_PX, it is drawn at that size instead and its box scrolls,
each step scrolling its node or edge into view.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Hashable, Mapping, Sequence

from graphnn.render.layout import MIN_TEXT_PX
from graphnn.render.steps import Frame

CODE_BASE = 0xFD0000      # code colours #fd0000, #fd0001, ...: not a colour a drawing uses


class ItemColors:
    """A code colour per numbered item, and the real colour each code stands for."""

    def __init__(self) -> None:
        self.codes: dict[Hashable, str] = {}
        self.real: dict[str, str] = {}

    def code(self, key: Hashable, color: str) -> str:
        code = self.codes.setdefault(key, f"#{CODE_BASE + len(self.codes):06x}")
        self.real[code] = color
        return code


def inline_svg(svg: str) -> str:
    """Graphviz's SVG without its XML prolog, DOCTYPE and comments, to sit inside HTML."""
    svg = re.sub(r"<\?xml[^>]*\?>|<!DOCTYPE[^>]*>|<!--.*?-->", "", svg, flags=re.S)
    return svg.strip()


STYLE = """
body { font-family: Helvetica, Arial, sans-serif; margin: 0; background: #fff; color: #212121; }
main { box-sizing: border-box; height: 100vh; padding: 8px 16px; display: flex;
       flex-direction: column; gap: 4px; }
header { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 14px; }
h1 { font-size: 18px; margin: 0; }
nav { display: flex; gap: 8px; align-items: center; font-size: 16px; }
nav button { font-size: 16px; padding: 3px 12px; }
#counter { min-width: 5.5em; text-align: center; font-variant-numeric: tabular-nums; }
#phase { color: #616161; font-size: 15px; }
#legend { display: flex; flex-wrap: wrap; gap: 2px 16px; font-size: 15px; margin-left: auto; }
#words { font-size: 20px; line-height: 1.3; min-height: 1.3em; }
#drawing { flex: 1 1 0; min-height: 0; overflow: auto; }
#drawing svg { display: block; margin: 0 auto; }
.focus path, .focus polygon, .focus ellipse { stroke: #ef6c00 !important; stroke-width: 3px; }
#errors { color: #b71c1c; white-space: pre-wrap; margin: 0; }
"""

SCRIPT = """
(function () {
  "use strict";
  var errors = document.getElementById("errors");
  window.addEventListener("error", function (e) { errors.textContent += e.message + "\\n"; });
  var frames = JSON.parse(document.getElementById("frames").textContent);
  var items = JSON.parse(document.getElementById("items").textContent);
  var drawing = document.getElementById("drawing");
  var svg = drawing.querySelector("svg");
  var box = svg.viewBox.baseVal;
  var smallest = Infinity;
  svg.querySelectorAll("text").forEach(function (t) {
    if (t.textContent.trim()) {
      smallest = Math.min(smallest, parseFloat(t.getAttribute("font-size")) || 14);
    }
  });
  var least = parseFloat(drawing.getAttribute("data-min-text")) / smallest;
  function fit() {
    // as large as the box allows, but never with text under the least size
    var scale = Math.min(drawing.clientWidth / box.width, drawing.clientHeight / box.height);
    scale = Math.max(scale, isFinite(least) ? least : 0);
    svg.style.width = (box.width * scale) + "px";
    svg.style.height = (box.height * scale) + "px";
  }
  fit();
  window.addEventListener("resize", fit);
  var texts = [];
  document.querySelectorAll("#drawing text").forEach(function (t) {
    var code = (t.getAttribute("fill") || "").toLowerCase();
    if (items.hasOwnProperty(code)) {
      texts.push({el: t, color: items[code][0], from: items[code][1]});
    }
  });
  var current = 0, timer = null;
  function parts(id) {
    return [id, id + "a", id + "b"].map(function (k) { return document.getElementById(k); })
      .filter(function (el) { return el !== null; });
  }
  function show(k) {
    current = Math.max(0, Math.min(frames.length - 1, k));
    texts.forEach(function (t) {
      t.el.setAttribute("fill", t.from <= current ? t.color : "transparent");
    });
    document.querySelectorAll("#drawing .focus").forEach(function (el) {
      el.classList.remove("focus");
    });
    var focused = [];
    frames[current].focus.forEach(function (id) {
      parts(id).forEach(function (el) { el.classList.add("focus"); focused.push(el); });
    });
    if (focused.length) { focused[0].scrollIntoView({block: "nearest", inline: "nearest"}); }
    document.getElementById("words").textContent = frames[current].words;
    document.getElementById("phase").textContent = frames[current].phase;
    document.getElementById("counter").textContent = (current + 1) + " / " + frames.length;
    document.getElementById("prev").disabled = current === 0;
    document.getElementById("next").disabled = current === frames.length - 1;
    history.replaceState(null, "", "#frame=" + (current + 1));
  }
  function play() {
    if (timer !== null) { clearInterval(timer); timer = null; }
    else {
      if (current === frames.length - 1) { show(0); }
      timer = setInterval(function () {
        if (current >= frames.length - 1) { play(); } else { show(current + 1); }
      }, 1400);
    }
    document.getElementById("play").textContent = timer === null ? "play" : "pause";
  }
  document.getElementById("prev").addEventListener("click", function () { show(current - 1); });
  document.getElementById("next").addEventListener("click", function () { show(current + 1); });
  document.getElementById("play").addEventListener("click", play);
  document.addEventListener("keydown", function (e) {
    if (e.key === "ArrowRight" || e.key === "PageDown") { show(current + 1); }
    else if (e.key === "ArrowLeft" || e.key === "PageUp") { show(current - 1); }
    else if (e.key === "Home") { show(0); }
    else if (e.key === "End") { show(frames.length - 1); }
    else if (e.key === " ") { play(); }
    else { return; }
    e.preventDefault();
  });
  var wanted = /frame=(\\d+)/.exec(location.hash);
  show(wanted ? parseInt(wanted[1], 10) - 1 : 0);
})();
"""

PHASES = {"inputs": "forward: the inputs", "forward": "forward pass",
          "seed": "backward pass: the seed", "backward": "backward pass"}


def _json(value: object) -> str:
    """JSON safe inside <script>: no "</" can close the element early."""
    return json.dumps(value, ensure_ascii=False).replace("</", "<\\/")


def page(svg: str, frames: Sequence[Frame], real: Mapping[str, str],
         appears: Mapping[str, int], title: str = "f",
         legend: Sequence[tuple[str, str]] = ()) -> str:
    """The HTML page (see the module docstring) for a coded SVG, its frames and its colour key
    (text, colour)."""
    data = [{"words": f.words, "phase": PHASES[f.phase], "focus": sorted(f.focus)}
            for f in frames]
    items = {code: [real[code], appears[code]] for code in real}
    name = html.escape(title)
    key = "".join(f'<span style="color: {color}">{html.escape(text)}</span>'
                  for text, color in legend)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{name}: backpropagation step by step</title>
<style>{STYLE}</style>
</head>
<body>
<main>
<header>
<h1>{name}: backpropagation step by step</h1>
<nav>
<button id="prev" type="button" title="previous step (←)">previous</button>
<button id="play" type="button" title="play or pause (space)">play</button>
<button id="next" type="button" title="next step (→)">next</button>
<span id="counter">1 / {len(frames)}</span>
<span id="phase"></span>
</nav>
<div id="legend">{key}</div>
</header>
<div id="words" aria-live="polite"></div>
<div id="drawing" data-min-text="{MIN_TEXT_PX}">{inline_svg(svg)}</div>
<pre id="errors"></pre>
</main>
<script type="application/json" id="frames">{_json(data)}</script>
<script type="application/json" id="items">{_json(items)}</script>
<script>{SCRIPT}</script>
</body>
</html>
"""
