"""Runners, after fastrnns' ``factory.py``: every implementation loaded at one shape, device and
dtype behind the same interface (:class:`Runner`), built by :func:`make_runner`."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from lstm_verify.adapters import Adapter
from lstm_verify.bench.hardware import Unavailable, jax_gpu, torch_cuda
from lstm_verify.bench.shapes import Shape
from lstm_verify.layouts import canonical_grads
from lstm_verify.params import Case


class Runner:
    """One implementation loaded at one shape, device and dtype, with its data on the device.

    ``calls[mode]()`` runs step / forward / forward + backward natively and returns the raw
    output; ``outputs(mode, raw)`` turns it into NumPy arrays for the agreement check.
    ``cuda_events``: time with CUDA events rather than the wall clock."""

    cuda_events = False
    problem: Problem

    def __init__(self) -> None:
        self.calls: dict[str, Callable[[], Any]] = {}

    def outputs(self, mode: str, raw: Any) -> dict[str, np.ndarray]:
        raise NotImplementedError


class Problem:
    """The float64 case a shape is benchmarked on (``case``, the one the output is checked on), and
    the implementation's parameters for it."""

    def __init__(self, adapter: Adapter, shape: Shape, dtype: str) -> None:
        self.case = Case(*shape, seed=0)
        self.params, self.xs, self.h0, self.c0 = self.case.arrays()
        self.gh, self.gc = self.case.loss_weights()
        self.native = adapter.layout.to_native(self.params, storage_dtype(dtype), np.random.default_rng(0))
        self.layout, self.input_size = adapter.layout, shape.input_size

    def inputs(self, dtype: str) -> list[np.ndarray]:
        return [np.asarray(a, storage_dtype(dtype)) for a in (self.xs, self.h0, self.c0, self.gh, self.gc)]

    def grads(self, native_grads: dict, x: Any, h0: Any, c0: Any) -> dict[str, np.ndarray]:
        g = canonical_grads(self.layout, native_grads, x, h0, c0, self.input_size)
        return {f"dL/d{name}": value for name, value in g.items()}


def storage_dtype(dtype: str) -> str:
    """The NumPy dtype arrays are handed over in: bfloat16 travels as float32 (NumPy has none)."""
    return "float32" if dtype == "bfloat16" else dtype


class ModelRunner(Runner):
    """Any :class:`~lstm_verify.adapters.Model` through its NumPy interface (NumPy steps, the
    reference's own port, bidirectional wrappers): step, its sequence API or a step loop, grads."""

    def __init__(self, model: Any, problem: Problem, dtype: str, has_sequence: bool, has_grads: bool) -> None:
        super().__init__()
        xs, h0, c0, gh, gc = problem.inputs(dtype)
        self.problem = problem

        def forward() -> Any:
            if has_sequence:
                return model.sequence(xs, (h0, c0))
            hs, state = [], (h0, c0)
            for x in xs:
                state = model.step(x, state)
                hs.append(state[0])
            return np.stack(hs), state

        self.calls = {"step": lambda: model.step(xs[0], (h0, c0)), "forward": forward}
        if has_grads:
            self.calls["forward_backward"] = lambda: model.grads(xs, h0, c0, gh, gc)

    def outputs(self, mode: str, raw: Any) -> dict[str, np.ndarray]:
        if mode == "step":
            return {"h": np.asarray(raw[0]), "c": np.asarray(raw[1])}
        if mode == "forward":
            return {"hs": np.asarray(raw[0]), "c_T": np.asarray(raw[1][1])}
        return self.problem.grads(raw.params, raw.x, raw.h0, raw.c0)


class TorchRunner(Runner):
    """A :class:`~lstm_verify.adapters._torch.TorchModel` called natively through ``run`` on
    device-resident tensors; gradients by ``torch.autograd.grad`` (nothing accumulates)."""

    def __init__(self, model: Any, problem: Problem, device: str, dtype: str) -> None:
        import torch

        super().__init__()
        self.problem, self.device = problem, device
        if device != "cpu":
            model.module.to(device)
            model.device = device
            self.cuda_events = True
        tdtype = getattr(torch, dtype)
        xs, h0, c0, gh, gc = (torch.from_numpy(a).to(device=device, dtype=tdtype) for a in problem.inputs(dtype))
        leaves = [a.clone().requires_grad_(True) for a in (xs, h0, c0)]
        wrt = leaves + list(model.tensors.values())

        def step() -> Any:
            with torch.no_grad(), model.precision():
                return model.run(xs[:1], (h0, c0))[1]

        def forward() -> Any:
            with torch.no_grad(), model.precision():
                return model.run(xs, (h0, c0))

        def forward_backward() -> Any:
            with model.precision():
                hs, (_, c) = model.run(leaves[0], (leaves[1], leaves[2]))
                loss = (hs * gh).sum() + (c * gc).sum()
                return torch.autograd.grad(loss, wrt, allow_unused=True)

        self.calls = {"step": step, "forward": forward, "forward_backward": forward_backward}
        self.model, self.names = model, list(model.tensors)

    def outputs(self, mode: str, raw: Any) -> dict[str, np.ndarray]:
        def array(t: Any) -> np.ndarray:
            return t.detach().double().cpu().numpy()  # exact from every dtype; .float() rounded float64

        if mode == "step":
            return {"h": array(raw[0]), "c": array(raw[1])}
        if mode == "forward":
            return {"hs": array(raw[0]), "c_T": array(raw[1][1])}
        x, h0, c0, *params = raw
        native = {name: array(g) if g is not None else np.zeros(tuple(t.shape))
                  for (name, t), g in zip(self.model.tensors.items(), params)}
        return self.problem.grads(native, array(x), array(h0), array(c0))


class CudaGraphRunner(TorchRunner):
    """The same torch cell loop, step and forward each captured once in a CUDA graph and replayed."""

    def __init__(self, model: Any, problem: Problem, device: str, dtype: str) -> None:
        import torch

        super().__init__(model, problem, device, dtype)
        graphed = {}
        for mode in ("step", "forward"):
            call = self.calls[mode]
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(3):  # warm up on a side stream, as torch.cuda.graph requires
                    call()
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                out = call()
            graphed[mode] = (lambda g, o: lambda: (g.replay(), o)[1])(graph, out)
        self.calls = graphed  # forward + backward is not captured


class JaxRunner(Runner):
    """A :class:`~lstm_verify.adapters.jax_step.JaxModel`'s jitted functions on device arrays,
    blocked until ready. On a GPU float32 matmuls run at ``precision="highest"`` (not TF32)."""

    def __init__(self, model: Any, problem: Problem, device: str, dtype: str) -> None:
        import jax

        super().__init__()
        self.problem = problem
        target = jax.devices("cpu")[0] if device == "cpu" else jax_gpu()
        if target is None:
            raise Unavailable("JAX sees no GPU")
        fns, names = model.fns, model.names
        params = jax.device_put(model.params, target)
        xs, h0, c0, gh, gc = jax.device_put(problem.inputs(dtype), target)

        def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[[], Any]:
            def call() -> Any:
                with jax.default_matmul_precision("highest"):
                    return jax.block_until_ready(fn(params, *args, **kwargs))
            return call

        self.calls = {"step": run(jax.jit(fns.cell), xs[0], h0, c0),
                      "forward": run(fns.sequence, xs, h0, c0, None, reverse=False),
                      "forward_backward": run(fns.grads, xs, h0, c0, gh, gc)}
        self.back = {v: k for k, v in names.items()}

    def outputs(self, mode: str, raw: Any) -> dict[str, np.ndarray]:
        if mode == "step":
            return {"h": np.asarray(raw[0]), "c": np.asarray(raw[1])}
        if mode == "forward":
            return {"hs": np.asarray(raw[0]), "c_T": np.asarray(raw[1][1])}
        gp, gx, gh0, gc0 = raw
        native = {self.back[k]: np.asarray(v) for k, v in gp.items()}
        return self.problem.grads(native, np.asarray(gx), np.asarray(gh0), np.asarray(gc0))


def make_runner(adapter: Adapter, shape: Shape, device: str, dtype: str, graph: bool = False) -> Runner:
    """Load ``adapter`` at ``shape`` on ``device`` in ``dtype``; :class:`Unavailable` says why not."""
    reason = adapter.unavailable() or adapter.unsupported(dtype)
    if reason:
        raise Unavailable(reason)
    problem = Problem(adapter, shape, dtype)
    model = adapter.load(problem.native, dtype)
    if _is_torch_model(model):
        import torch

        if device == "cuda" and not (torch_cuda() and isinstance(model.module, torch.nn.Module)):
            raise Unavailable("no CUDA device for torch (or not a torch module)")
        if graph:
            if device != "cuda":
                raise Unavailable("CUDA graphs need a CUDA device")
            return CudaGraphRunner(model, problem, device, dtype)
        return TorchRunner(model, problem, device, dtype)
    if "jax" in adapter.requires:
        from lstm_verify.adapters.jax_step import JaxModel

        if isinstance(model, JaxModel):
            return JaxRunner(model, problem, device, dtype)
    if device != "cpu":
        raise Unavailable(f"{adapter.name} runs on the CPU only")
    caps = adapter.capabilities
    return ModelRunner(model, problem, dtype, caps.sequence, caps.gradients)


def _is_torch_model(model: Any) -> bool:
    try:
        from lstm_verify.adapters._torch import TorchModel
    except ImportError:
        return False
    return isinstance(model, TorchModel)
