"""tract (Sonos' Rust inference engine, its ``tract`` Python package) running one ONNX ``LSTM``
node on the CPU.

tract's ONNX front end (``onnx/src/ops/rec/lstm.rs``, ``common.rs``) expands the node into a
``Scan`` over a sigmoid/tanh/tanh cell, reading ``layout``, the optional inputs and outputs and
the number of directions (W's first dimension). It refuses what the kit then skips: float64
("LstmEpilogue only supports f32 and f16 preactivations, got F64") and a ``sequence_lens`` that
is a graph input ("Non constant seq_len is not supported"). A model is typed for the feeds'
shapes (``set_input_fact``) and compiled (``into_model().into_runnable()``) once per shape."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import tract

from lstm_verify.adapters._onnx import ACTIVATION_ATTRIBUTES, UNCLIPPED, UNCOUPLED, OnnxAdapter, Run
from lstm_verify.expected import Expected

DATUM = {"float32": "f32", "float64": "f64", "int32": "i32"}
"""tract's name for each dtype a feed has, in an input fact (``"2,3,f32"``)."""


class TractAdapter(OnnxAdapter):
    """``tract.onnx().load`` of the node, typed with the feeds' shapes and dtypes."""

    name = "tract"
    requires = ("onnx", "tract")
    dtypes = ("float32",)
    measured = "tract==0.23.9"
    ignored_by = "tract's ONNX front end (onnx/src/ops/rec/lstm.rs and common.rs read none of them)"
    ignores = {
        "direction=reverse": "direction='reverse' runs forward: over x = [1, 0] with g = tanh(x), Y = [0.1817, "
                             "0.0941] and Y_h = 0.0941, the forward run's, where the specification gives Y = [0.1817, "
                             "0] and Y_h = Y[0] = 0.1817",
        "clip": UNCLIPPED,
        "input_forget": UNCOUPLED,
        ACTIVATION_ATTRIBUTES: "the cell is always sigmoid/tanh/tanh: g = Relu with b_g = 3, c_0 = 1 gives c_1 = "
                               "0.9975 = 0.5 + 0.5 tanh(3) where Relu gives 2",
    }

    def __init__(self, opset: int = 22, layout_attr: int = 0, name: str | None = None) -> None:
        super().__init__(opset, layout_attr, name)
        self.capabilities = replace(self.capabilities, lengths=False)

    def precision(self, dtype: str) -> str:
        """tract's sigmoid and tanh are rational approximations: measured with tract 0.23.9 on 400k
        float32 points of [-20, 20] (its ``Sigmoid`` and ``Tanh`` ops), sigmoid is up to 8 u and tanh
        up to 10 u off (u = 2^-24; tanh(-20) = -0.9999994 where float32's is -1), beyond the 3 u and
        3.5 to 7.5 u an IEEE float32 sigmoid and tanh may be (:data:`~lstm_verify.error_model.OWN_ULPS`). The cell's fused
        LstmEpilogue approximates them too, 18 u off through the cell (``test_activations_accurate``'s
        probe; its sigmoid never reaches 1: the known difference below).
        Found when the error model's worst case tightened the bound of a small step: a c near 0 from
        two O(1) terms, 1.3-1.4 times the IEEE bound."""
        return "approximate-activations"

    def known_differences(self, dtype: str) -> list[Expected]:
        return [*super().known_differences(dtype), Expected(
            "test_exact_cec_carry", match=r"^c_T\[", versions=self.measured,
            reason="its sigmoid never reaches 1 (its fused LstmEpilogue's approximation): with b_f = 1e4, g = 0 "
                   "and c_0 = 1, c_25 = 0.999988 where float32's sigmoid(1e4) = 1 carries c exactly (tract 0.23.9)"),
            Expected("test_batch_major_equals_time_major", versions=self.measured,
                     raises=r"ImplementationError: .*Output mismatch after rewiring expansion for output #0",
                     reason="layout=1 with two directions is refused while typing the model: 'Output mismatch after "
                            "rewiring expansion for output #0: expected 1,1,2,3,F32 got 1,2,1,3,F32' (its Y's "
                            "direction and time axes swapped; one direction runs right) (tract 0.23.9)")]

    def compile(self, model: onnx.ModelProto) -> Run:
        data = model.SerializeToString()
        runnables: dict[tuple, tuple[list[str], tract.Runnable]] = {}

        def runnable(feeds: dict[str, np.ndarray]) -> tuple[list[str], tract.Runnable]:
            key = tuple((k, v.shape, v.dtype.str) for k, v in sorted(feeds.items()))
            if key not in runnables:
                with tempfile.TemporaryDirectory() as folder:  # tract's Python package loads from files only
                    path = Path(folder) / "lstm.onnx"
                    path.write_bytes(data)
                    inference = tract.onnx().load(str(path))
                names = [inference.input_name(k) for k in range(inference.input_count())]
                for k, name in enumerate(names):
                    value = feeds[name]
                    inference.set_input_fact(k, ",".join([*map(str, value.shape), DATUM[value.dtype.name]]))
                runnables[key] = names, inference.into_model().into_runnable()
            return runnables[key]

        def run(feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
            try:
                names, compiled = runnable(feeds)
                return [out.to_numpy() for out in compiled.run([feeds[n] for n in names])]
            except tract.TractError as exc:  # its message and causes on one line, without the Rust backtrace
                causes = str(exc).split("Stack backtrace")[0].splitlines()
                raise tract.TractError(" | ".join(c.strip() for c in causes if c.strip())) from None
        return run
