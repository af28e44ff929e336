"""The report of ``lstm-verify bench``: a plain-text table and a plot of time per step."""

from __future__ import annotations

from lstm_verify.bench.rows import KNOWN, Row
from lstm_verify.bench.shapes import BASELINES, MODES


def table(rows: list[Row]) -> str:
    """A plain-text table, one line per timed row, then the skipped rows with their reasons."""
    timed = [r for r in rows if r.status != "skipped"]
    bases = [b for b in BASELINES if any(b in r.ratios for r in timed)]
    header = ["implementation", "shape", "device", "dtype", "mode", "us/step", "spread", "GFLOP/s",
              "of peak"] + [f"x {b}" for b in bases] + ["first call", "agrees"]
    lines = [header]
    for r in timed:
        lines.append([r.implementation, r.shape, r.device, r.dtype, r.mode, f"{r.us_per_step:.4g}",
                      f"{r.spread:.0%}", f"{r.gflops:.3g}", _pct(r.peak_fraction)]
                     + [f"{r.ratios[b]:.2f}" if b in r.ratios else "-" for b in bases]
                     + [f"{r.first_call_s * 1e3:.3g} ms",
                        "yes" if r.agreement == "ok" else "known" if r.agreement.startswith(KNOWN) else "NO"])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    notes = ["", "us/step: median microseconds per step (a sequence's time / T); spread: interquartile range / "
             "median; GFLOP/s counts 2*B*4H*(I+H) matmul flops per step forward, 3x that for forward + backward; "
             "of peak: of this device's n=1024 matmul FLOP/s in that dtype, measured in this run; x NAME: time "
             "over that baseline's (> 1 slower); first call: includes JAX's compile."]
    for r in rows:
        if r.status == "WRONG":
            notes.append(f"WRONG {r.implementation} {r.shape} {r.device} {r.dtype} {r.mode}: {r.agreement}")
        elif r.agreement.startswith(KNOWN):
            notes.append(f"known {r.implementation} {r.shape} {r.device} {r.dtype} {r.mode}: "
                         f"{r.agreement.removeprefix(KNOWN)}")
    skipped = sorted({(r.implementation, r.device, r.dtype, r.mode, r.reason) for r in rows if r.status == "skipped"})
    notes += [f"skipped {impl} {device} {dtype} {mode}: {reason}" for impl, device, dtype, mode, reason in skipped]
    return "\n".join(text + notes)


def _pct(value: float) -> str:
    return "-" if value != value else f"{value:.1%}"


def plot(rows: list[Row], prefix: str) -> list[str]:
    """Time per step against hidden size, one line per implementation (device, dtype), one panel
    per mode, with the FLOP floor (flops / measured matmul peak); writes PREFIX.png and PREFIX.svg."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    timed = [r for r in rows if r.status != "skipped"]
    modes = [m for m in MODES if any(r.mode == m for r in timed)]
    fig, axes = plt.subplots(1, max(len(modes), 1), figsize=(5.5 * max(len(modes), 1), 4.5), squeeze=False)
    for ax, mode in zip(axes[0], modes):
        lines: dict[str, list[Row]] = {}
        for r in timed:
            if r.mode == mode:
                lines.setdefault(f"{r.implementation} {r.device} {r.dtype}", []).append(r)
        for label, group in sorted(lines.items()):
            group.sort(key=lambda r: (r.hidden, r.batch))
            wrong = any(r.status == "WRONG" for r in group)
            ax.plot([r.hidden for r in group], [r.us_per_step for r in group], "o-" if not wrong else "x:",
                    label=label + (" (WRONG)" if wrong else ""))
        floors: dict[tuple[str, str], list[Row]] = {}
        for r in timed:
            if r.mode == mode and r.floor_us_per_step == r.floor_us_per_step:
                floors.setdefault((r.device, r.dtype), []).append(r)
        for (device, dtype), group in sorted(floors.items()):
            points = sorted({(r.hidden, r.batch, r.floor_us_per_step) for r in group})
            ax.plot([p[0] for p in points], [p[2] for p in points], "k--", lw=1,
                    label=f"FLOP floor {device} {dtype}")
        ax.set(xscale="log", yscale="log", xlabel="hidden size H", ylabel="microseconds per step",
               title=mode.replace("_", " + "))
        ax.legend(fontsize=7)
    fig.tight_layout()
    paths = [f"{prefix}.png", f"{prefix}.svg"]
    for path in paths:
        fig.savefig(path)
    plt.close(fig)
    return paths
