"""How far TF32 moves a float32 LSTM on a GPU: cuDNN ``nn.LSTM`` and an ``nn.LSTMCell`` loop,
with TF32 allowed and with it off, against the float64 reference.

The kit's CUDA adapters run with TF32 off (torch's cuDNN RNN default is TF32), so float32
is checked against the IEEE float32 error bound (:mod:`lstm_verify.error_model`). This script
measures what that choice is worth, next to the IEEE and TF32 bounds, and shows that the
agreement law catches TF32 left on when IEEE float32 is declared. Needs a GPU:
``python asv_bench/tf32.py [--json PATH]``."""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from lstm_verify import reference
from lstm_verify.adapters._torch import fp32_precision
from lstm_verify.adapters.torch_lstm import TorchLSTMAdapter, TorchLSTMModel
from lstm_verify.checks import LawViolation
from lstm_verify.implementation import Implementation
from lstm_verify.layouts import TARGET_NAMES
from lstm_verify.params import Case
from lstm_verify.error_model import forward_bounds
from properties.test_agreement import test_sequence_agrees_with_reference

SHAPES = {"small (B=5, I=4, H=7, T=8)": (5, 4, 7, 8), "fastrnns (B=64, I=H=512, T=100)": (64, 512, 512, 100)}


class TF32Model(TorchLSTMModel):
    fp32 = "tf32"


class TF32LSTMAdapter(TorchLSTMAdapter):
    """nn.LSTM on the GPU as torch runs it by default: TF32 in cuDNN."""

    def load(self, native, dtype):
        model = super().load(native, dtype)
        return TF32Model(model.module, model.tensors, native, device=self.device)


def relative_error(got: torch.Tensor, want: np.ndarray) -> float:
    got = got.detach().double().cpu().numpy()
    return float((np.abs(got - want) / (1 + np.abs(want))).max())


def measure(batch: int, inputs: int, hidden: int, steps: int) -> dict[str, float]:
    params, xs, h0, c0 = Case(batch, inputs, hidden, steps, seed=0).arrays()
    want = reference.lstm_forward(params, xs, h0, c0)
    lstm = torch.nn.LSTM(inputs, hidden).cuda()
    cell = torch.nn.LSTMCell(inputs, hidden).cuda()
    with torch.no_grad():
        for module, suffix in ((lstm, "_l0"), (cell, "")):
            for name, value in params.items():
                getattr(module, TARGET_NAMES[name] + suffix).copy_(torch.from_numpy(value))
    x, h, c = (torch.from_numpy(a).float().cuda() for a in (xs, h0, c0))
    out = {}
    for mode in ("tf32", "ieee"):
        with torch.no_grad(), fp32_precision(mode):
            hs, (_, c_n) = lstm(x, (h[None], c[None]))
            out[f"cudnn lstm hs, {mode}"] = relative_error(hs, want.hs)
            out[f"cudnn lstm c_T, {mode}"] = relative_error(c_n[0], want.cs[-1])
            state, cell_hs = (h, c), []
            for x_t in x:
                state = cell(x_t, state)
                cell_hs.append(state[0])
            out[f"cell loop hs, {mode}"] = relative_error(torch.stack(cell_hs), want.hs)
    for precision in ("ieee", "tf32"):
        out[f"largest error bound of hs, float32 {precision}"] = float(
            forward_bounds(params, xs, h0, c0, "float32", precision).hs.max())
    return out


def law_catches_tf32() -> str:
    """Run the sequence agreement law on nn.LSTM with TF32 allowed; the violation, if any."""
    try:
        test_sequence_agrees_with_reference(impl=Implementation(TF32LSTMAdapter(name="torch-lstm-cuda-tf32",
                                                                                device="cuda"), "float32"))
    except LawViolation as exc:
        return "caught: " + str(exc).splitlines()[0]
    return "NOT caught"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    figures = {name: measure(*shape) for name, shape in SHAPES.items()}
    figures["law"] = {"test_sequence_agrees_with_reference with TF32 on": law_catches_tf32()}
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}")
    for name, rows in figures.items():
        print(name)
        for key, value in rows.items():
            print(f"  {key:<32} {value:.3g}" if isinstance(value, float) else f"  {key}: {value}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1)


if __name__ == "__main__":
    main()
