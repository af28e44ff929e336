"""LiteRT models converted wrong (``--kind adapter``): the built-in ``litert-fused`` form whose
flatbuffer holds the input and forget gates' biases in each other's place, as a converter that
writes the fused op's bias operands in the wrong order would; ``litert-int8-weights`` with its
every channel's weights dequantized with the first channel's scale, and ``litert-int8`` (full integer)
likewise."""

import numpy as np

from lstm_verify.adapters.litert_lstm import (LiteRtFullInt8Adapter, LiteRtFusedAdapter, LiteRtInt8Adapter,
                                              marker_buffers)
from lstm_verify.layouts import Native
from ai_edge_litert import schema_py_generated as schema


def int8_scale_vectors(model: bytearray) -> list[np.ndarray]:
    """Writable views of the scale vector of every int8 tensor of the flatbuffer ``model``."""
    root, found = schema.Model.GetRootAs(model, 0), []
    for s in range(root.SubgraphsLength()):
        graph = root.Subgraphs(s)
        for t in range(graph.TensorsLength()):
            tensor = graph.Tensors(t)
            if tensor.Type() == schema.TensorType.INT8 and tensor.Quantization() is not None:
                found.append(tensor.Quantization().ScaleAsNumpy())
    return found


def swapped_gate_biases(model: bytes, input_size: int, hidden: int) -> bytes:
    """``model`` (converted with marker parameters) with the float32 biases of gates i and f in each
    other's place, wherever its buffers hold them: one bias tensor (the ``WHILE`` form) or one per
    gate (the fused op). The bias's markers follow the kernels'."""
    first = 4 * hidden * (input_size + hidden)
    where = {int(n): start + 4 * k for start, index in marker_buffers(model, first + 4 * hidden)
             for k, n in enumerate(index)}
    i, f, size = where[first], where[first + hidden], 4 * hidden
    swapped = bytearray(model)
    swapped[i:i + size], swapped[f:f + size] = model[f:f + size], model[i:i + size]
    return bytes(swapped)


class SwappedGateBiases(LiteRtFusedAdapter):
    name = "swapped-gate-biases"

    def convert(self, key: tuple) -> bytes:
        return swapped_gate_biases(super().convert(key), *key[:2])


class FirstChannelScale(LiteRtInt8Adapter):
    """``litert-int8-weights`` whose every output channel is dequantized with channel 0's scale, as a
    kernel that reads a per-channel quantized weight as per-tensor (``quantized_dimension`` ignored)
    would: each channel's weights off by the ratio of its row's largest magnitude to row 0's."""

    name = "first-channel-scale"

    def build(self, native: Native, key: tuple, quantize: bool = False) -> bytes:
        model = bytearray(super().build(native, key, quantize))
        for scales in int8_scale_vectors(model):
            scales[:] = scales[0]
        return bytes(model)


class FullInt8FirstChannelScale(LiteRtFullInt8Adapter):
    """``litert-int8`` whose every weight channel is dequantized with channel 0's scale (as
    :class:`FirstChannelScale`; the activations' per-tensor scales are left alone)."""

    name = "full-int8-first-channel-scale"

    def quantized(self, native: Native, data: tuple[np.ndarray, ...]) -> bytes:
        model = bytearray(super().quantized(native, data))
        for scales in int8_scale_vectors(model):
            scales[:] = scales[0]
        return bytes(model)
