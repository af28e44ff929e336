"""Keras 3 ``keras.layers.LSTM`` and ``keras.layers.Bidirectional`` on each Keras back end: one
column per back end (``keras-torch``, ``keras-tensorflow``, ``keras-jax``).

``kernel`` (I, 4H), ``recurrent_kernel`` (H, 4H) and one ``bias`` (4H), gate blocks i, f, c, o
(keras/src/layers/rnn/lstm.py): :data:`~lstm_verify.layouts.KERAS`. Keras fixes its back end when
it is imported, from ``KERAS_BACKEND``: each column declares it as its :attr:`~Adapter.environment`,
and ``lstm-verify check`` runs each back end's column in a pytest session of its own. This module
imports no Keras: the runner and the pytest controller read the adapters without fixing a back end;
a model's code (:mod:`~lstm_verify.adapters._keras` and the back end's own module) is imported by
:meth:`KerasAdapter.load`, in a worker whose ``KERAS_BACKEND`` is the column's.
"""

from __future__ import annotations

import importlib.metadata
from types import ModuleType

from lstm_verify.adapters.base import Adapter, Capabilities, Model
from lstm_verify.dtypes import STORAGE
from lstm_verify.expected import Expected
from lstm_verify.layouts import KERAS, Native

LIBRARIES = {"torch": ("torch", "torch"), "tensorflow": ("tensorflow", "tensorflow-cpu"), "jax": ("jax", "jax")}
"""Back end -> (its module, its pip distribution)."""

MASKED_FLOAT64 = Expected(
    "test_variable_lengths", versions="keras==3.15.1",
    match=r"(length \d+\)|of row \d+).*is [0-9.e+]+ x the error bound of float64",
    reason="with a mask Keras runs LSTMCell.call, whose keras.ops.matmul computes float64 in float32 on the torch "
           "back end (result_type maps float64 to float32 outside TensorFlow, keras-team/keras#23704): errors ~1e-8; "
           "the unmasked path uses torch.matmul and is exact")
JAX_FLOAT64_LAWS = ("test_step_agrees_with_reference", "test_sequence_agrees_with_reference", "test_gate_order",
                    "test_default_state_is_zeros", "test_batch_rows_independent", "test_cell_loop_equals_sequence",
                    "test_step_independent_of_memory_layout", "test_sequence_independent_of_memory_layout",
                    "test_gradients_agree_with_bptt", "test_variable_lengths",
                    "test_reverse_equals_forward_on_reversed_input", "test_bidirectional",
                    "test_streaming_equals_whole", "test_step_agrees_at_kernel_sizes",
                    "test_sequence_agrees_at_kernel_sizes", "test_gradients_agree_at_kernel_sizes",
                    "test_long_sequence_agrees_with_reference", "test_long_sequence_streamed_in_chunks",
                    "test_long_sequence_gradients_agree_with_bptt", "test_activations_accurate")
"""The keras-jax float64 laws measured failing: every law that compares values with the reference's
(a whole-suite run, ci profile, keras 3.15.1, jax 0.10.2: 21 laws; the other 11 it runs pass;
test_default_state_is_zeros since the error model's worst-case track, its errors of 7e-10 at
h of 0.01 then 9e5 x the float64 bound)."""
JAX_FLOAT64 = [Expected(law, versions="keras==3.15.1",
                        match=r"\(\|diff\| = [0-9.]+e-(0[4-9]|[1-9]\d) is [0-9.e+]+ x the error bound of float64",
                        reason="on JAX every path runs LSTMCell.call (no fused CPU kernel), and keras.ops.tanh casts "
                               "float64 to result_type(float64, float), float32 outside TensorFlow "
                               "(keras-team/keras#23704): errors of float32's rounding, under 1e-4 (tanh(1) = "
                               "0.76159417629, float64's 0.76159415596), up to 1e8 x the float64 bound")
               for law in JAX_FLOAT64_LAWS]

class KerasAdapter(Adapter):
    """``keras.layers.LSTM`` (and one ``Bidirectional`` layer) on the Keras back end ``backend``;
    gradients by that back end's autodiff through the layer (torch autograd, ``tf.GradientTape``,
    ``jax.vjp``)."""

    layout = KERAS
    capabilities = Capabilities(gradients=True, training=True, sequence=True, lengths=True, reverse=True,
                                bidirectional=True, dtypes=STORAGE)

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.name = f"keras-{backend}"
        self.requires = ("keras", LIBRARIES[backend][0])
        self.environment = {"KERAS_BACKEND": backend}

    def version(self) -> str:
        """Keras's version and its back end's, from the distributions (importing neither)."""
        versions = []
        for distribution in ("keras", LIBRARIES[self.backend][1]):
            try:
                versions.append(f"{distribution} {importlib.metadata.version(distribution)}")
            except importlib.metadata.PackageNotFoundError:
                versions.append(f"{distribution} (no distribution metadata)")
        return ", ".join(versions)

    def unsupported(self, dtype: str) -> str | None:
        if self.backend == "jax" and dtype == "float64":
            import jax  # (not Keras: the back end stays unfixed)

            if not jax.config.jax_enable_x64:
                return "JAX x64 is off: float64 would silently compute in float32 (set JAX_ENABLE_X64=1)"
        return super().unsupported(dtype)

    def known_differences(self, dtype: str) -> list[Expected]:
        """keras-team/keras#23704 where it was measured: torch's masked path, every JAX path; TensorFlow
        keeps float64 (none of its float64 checks failed, the masked path included)."""
        if dtype != "float64":
            return []
        return {"torch": [MASKED_FLOAT64], "jax": JAX_FLOAT64}.get(self.backend, [])

    def _models(self) -> ModuleType:
        """The back end's model code, imported on first use. The imports are written out (not built
        from the name) so that the verdict store, which follows them, digests these files too."""
        if self.backend == "torch":
            import lstm_verify.adapters._keras_torch
            return lstm_verify.adapters._keras_torch
        if self.backend == "tensorflow":
            import lstm_verify.adapters._keras_tensorflow
            return lstm_verify.adapters._keras_tensorflow
        import lstm_verify.adapters._keras_jax
        return lstm_verify.adapters._keras_jax

    def load(self, native: Native, dtype: str) -> Model:
        return self._models().load([native], dtype)

    def load_stack(self, layers: list[list[Native]], dtype: str) -> Model:
        if len(layers) != 1 or len(layers[0]) != 2 or "w_hr" in layers[0][0]:
            raise NotImplementedError("keras builds one bidirectional layer, without projection")
        return self._models().load(layers[0], dtype)


def torch() -> KerasAdapter:
    return KerasAdapter("torch")


def tensorflow() -> KerasAdapter:
    return KerasAdapter("tensorflow")


def jax() -> KerasAdapter:
    return KerasAdapter("jax")
