"""LiteRT models converted wrong (``--kind adapter``): the built-in ``litert-fused`` form whose
flatbuffer holds the input and forget gates' biases in each other's place, as a converter that
writes the fused op's bias operands in the wrong order would; ``litert-int8-weights`` with its
every channel's weights dequantized with the first channel's scale, and ``litert-int8`` (full integer)
likewise."""

import numpy as np

from lstm_verify.adapters.litert_lstm import LiteRtFullInt8Adapter, LiteRtFusedAdapter, LiteRtInt8Adapter, marker_buffers
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


class SwappedGateBiases(LiteRtFusedAdapter):
    name = "swapped-gate-biases"

    def convert(self, key: tuple) -> bytes:
        input_size, hidden, _ = key
        model = bytearray(super().convert(key))
        first = 4 * hidden * (input_size + hidden)  # the bias's first marker: b follows the kernels
        starts = {int(index[0]) - first: start for start, index in marker_buffers(bytes(model), first + 4 * hidden)}
        i, f, size = starts[0], starts[hidden], 4 * hidden  # bytes of one gate's float32 bias
        model[i:i + size], model[f:f + size] = model[f:f + size], model[i:i + size]
        return bytes(model)


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
