"""The catalogue: implementations written the way users write them (loadable as TARGETs),
each defective one modelled on a real bug class and listed with the laws it breaks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lstm_verify.implementation import Implementation
from lstm_verify.targets import target_adapter

HERE = Path(__file__).parent


@dataclass(frozen=True)
class Entry:
    target: str
    """``file.py:attr`` inside this folder."""
    kind: str
    breaks: tuple[str, ...] = ()
    """The properties it must fail; empty for a correct implementation."""
    dtype: str = "float64"
    layout: str | None = None
    """``--layout``: a named layout or a gate-block order; None for torch's."""

    @property
    def spec(self) -> str:
        return str(HERE / self.target)

    @property
    def id(self) -> str:
        """The test id: the target, and its dtype."""
        return f"{self.target}-{self.dtype}"

    @property
    def library(self) -> str | None:
        """The optional library its kind needs: the kit's tests skip the entry where it is absent."""
        return OPTIONAL_LIBRARIES.get(self.kind)

    @property
    def name(self) -> str:
        return self.target.rpartition(":")[2]

    def implementation(self, time_limit: float = 30.0, layout: str | None = None) -> Implementation:
        return Implementation(target_adapter(self.spec, self.kind, layout or self.layout), self.dtype, time_limit)


N, T, L, J, TF = "numpy-step", "torch-cell", "torch-lstm", "jax-step", "tf-step"
OPTIONAL_LIBRARIES = {TF: "tensorflow"}
"""Not in the ``test`` extra: CI installs ``all``, a contributor may not have it."""
STEP_AGREES = "test_step_agrees_with_reference"
KERNEL_STEP = "test_step_agrees_at_kernel_sizes"

CATALOGUE = [
    Entry("numpy_steps.py:step", N),
    Entry("numpy_steps.py:step_sigmoid_via_tanh", N, dtype="float32"),
    Entry("torch_cells.py:HandWrittenCell", T),
    Entry("torch_cells.py:ChunkedGatesCell", T, dtype="float32"),
    Entry("torch_lstms.py:LoopedLSTM", L),
    Entry("torch_lstms.py:LoopedProjectionLSTM", L, dtype="float32"),
    Entry("jax_steps.py:step", J, dtype="float32"),
    Entry("numpy_steps.py:hard_sigmoid", N, ("test_gate_ranges", STEP_AGREES)),
    Entry("numpy_steps.py:dropped_recurrent_bias", N, (STEP_AGREES,)),
    Entry("numpy_steps.py:early_saturating_tanh", N, ("test_activations_accurate",), "float32"),
    Entry("numpy_steps.py:clamped_tanh", N, ("test_activations_accurate",)),
    Entry("numpy_steps.py:previous_cell_readout", N, (STEP_AGREES,)),
    Entry("numpy_steps.py:float16_accumulation", N, (STEP_AGREES,), "float32"),
    Entry("numpy_steps.py:batch_leak", N, ("test_batch_rows_independent",)),
    Entry("numpy_steps.py:squeezed_batch", N, ("test_state_shapes",)),
    Entry("numpy_steps.py:in_place_update", N, ("test_inputs_not_modified",)),
    Entry("numpy_steps.py:cached_state", N, ("test_no_state_between_calls",)),
    Entry("numpy_steps.py:unsquashed_readout", N, ("test_saturation_finite_and_bounded",)),
    Entry("numpy_steps.py:clipped_cell", N, ("test_exact_cec_carry",)),
    Entry("numpy_steps.py:overflowing_tanh", N, ("test_saturation_finite_and_bounded",)),
    Entry("numpy_steps.py:upcast_output", N, ("test_dtype_preserved",), "float32"),
    Entry("numpy_steps.py:swapped_gate_blocks", N, ("test_gate_order", STEP_AGREES)),
    Entry("numpy_steps.py:raises", N, (STEP_AGREES,)),
    Entry("numpy_steps.py:hangs", N, (STEP_AGREES,)),
    Entry("numpy_steps.py:returns_nan", N, (STEP_AGREES,)),
    Entry("torch_cells.py:DetachedCarryCell", T, ("test_exact_cec_jacobian", "test_gradients_agree_with_bptt",
                                                  "test_early_input_gradient_dominance")),
    Entry("torch_cells.py:TruncatedBPTTCell", T, ("test_gradients_agree_with_bptt", "test_delayed_xor_solvable"),
          "float32"),
    Entry("torch_cells.py:WrongBackwardCell", T, ("test_gradients_agree_with_bptt",)),
    Entry("torch_cells.py:CachedStateCell", T, ("test_default_state_is_zeros",)),
    Entry("torch_cells.py:KeepsBatchAxisCell", T, ("test_unbatched_input",)),
    Entry("torch_lstms.py:ResettingLSTM", L, ("test_sequence_agrees_with_reference",)),
    Entry("torch_lstms.py:IgnoresInitialCellLSTM", L, ("test_streaming_equals_whole",)),
    Entry("torch_lstms.py:ReversedSequenceLSTM", L, ("test_cell_loop_equals_sequence",)),
    Entry("torch_cells.py:DropoutLeftOnCell", T, ("test_deterministic",)),
    Entry("torch_lstms.py:DetachedChunksLSTM", L, ("test_long_sequence_gradients_agree_with_bptt",), "float32"),
    Entry("torch_lstms.py:PaddedNotPackedLSTM", L, ("test_variable_lengths",)),
    Entry("torch_lstms.py:UnreversedBackwardLSTM", L, ("test_bidirectional",)),
    Entry("torch_lstms.py:FirstLayerStateLSTM", L, ("test_stack_equals_composed_layers",)),
    Entry("torch_lstms.py:UngatedProjectionLSTM", L, ("test_projection",), "float32"),
    Entry("jax_steps.py:squeezed_step", J, ("test_state_shapes",), "float32"),
    Entry("jax_steps.py:detached_carry_step", J, ("test_exact_cec_jacobian", "test_gradients_agree_with_bptt",
                                                  "test_early_input_gradient_dominance")),
    Entry("jax_steps.py:bfloat16_matmul_step", J, (STEP_AGREES,), "float32"),
    Entry("jax_steps.py:wrong_backward_step", J, ("test_gradients_agree_with_bptt",)),
    Entry("numpy_kernels.py:blocked_body", N, (KERNEL_STEP,)),
    Entry("numpy_kernels.py:large_batch_drops_bias", N, (KERNEL_STEP,)),
    Entry("numpy_kernels.py:contiguous_reader", N, ("test_step_independent_of_memory_layout",)),
    Entry("numpy_kernels.py:reused_output", N, ("test_results_not_overwritten",)),
    Entry("torch_kernels.py:BlockedBodyCell", T, (KERNEL_STEP, "test_gradients_agree_at_kernel_sizes"), "float32"),
    Entry("torch_kernels.py:LargeBatchCell", T, (KERNEL_STEP,)),
    Entry("torch_kernels.py:ContiguousPointerCell", T, ("test_step_independent_of_memory_layout",), "float32"),
    Entry("torch_kernels.py:ReusedBufferCell", T, ("test_results_not_overwritten",), "bfloat16"),
    Entry("torch_kernels.py:ReusedBufferLSTM", L, ("test_results_not_overwritten",), "float32"),
    Entry("torch_kernels.py:WindowedLSTM", L, ("test_long_sequence_agrees_with_reference",
                                              "test_long_sequence_streamed_in_chunks"), "float32"),
    Entry("torch_kernels.py:LargeBatchLSTM", L, ("test_sequence_agrees_at_kernel_sizes",)),
    Entry("torch_kernels.py:ContiguousPointerLSTM", L, ("test_sequence_independent_of_memory_layout",)),
    Entry("jax_kernels.py:blocked_body_step", J, (KERNEL_STEP,), "float32"),
    Entry("jax_kernels.py:large_batch_step", J, (KERNEL_STEP,), "bfloat16"),
    Entry("numpy_kernels.py:windowed_sequence", N, ("test_long_sequence_agrees_with_reference",)),
    Entry("jax_kernels.py:windowed_sequence_step", J, ("test_long_sequence_agrees_with_reference",), "float32"),
    Entry("torch_cells.py:HandWrittenCell", T, dtype="bfloat16"),
    Entry("torch_cells.py:ChunkedGatesCell", T, dtype="float16"),
    Entry("torch_lstms.py:LoopedLSTM", L, dtype="bfloat16"),
    Entry("jax_steps.py:step", J, dtype="bfloat16"),
    Entry("jax_steps.py:step", J, dtype="float16"),
    Entry("jax_steps.py:step", J, dtype="float64"),
    Entry("torch_lstms.py:LoopedLSTM", L, dtype="float16"),
    Entry("haiku_steps.py:step", J, dtype="float32", layout="haiku"),
    Entry("haiku_steps.py:forgotten_forget_offset", J, ("test_gate_order", STEP_AGREES), "float32", "haiku"),
    Entry("numpy_steps.py:declared_step", N),
    Entry("numpy_steps.py:storage_step", N, dtype="bfloat16"),
    Entry("numpy_steps.py:storage_step", N, dtype="float16"),
    Entry("numpy_steps.py:promoting_bfloat16_step", N, ("test_dtype_preserved",), "bfloat16"),
    Entry("numpy_kernels.py:blocked_body_in_storage", N, (KERNEL_STEP,), "bfloat16"),
    Entry("numpy_steps.py:nonzero_default_state", N, ("test_default_state_is_zeros",)),
    Entry("numpy_steps.py:float64_default_state", N, ("test_dtype_preserved",), "float32"),
    Entry("numpy_steps.py:continuing_default_state", N, ("test_default_state_is_zeros",)),
    Entry("numpy_steps.py:stateful_sequence", N, ("test_no_state_between_calls",)),
    Entry("numpy_steps.py:float64_sequence_outputs", N, ("test_dtype_preserved",), "float32"),
    Entry("jax_steps.py:declared_step", J, dtype="float32"),
    Entry("numpy_steps.py:spec_clip_step", N),
    Entry("numpy_steps.py:cell_clip_step", N),
    Entry("numpy_steps.py:gates_only_clip_step", N, (STEP_AGREES,)),
    Entry("numpy_steps.py:peephole_step", N),
    Entry("numpy_steps.py:dropped_forget_peephole", N, (STEP_AGREES, "test_peepholes_agree_with_reference",
                                                       "test_peephole_order")),
    Entry("jax_steps.py:peephole_cell_clip_step", J, dtype="float32"),
    Entry("jax_steps.py:frozen_peephole_step", J, ("test_gradients_agree_with_bptt",), "float32"),
    Entry("tf_steps.py:peephole_block_step", TF, dtype="float32", layout="tf1-fb0"),
    Entry("tf_steps.py:onnx_order_peephole_block_step", TF, (STEP_AGREES, "test_peepholes_agree_with_reference",
                                                            "test_peephole_order"), "float32", "tf1-fb0"),
    Entry("tf_steps.py:step", TF, dtype="float32"),
    Entry("tf_steps.py:detached_carry_step", TF, ("test_exact_cec_jacobian", "test_gradients_agree_with_bptt",
                                                 "test_early_input_gradient_dominance")),
    Entry("tf_steps.py:wrong_custom_gradient_step", TF, ("test_gradients_agree_with_bptt",)),
    Entry("tf_steps.py:forget_bias_twice_step", TF, ("test_gate_order", STEP_AGREES), "float32", "tf1"),
]
CORRECT = [e for e in CATALOGUE if not e.breaks]
DEFECTIVE = [e for e in CATALOGUE if e.breaks]
