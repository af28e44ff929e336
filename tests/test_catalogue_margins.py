"""The error bound against the catalogue (``tests/catalogue/margins.py``): each numeric defect misses
it in every dtype and precision the docs say catch it, and each correct entry stays within it.

The NumPy entries only (no library to import or compile: the whole file takes under a minute), at
the small shapes (one step and 8 steps) and at (65, 8, 9) and (256, 16, 17), where the kernel defects
(a blocked body from 8 units, a large-batch path from 64 rows) show; the margins table adds
(8, 129, 129) and (33, 512, 512), which can only raise a defect's margin."""

from __future__ import annotations

import pytest

from tests.catalogue import CATALOGUE
from tests.catalogue.margins import COLUMNS, SHAPES_CHECKED, worst_ratio

SHAPES = tuple(s for s in SHAPES_CHECKED if s[1] < 100)

NUMERIC_DEFECTS = ("hard_sigmoid", "dropped_recurrent_bias", "previous_cell_readout", "float16_accumulation",
                   "batch_leak", "cached_state", "unsquashed_readout", "clipped_cell", "swapped_gate_blocks",
                   "blocked_body", "large_batch_drops_bias", "reused_output")
"""The NumPy entries whose results are off by more than rounding (the others break a law that
is not about values: a shape, an input modified, an exception)."""

UNSEEN = {
    ("float16_accumulation", "float32", "tf32"): "TF32 operands are coarser than float16 accumulation",
    ("float16_accumulation", "float16", "ieee"): "float16 accumulation is the float16 dtype's own arithmetic",
    ("float16_accumulation", "bfloat16", "ieee"): "bfloat16 storage is coarser than float16 accumulation",
}
"""(defect, dtype, precision) where the docs say the bound cannot see the defect, and why."""

CORRECT = ("step", "step_sigmoid_via_tanh")


def _entry(name: str):
    return next(e for e in CATALOGUE if e.target == f"numpy_steps.py:{name}" or e.target == f"numpy_kernels.py:{name}")


def _column_id(column: tuple[str, str]) -> str:
    return "-".join(column)


@pytest.mark.parametrize("column", COLUMNS, ids=_column_id)
@pytest.mark.parametrize("name", NUMERIC_DEFECTS)
def test_numeric_defect_misses_the_bound(name: str, column: tuple[str, str]) -> None:
    ratio = worst_ratio(_entry(name), *column, shapes=SHAPES)
    if (name, *column) in UNSEEN:
        assert ratio <= 1, (f"{name} at {_column_id(column)}: error / bound {ratio:.3g}, documented as unseen "
                            f"({UNSEEN[name, *column]}); the bound now catches it: update the docs and UNSEEN")
    else:
        assert ratio > 1, f"{name} at {_column_id(column)}: error / bound {ratio:.3g}, should be > 1 (caught)"


@pytest.mark.parametrize("column", COLUMNS, ids=_column_id)
@pytest.mark.parametrize("name", CORRECT)
def test_correct_entry_within_the_bound(name: str, column: tuple[str, str]) -> None:
    ratio = worst_ratio(_entry(name), *column, shapes=SHAPES)
    assert ratio <= 1, f"{name} at {_column_id(column)}: error / bound {ratio:.3g}, should be <= 1 (correct)"
