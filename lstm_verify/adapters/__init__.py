"""The built-in adapters, imported only when asked for (each needs its own library)."""

from __future__ import annotations

import importlib

from lstm_verify.adapters.base import Adapter, Capabilities, Model, NativeGrads, SequenceModel, State

BUILTIN: dict[str, str] = {
    "numpy": "lstm_verify.adapters.numpy_lstm:NumpyAdapter",
    "torch-cell": "lstm_verify.adapters.torch_cell:TorchCellAdapter",
    "torch-lstm": "lstm_verify.adapters.torch_lstm:TorchLSTMAdapter",
    "torch-cell-cuda": "lstm_verify.adapters.torch_cell:cuda",
    "torch-lstm-cuda": "lstm_verify.adapters.torch_lstm:cuda",
    "paper-cell": "lstm_verify.adapters.paper_cell:PaperCellAdapter",
    "jax": "lstm_verify.adapters.jax_lstm:JaxAdapter",
    "flax-lstm": "lstm_verify.adapters.flax_lstm:linen_lstm",
    "flax-optimized": "lstm_verify.adapters.flax_lstm:linen_optimized",
    "flax-nnx": "lstm_verify.adapters.flax_lstm:nnx_lstm",
    "keras-torch": "lstm_verify.adapters.keras_lstm:torch",
    "keras-tensorflow": "lstm_verify.adapters.keras_lstm:tensorflow",
    "keras-jax": "lstm_verify.adapters.keras_lstm:jax",
    "equinox": "lstm_verify.adapters.equinox_lstm:EquinoxAdapter",
    "onnxruntime": "lstm_verify.adapters.onnxruntime_lstm:OnnxRuntimeAdapter",
    "onnx-reference": "lstm_verify.adapters.onnx_reference:OnnxReferenceAdapter",
    "openvino": "lstm_verify.adapters.openvino_lstm:OpenVinoAdapter",
    "opencv": "lstm_verify.adapters.opencv_lstm:OpenCvAdapter",
    "tract": "lstm_verify.adapters.tract_lstm:TractAdapter",
    "torch-onnx": "lstm_verify.adapters.torch_onnx:TorchOnnxAdapter",
    "torch-onnx-dynamo": "lstm_verify.adapters.torch_onnx:dynamo",
    "haiku": "lstm_verify.adapters.haiku_lstm:HaikuAdapter",
    "tf-block": "lstm_verify.adapters.tf_block:TfBlockAdapter",
    "litert": "lstm_verify.adapters.litert_lstm:LiteRtAdapter",
    "litert-fused": "lstm_verify.adapters.litert_lstm:LiteRtFusedAdapter",
    "litert-int8-weights": "lstm_verify.adapters.litert_lstm:LiteRtInt8Adapter",
    "tf-block-via-tf2onnx": "lstm_verify.adapters.tf2onnx_lstm:TfBlockViaTf2Onnx",
    "keras-tensorflow-via-tf2onnx": "lstm_verify.adapters.keras_tf2onnx:KerasViaTf2Onnx",
    "keras-tensorflow-via-tflite": "lstm_verify.adapters.keras_tflite:KerasViaTflite",
}


class MissingAdapter(Adapter):
    """Stands in for an adapter whose library is not installed: every check skips with the reason."""

    def __init__(self, name: str, reason: str) -> None:
        self.name, self.reason = name, reason

    def unavailable(self) -> str | None:
        return self.reason

    def load(self, native: dict, dtype: str) -> Model:
        raise RuntimeError(self.reason)


def builtin_adapter(name: str) -> Adapter:
    """The built-in adapter ``name``; a :class:`MissingAdapter` when its library is absent."""
    module, _, cls = BUILTIN[name].partition(":")
    try:
        return getattr(importlib.import_module(module), cls)()
    except ImportError as exc:
        return MissingAdapter(name, f"{exc.name or exc} is not installed")


__all__ = ["BUILTIN", "Adapter", "Capabilities", "MissingAdapter", "Model", "NativeGrads", "SequenceModel", "State",
           "builtin_adapter"]
