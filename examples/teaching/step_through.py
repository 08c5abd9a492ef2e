"""Backpropagation step by step, and slide-shaped drawings: the pictures of docs/rendering.md.

gn.animate turns the lecture's circuit f = (x + y) z into frames: the inputs, one value per
forward step, the seed, then one gradient per edge. Writes:

    01_scalar_expression_steps.html   the step-through page (open it in a browser)
    step_through_strip.png            four of its frames with their words
    slide_neuron_primitives.svg       the neuron's circuit of primitives, layout="slide"
    slide_mlp_gradient.svg            the MLP's gradient graph, layout="slide"

Run: python examples/teaching/step_through.py [DIRECTORY]   (default: out/)
"""

from __future__ import annotations

import io
import os
import runpy
import sys
from pathlib import Path

import graphnn as gn
from graphnn.render.pictures import render
from graphnn.render.plots import pyplot

EXAMPLES = Path(__file__).parents[1]
STRIP = (1, 2, 4, 6)            # frames of f = (x + y) z: q, f, ∂f/∂q, ∂f/∂x (0-based)


def circuit_animation() -> gn.animate:
    module = runpy.run_path(str(EXAMPLES / "01_scalar_expression.py"))
    return gn.animate(module["f"], feed=module["feed"], grads=module["wrt"])


def strip(animation, path: Path) -> Path:
    """Four frames, one above the other, each captioned with its step in words."""
    plt = pyplot()
    figure, axes = plt.subplots(len(STRIP), 1, figsize=(9, 2.6 * len(STRIP)), dpi=110)
    for ax, k in zip(axes, STRIP):
        image = plt.imread(io.BytesIO(animation.rendering(k).pipe("png")), format="png")
        ax.imshow(image)
        ax.set_title(f"frame {k + 1} of {len(animation.frames)}: {animation.frames[k].words}",
                     fontsize=10, loc="left")
        ax.axis("off")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def slides(directory: Path) -> list[Path]:
    neuron = runpy.run_path(str(EXAMPLES / "02_neuron.py"))
    mlp = runpy.run_path(str(EXAMPLES / "04_mlp.py"))
    return [
        render(neuron["f_primitives"], feed=neuron["feed"], grads=neuron["wrt"],
               layout="slide").save(directory / "slide_neuron_primitives.svg"),
        render(mlp["loss"], feed=mlp["feed"], grads=mlp["wrt"], view="gradient",
               layout="slide").save(directory / "slide_mlp_gradient.svg"),
    ]


def main(directory: str | os.PathLike = "out") -> list[Path]:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    animation = circuit_animation()
    print(animation.text())
    written = [animation.save(directory / "01_scalar_expression_steps.html"),
               strip(animation, directory / "step_through_strip.png"), *slides(directory)]
    for path in written:
        print("wrote", path)
    return written


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("GRAPHNN_OUT", "out"))
