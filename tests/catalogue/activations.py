"""Each built-in column's activations, read through the cell as ``test_activations_accurate`` reads
them: the largest error over the law's grid, in units ``u`` of the storage format (absolute below 1),
and where it falls. ``python -m tests.catalogue.activations [--adapters a,b]`` prints the table that
docs/error-model.md quotes; columns that cannot load here (a missing library, a Keras back end other
than ``KERAS_BACKEND``'s) are listed as skipped."""

from __future__ import annotations

import argparse

import numpy as np

from lstm_verify.adapters import BUILTIN
from lstm_verify.dtypes import STORAGE
from lstm_verify.error_model import precision
from lstm_verify.implementation import Implementation, implementation
from lstm_verify.probes import activation_grid, exact_activation, probe_cell_activation, probe_gate
from properties.test_gates import ACTIVATION_READS
from tests.catalogue.activation_sweep import in_units


def worst_errors(impl: Implementation) -> dict[str, tuple[float, float]]:
    """Per activation read: (largest error in u, the pre-activation where it is)."""
    operands = precision(impl.precision).operands
    result = {}
    for name, gate, fn in ACTIVATION_READS:
        z = activation_grid(fn, impl.dtype, operands)
        got = probe_gate(impl, gate, z) if gate else probe_cell_activation(impl, z)
        want = exact_activation(fn, z)
        err = in_units(got, want, impl.dtype)
        k = int(np.argmax(err))
        result[name] = (float(err[k]), float(z[k]))
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--adapters", default=",".join(BUILTIN))
    args = parser.parse_args()
    print("| column | dtype | precision | " + " | ".join(name for name, *_ in ACTIVATION_READS) + " |")
    print("| --- | --- | --- | " + " | ".join("---" for _ in ACTIVATION_READS) + " |")
    skipped = []
    for name in args.adapters.split(","):
        for dtype in STORAGE:
            impl = implementation(name, dtype)
            if impl.skip_reason():
                skipped.append(f"{name}-{dtype}")
                continue
            cells = " | ".join(f"{e:.2f} u at {z:+.4g}" for e, z in worst_errors(impl).values())
            print(f"| {name} | {dtype} | {impl.precision} | {cells} |", flush=True)
    print(f"\nskipped here: {', '.join(skipped)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
