"""The step-through as one self-contained web page: no network, no external scripts or fonts.

Stage: rendering. Input: the drawing as SVG, whose numbers are painted in code colours (one
per item: a value, a gradient, a local derivative), and the frames. Output: HTML text.

The drawing is inlined once. The page's script gives each coded text its real colour and
shows it from the first frame that has it on; the current step's node or edge is outlined,
and its formula is written under the drawing. Controls: previous, play/pause, next, the arrow
keys (space plays), Home and End; `#frame=N` in the address opens frame N. Any script error
is written into the page (element `#errors`), so a test can read it from the DOM too.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Hashable, Mapping, Sequence

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
main { max-width: 1280px; margin: 0 auto; padding: 12px 16px; }
h1 { font-size: 20px; margin: 4px 0 8px; }
#drawing svg { width: 100%; height: auto; max-height: 72vh; }
#words { font-size: 22px; min-height: 2.6em; margin: 8px 0; }
#phase { color: #616161; font-size: 15px; }
nav { display: flex; gap: 8px; align-items: center; font-size: 16px; }
nav button { font-size: 16px; padding: 4px 14px; }
#counter { min-width: 6em; text-align: center; font-variant-numeric: tabular-nums; }
.focus path, .focus polygon, .focus ellipse { stroke: #ef6c00 !important; stroke-width: 3px; }
#errors { color: #b71c1c; white-space: pre-wrap; }
"""

SCRIPT = """
(function () {
  "use strict";
  var errors = document.getElementById("errors");
  window.addEventListener("error", function (e) { errors.textContent += e.message + "\\n"; });
  var frames = JSON.parse(document.getElementById("frames").textContent);
  var items = JSON.parse(document.getElementById("items").textContent);
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
    frames[current].focus.forEach(function (id) {
      parts(id).forEach(function (el) { el.classList.add("focus"); });
    });
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
         appears: Mapping[str, int], title: str = "f") -> str:
    """The HTML page (see the module docstring) for a coded SVG and its frames."""
    data = [{"words": f.words, "phase": PHASES[f.phase], "focus": sorted(f.focus)}
            for f in frames]
    items = {code: [real[code], appears[code]] for code in real}
    name = html.escape(title)
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
<h1>{name}: backpropagation step by step</h1>
<nav>
<button id="prev" type="button" title="previous step (←)">previous</button>
<button id="play" type="button" title="play or pause (space)">play</button>
<button id="next" type="button" title="next step (→)">next</button>
<span id="counter">1 / {len(frames)}</span>
<span id="phase"></span>
</nav>
<div id="words" aria-live="polite"></div>
<div id="drawing">{inline_svg(svg)}</div>
<pre id="errors"></pre>
</main>
<script type="application/json" id="frames">{_json(data)}</script>
<script type="application/json" id="items">{_json(items)}</script>
<script>{SCRIPT}</script>
</body>
</html>
"""
