"""torch cells and nn.LSTM-compatible sequences whose bug lives where the small shapes never
look: a blocked body, a large-batch path, a strided read, a reused output buffer, windows of a
long sequence. Each is right at the three small shapes of the other laws."""

import torch

from torch_cells import HandWrittenCell  # beside this file: importable in the runner's workers too
from torch_lstms import LoopedLSTM

BLOCK = 32
"""Units per block of the body: one warp."""
LARGE_BATCH = 32
WINDOW = 256
"""Steps per window of the windowed sequence kernel."""


def _contiguous(x: torch.Tensor) -> torch.Tensor:
    """``x`` read through its data pointer as if it were contiguous (as a CUDA kernel does)."""
    strides = [1]
    for size in reversed(x.shape[1:]):
        strides.insert(0, strides[0] * size)
    return torch.as_strided(x, x.shape, strides)


class BlockedBodyCell(HandWrittenCell):
    """Full blocks of 32 units leave the recurrent bias out of the output gate; the tail is right."""

    def forward(self, x, state=None):
        h, c = state if state is not None else self.initial_state(x)
        body = self.hidden_size - self.hidden_size % BLOCK
        bias_hh = self.bias_hh.clone()
        bias_hh[3 * self.hidden_size:3 * self.hidden_size + body] = 0
        z = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + bias_hh
        i, f, g, o = z.chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


class LargeBatchCell(HandWrittenCell):
    """From a batch of 32 on, a GEMM path that forgets ``bias_hh``."""

    def forward(self, x, state=None):
        if x.dim() == 2 and x.shape[0] >= LARGE_BATCH:
            h, c = state if state is not None else self.initial_state(x)
            z = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T
            i, f, g, o = z.chunk(4, dim=-1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            return torch.sigmoid(o) * torch.tanh(c), c
        return super().forward(x, state)


class ContiguousPointerCell(HandWrittenCell):
    """Reads x as if it were contiguous, whatever its strides."""

    def forward(self, x, state=None):
        return super().forward(_contiguous(x), state)


def _into_kept_buffers(module, *results):
    """``results`` copied into output buffers ``module`` keeps from call to call (new ones when a
    shape or dtype changes), and those buffers returned."""
    kept = getattr(module, "out", None)
    if kept is None or [(t.shape, t.dtype) for t in kept] != [(t.shape, t.dtype) for t in results]:
        module.out = kept = tuple(torch.empty_like(t) for t in results)
    with torch.no_grad():
        for buffer, result in zip(kept, results):
            buffer.copy_(result)
    return kept


class ReusedBufferCell(HandWrittenCell):
    """Writes every result into one pair of output buffers it keeps, and returns them."""

    def forward(self, x, state=None):
        return _into_kept_buffers(self, *super().forward(x, state))


class ReusedBufferLSTM(LoopedLSTM):
    """Writes each sequence's outputs into one buffer it keeps and returns it; the final state is
    new each call, so a step (a sequence of one, read through its final state) looks right."""

    def forward(self, xs, state=None):
        out, final = super().forward(xs, state)
        return _into_kept_buffers(self, out)[0], final


class WindowedLSTM(LoopedLSTM):
    """Processes a sequence in windows of 256 steps and starts each window's cell state from
    zero (h is carried): right for every sequence of up to 256 steps."""

    def forward(self, xs, state=None):
        if xs.shape[0] <= WINDOW:
            return super().forward(xs, state)
        out, (h, c) = super().forward(xs[:WINDOW], state)
        rest, (h, c) = self.forward(xs[WINDOW:], (h, torch.zeros_like(c)))
        return torch.cat([out, rest]), (h, c)


class LargeBatchLSTM(LoopedLSTM):
    """From a batch of 128 on, a path that forgets ``bias_hh``."""

    def forward(self, xs, state=None):
        if xs.dim() == 3 and xs.shape[1] >= 128:
            with torch.no_grad():
                saved = self.bias_hh_l0.clone()
                self.bias_hh_l0.zero_()
            try:
                return super().forward(xs, state)
            finally:
                with torch.no_grad():
                    self.bias_hh_l0.copy_(saved)
        return super().forward(xs, state)


class ContiguousPointerLSTM(LoopedLSTM):
    """Reads the sequence as if it were contiguous, whatever its strides."""

    def forward(self, xs, state=None):
        return super().forward(_contiguous(xs), state)
