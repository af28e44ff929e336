"""One runner per built-in adapter, of the same shape (after PyTorch's benchmarks/fastrnns):
``step()``, ``forward()`` and ``forward_backward()`` on data already on the device, each
returning only when the work is done (CUDA synchronised, JAX blocked until ready).

The runners load parameters through the adapters' own loading code and then call the
library natively, so the timings are the library's, not the kit's NumPy conversions."""

from __future__ import annotations

import os

import numpy as np

from lstm_verify.adapters import BUILTIN, builtin_adapter
from lstm_verify.params import Case

ADAPTERS = [name for name in BUILTIN if not name.endswith("-cuda")]
"""The built-in adapters; the device is a benchmark parameter of its own."""
SHAPES = {
    # name: (batch, input, hidden, steps)
    "fastrnns": (64, 512, 512, 100),
    "streaming": (1, 64, 128, 100),
    "large-batch": (1024, 128, 128, 20),
}
DEVICES = ["cpu", "cuda"]
BENCHMARKED = os.environ.get("LSTM_BENCH_DEVICES", ",".join(DEVICES)).split(",")
"""The devices this machine benchmarks: on a GPU machine whose CPU numbers are not wanted,
``LSTM_BENCH_DEVICES=cuda`` records the cpu parameters as skipped (the grid stays the same)."""


def flops_per_step(batch: int, input_size: int, hidden: int) -> float:
    """Matmul flops of one LSTM step: 2 * B * 4H * (I + H)."""
    return 2.0 * batch * 4 * hidden * (input_size + hidden)


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


class Runner:
    def __init__(self, adapter_name: str, shape: str, device: str, dtype: str = "float32") -> None:
        """Raises NotImplementedError (asv: skipped) where the adapter or device is missing."""
        if device not in BENCHMARKED:
            raise NotImplementedError(f"{device} is not benchmarked on this machine (LSTM_BENCH_DEVICES)")
        adapter = builtin_adapter(adapter_name)
        reason = adapter.unavailable() or adapter.unsupported(dtype)
        if reason:
            raise NotImplementedError(reason)
        if device == "cuda" and not (adapter.requires == ("torch",) and cuda_available()):
            raise NotImplementedError("no CUDA device (or the adapter does not run on one)")
        batch, input_size, hidden, steps = SHAPES[shape]
        params, xs, h0, c0 = Case(batch, input_size, hidden, steps, seed=0).arrays()
        gh, gc = Case(batch, input_size, hidden, steps, seed=0).loss_weights()
        native = adapter.layout.to_native(params, dtype, np.random.default_rng(0))
        model = adapter.load(native, dtype)
        arrays = [np.asarray(a, dtype) for a in (xs, h0, c0, gh, gc)]
        if "torch" in adapter.requires:
            self._torch(model, arrays, device)
        elif adapter.requires == ("jax",):
            self._jax(model, arrays)
        else:
            self._numpy(model, arrays)

    def _numpy(self, model, arrays) -> None:
        xs, h0, c0, gh, gc = arrays
        self.step = lambda: model.step(xs[0], (h0, c0))
        self.forward = lambda: model.sequence(xs, (h0, c0))
        self.forward_backward = lambda: model.grads(xs, h0, c0, gh, gc)

    def _jax(self, model, arrays) -> None:
        import jax
        import jax.numpy as jnp

        xs, h0, c0, gh, gc = (jnp.asarray(a) for a in arrays)
        fns, params = model.fns, model.params
        self.step = lambda: jax.block_until_ready(fns.step(params, xs[0], h0, c0))
        self.forward = lambda: jax.block_until_ready(fns.sequence(params, xs, h0, c0))
        self.forward_backward = lambda: jax.block_until_ready(fns.grads(params, xs, h0, c0, gh, gc))
        for fn in (self.step, self.forward, self.forward_backward):
            fn()  # compile outside the timed region

    def _torch(self, model, arrays, device: str) -> None:
        import torch

        from lstm_verify.adapters._torch import set_fp32_precision

        module = model.module.to(device)
        xs, h0, c0, gh, gc = (torch.from_numpy(a).to(device) for a in arrays)
        sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
        if device == "cuda":  # float32 timed as the kit checks it, TF32 off (asv: one process per benchmark)
            set_fp32_precision("ieee")

        def step():
            with torch.no_grad():
                model.run(xs[:1], (h0, c0))
            sync()

        def forward():
            with torch.no_grad():
                model.run(xs, (h0, c0))
            sync()

        def forward_backward():
            hs, (_, c) = model.run(xs, (h0, c0))
            ((hs * gh).sum() + (c * gc).sum()).backward()
            module.zero_grad(set_to_none=True)
            sync()

        self.step, self.forward, self.forward_backward = step, forward, forward_backward
        forward_backward()  # warm up (cuDNN plans, allocator)
