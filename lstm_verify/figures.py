"""The HTML report's figures (matplotlib, Agg backend), and the long-lag measurements they plot.

* :func:`gradient_figure` -- the paper's error-flow argument, measured on each implementation's
  own backward pass: mean |dL/dx_t| against the lag, for it and for the vanilla RNN, over a
  panel of initialisations (:func:`lstm_verify.tasks.input_gradient_profile`).
* :func:`success_figure` -- success rate against the sequence length, LSTM against RNN, for
  delayed XOR, the adding problem and the embedded Reber grammar, from the measurements in
  ``long_lag.json`` (measuring costs minutes, so the report plots the stored numbers).

``python -m lstm_verify.figures --measure torch-lstm,numpy,rnn`` measures the adding problem and
embedded Reber again through those built-in adapters and the reference RNN, and replaces their
rows in ``long_lag.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from lstm_verify.agreement import step_results  # noqa: E402
from lstm_verify.implementation import Implementation, implementation  # noqa: E402
from lstm_verify.params import Case  # noqa: E402
from lstm_verify.tasks import ADDING, REBER, LSTMNet, RNNNet, Task, input_gradient_profile, train_task  # noqa: E402

MEASUREMENTS = Path(__file__).with_name("long_lag.json")
GRADIENT_LAG = 60
GRADIENT_PANEL = 8
RNN_LABEL = "vanilla RNN (reference)"


@dataclass(frozen=True)
class Figure:
    """One figure written beside the report: ``name``.png and ``name``.svg, and what it shows."""

    name: str
    title: str
    caption: str


def _save(fig: plt.Figure, directory: Path, name: str) -> None:
    for ext in ("png", "svg"):
        fig.savefig(directory / f"{name}.{ext}", dpi=110, bbox_inches="tight")
    plt.close(fig)


def _band(ax: plt.Axes, lags: np.ndarray, curves: np.ndarray, label: str, color: str) -> None:
    """Median line and min-max band of ``curves`` (panel, lag); zeros (underflow) are left out."""
    curves = np.where(curves > 0, curves, np.nan)
    ax.fill_between(lags, np.nanmin(curves, axis=0), np.nanmax(curves, axis=0), color=color, alpha=0.2, lw=0)
    ax.plot(lags, np.nanmedian(curves, axis=0), color=color, lw=1.5, label=label)


def gradient_figure(impls: list[Implementation], directory: Path, lag: int = GRADIENT_LAG,
                    panel: int = GRADIENT_PANEL) -> Figure:
    """|dL/dx_t| against the lag for each implementation with gradients and for the vanilla RNN,
    log scale, median and range over ``panel`` initialisations; an implementation whose
    backward fails gets its error message in its panel instead."""
    cols = min(4, max(1, len(impls)))
    rows = max(1, math.ceil(len(impls) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.6 * rows), squeeze=False, sharex=True)
    lags = np.arange(lag)[::-1]
    for ax, impl in zip(axes.flat, impls):
        ax.set_title(impl.id, fontsize=9)
        try:
            profiles = [input_gradient_profile(impl, lag=lag, seed=seed) for seed in range(panel)]
        except Exception as exc:  # the report shows whatever the implementation does
            ax.text(0.5, 0.5, f"no gradients:\n{type(exc).__name__}: {str(exc)[:80]}", ha="center", va="center",
                    fontsize=7, wrap=True, transform=ax.transAxes)
            continue
        _band(ax, lags, np.array([p[1] for p in profiles]), RNN_LABEL, "tab:red")
        _band(ax, lags, np.array([p[0] for p in profiles]), "LSTM (" + impl.id + ")", "tab:blue")
        ax.set_yscale("log")
        ax.grid(alpha=0.3, which="major")
    for k, ax in enumerate(axes.flat):
        if k >= len(impls):
            ax.axis("off")
        elif k + cols >= len(impls):  # the lowest panel in its column
            ax.xaxis.set_tick_params(labelbottom=True)
            ax.set_xlabel("lag T - 1 - t (steps)")
    for ax in axes[:, 0]:
        ax.set_ylabel("mean |dL/dx_t|")
    handles = [plt.Line2D([], [], color="tab:blue", label="LSTM (the implementation)"),
               plt.Line2D([], [], color="tab:red", label=RNN_LABEL)]
    fig.tight_layout()
    fig.legend(handles=handles, loc="lower center", ncol=2, bbox_to_anchor=(0.5, 1.0))
    _save(fig, directory, "gradient_by_lag")
    return Figure("gradient_by_lag", "Error flow: the gradient reaching x_t against the lag",
                  f"Mean |dL/dx_t| of a linear read-out of h_T, T = {lag}, H = 16, batch 8, for each adapter with "
                  f"gradients (its own backward pass, float32 where the run checked it) and for the reference vanilla tanh RNN, from the same "
                  f"initialisation as the early-input-gradient law (forget bias +1): line = median, band = range "
                  f"over {panel} initialisations (seeds 0..{panel - 1}). The RNN's gradient decays exponentially "
                  f"with the lag; the LSTM's is carried by the cell state.")


BOUND_SHAPES = ((9, 3, 1), (7, 9, 8), (31, 32, 33), (8, 129, 129), (7, 257, 257), (8, 512, 511), (32, 1024, 1024))
"""(batch, input, hidden) of the error-bound figure: hidden sizes 1 to 1024 from the size ladder."""


def bound_figure(impls: list[Implementation], directory: Path) -> Figure:
    """Each implementation's largest error as a fraction of its bound (one step, h and c) against
    the hidden size, log-log, with the bound at 1; an implementation that fails to run is left out."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    hidden = [h for _, _, h in BOUND_SHAPES]
    for impl in impls:
        ratios = []
        try:
            for k, shape in enumerate(BOUND_SHAPES):
                ratios.append(max(float((np.abs(np.asarray(got, np.float64) - want) / bound).max())
                                  for _, got, want, bound in step_results(impl, Case(*shape, steps=1, seed=k))))
        except Exception:  # the laws report what went wrong; the figure shows what ran
            continue
        ax.plot(hidden, np.maximum(ratios, 1e-6), marker="o", ms=3, lw=1, label=impl.id)
    ax.axhline(1.0, color="black", lw=1.5, ls="--", label="the error bound")
    ax.set(xscale="log", yscale="log", xlabel="hidden size H", ylabel="max |got - want| / bound")
    ax.grid(alpha=0.3, which="major")
    ax.legend(fontsize=6, ncol=2, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    _save(fig, directory, "error_by_size")
    return Figure("error_by_size", "Error as a fraction of its bound, against the hidden size",
                  "For each implementation (one panel entry per adapter, at the dtype of the gradient figure), the "
                  "largest |got - want| / bound of one step, h and c, at hidden sizes "
                  f"{', '.join(map(str, hidden))} of the size ladder (B and I as in lstm_verify.figures.BOUND_SHAPES). "
                  "The bound comes from the error model (lstm_verify/error_model.py) for the implementation's dtype "
                  "and precision; a correct implementation stays well below 1 at every size, a point above the "
                  "dashed line is a failure of the agreement laws.")


def load_measurements(path: Path = MEASUREMENTS) -> dict:
    """The stored long-lag measurements: ``{task: {"lags", "seeds", "budget", "source", "rates": {net: [..]},
    "seconds": {net: [..]}}}``."""
    return json.loads(path.read_text())


def success_figure(directory: Path, measurements: dict | None = None) -> Figure:
    """Success rate against sequence length, one panel per task, one line per network."""
    measurements = measurements or load_measurements()
    fig, axes = plt.subplots(1, len(measurements), figsize=(4.2 * len(measurements), 3.2), squeeze=False)
    for ax, (task, m) in zip(axes[0], measurements.items()):
        for k, (net, rates) in enumerate(m["rates"].items()):
            rnn = net == RNN_LABEL
            ax.plot(m["lags"], np.array(rates, dtype=float), marker="o", ms=max(3, 8 - 2 * k), ls="--" if rnn else "-",
                    color="tab:red" if rnn else None, label=net)
        ax.set_title(f"{task} ({m['seeds']} seeds)", fontsize=10)
        ax.set_xscale("log")
        ax.set_xticks(m["lags"], [str(lag) for lag in m["lags"]])
        ax.minorticks_off()
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlabel("sequence length T")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0, 0].set_ylabel("share of seeds solved")
    fig.tight_layout()
    _save(fig, directory, "long_lag_success")
    budgets = "; ".join(f"{task}: {m['budget']} ({m['source']})" for task, m in measurements.items())
    return Figure("long_lag_success", "Long-lag tasks: share of seeds solved against the sequence length",
                  f"One training run per seed (Adam through the implementation's own gradients, fresh batches of "
                  f"256, read-out of h_T). {budgets}. Stored measurements (lstm_verify/long_lag.json), not "
                  f"measured by this run; python -m lstm_verify.figures --measure NETS repeats them.")


LENGTHS = [10, 20, 50, 100]
BUDGETS = {ADDING.name: 600, REBER.name: 300}
"""Adam steps of one run: the adding problem needs about 250 at length 50 (torch-lstm)."""


def measure(task: Task, nets: dict[str, LSTMNet | RNNNet], lags: list[int], seeds: int, max_steps: int,
            stored: dict | None = None) -> dict:
    """Success rate and mean seconds per run of one :func:`train_task` run per seed, per net and lag,
    over ``LENGTHS`` (None past ``lags``), merged into the ``stored`` entry's other nets."""
    entry = {"lags": LENGTHS, "rates": {}, "seconds": {}, **(stored or {}), "seeds": seeds,
             "budget": f"one run of at most {max_steps} Adam steps",
             "source": f"measured {time.strftime('%Y-%m-%d')}, 2 shared CPU cores"}
    for name, net in nets.items():
        entry["rates"][name], entry["seconds"][name] = [None] * len(LENGTHS), [None] * len(LENGTHS)
        for k, lag in enumerate(LENGTHS):
            if lag not in lags:
                continue
            runs = [train_task(net, task, lag=lag, max_steps=max_steps, seed=s) for s in range(seeds)]
            entry["rates"][name][k] = float(np.mean([r.solved for r in runs]))
            entry["seconds"][name][k] = round(float(np.mean([r.seconds for r in runs])), 2)
            print(f"{task.name:16} {name:24} T={lag:4}  solved {entry['rates'][name][k]:.2f}  "
                  f"{entry['seconds'][name][k]:.1f} s/run", file=sys.stderr, flush=True)
    return entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lstm_verify.figures", description=__doc__.split("\n\n")[0])
    parser.add_argument("--measure", metavar="NETS", help="built-in adapters (trained in float32) and/or 'rnn' to "
                                                          "measure on adding and Reber, e.g. torch-lstm,rnn; their "
                                                          "rows in long_lag.json are replaced")
    parser.add_argument("--tasks", default=",".join(BUDGETS), help="comma-separated task names")
    parser.add_argument("--max-length", type=int, default=LENGTHS[-1], help="skip longer sequences (left empty)")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--plot", metavar="DIR", help="write the success figure to DIR")
    args = parser.parse_args(argv)
    if args.measure:
        stored = load_measurements()
        nets = {RNN_LABEL if name == "rnn" else f"{name}-float32":
                RNNNet() if name == "rnn" else LSTMNet(implementation(name, "float32"))
                for name in args.measure.split(",")}
        for task in (ADDING, REBER):
            if task.name in args.tasks.split(","):
                stored[task.name] = measure(task, nets, [n for n in LENGTHS if n <= args.max_length], args.seeds,
                                            BUDGETS[task.name], stored.get(task.name))
                MEASUREMENTS.write_text(json.dumps(stored, indent=1) + "\n")
    if args.plot:
        Path(args.plot).mkdir(parents=True, exist_ok=True)
        success_figure(Path(args.plot))
    return 0


if __name__ == "__main__":
    sys.exit(main())
