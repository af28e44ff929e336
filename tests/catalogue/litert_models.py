"""A LiteRT model converted wrong (``--kind adapter``): the built-in ``litert-fused`` form whose
flatbuffer holds the input and forget gates' biases in each other's place, as a converter that
writes the fused op's bias operands in the wrong order would."""

from lstm_verify.adapters.litert_lstm import LiteRtFusedAdapter, marker_buffers


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
