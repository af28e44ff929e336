"""torch cells as users write them: ``Cls(input_size, hidden_size)`` with nn.LSTMCell's
parameters, called as ``cell(x, (h, c))``. ``HandWrittenCell`` and ``ChunkedGatesCell`` are
correct; the others carry one real bug each."""

import torch
from torch import nn


class HandWrittenCell(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.zeros(4 * hidden_size))
        self.bias_hh = nn.Parameter(torch.zeros(4 * hidden_size))
        for w in (self.weight_ih, self.weight_hh):
            nn.init.uniform_(w, -hidden_size ** -0.5, hidden_size ** -0.5)

    def initial_state(self, x):
        zeros = x.new_zeros(*x.shape[:-1], self.hidden_size)
        return zeros, zeros

    def carry(self, h, c):
        return h, c

    def sigmoid(self, z):
        return torch.sigmoid(z)

    def forward(self, x, state=None):
        h, c = self.carry(*(state if state is not None else self.initial_state(x)))
        z = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh
        i, f, g, o = z.chunk(4, dim=-1)
        c = self.sigmoid(f) * c + self.sigmoid(i) * torch.tanh(g)
        return self.sigmoid(o) * torch.tanh(c), c


class ChunkedGatesCell(HandWrittenCell):
    """Correct but unusual: one fused matmul over [x, h], sigmoid as (1 + tanh(z/2)) / 2."""

    def sigmoid(self, z):
        return 0.5 * (1 + torch.tanh(0.5 * z))

    def forward(self, x, state=None):
        h, c = state if state is not None else self.initial_state(x)
        w = torch.cat([self.weight_ih, self.weight_hh], dim=1)
        z = torch.cat([x, h], dim=-1) @ w.T + (self.bias_ih + self.bias_hh)
        i, f, g, o = (z[..., k * self.hidden_size:(k + 1) * self.hidden_size] for k in range(4))
        c = torch.addcmul(self.sigmoid(f) * c, self.sigmoid(i), torch.tanh(g))
        return self.sigmoid(o) * torch.tanh(c), c


class DetachedCarryCell(HandWrittenCell):
    def carry(self, h, c):
        return h, c.detach()


class TruncatedBPTTCell(HandWrittenCell):
    """Detaches the whole state every step (truncated BPTT of length 1)."""

    def carry(self, h, c):
        return h.detach(), c.detach()


class _SigmoidWrongGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z):
        s = torch.sigmoid(z)
        ctx.save_for_backward(s)
        return s

    @staticmethod
    def backward(ctx, grad):
        (s,) = ctx.saved_tensors
        return grad * s  # forgets the (1 - s) factor


class WrongBackwardCell(HandWrittenCell):
    """A custom sigmoid kernel with a hand-written backward that is wrong."""

    def sigmoid(self, z):
        return _SigmoidWrongGrad.apply(z)


class CachedStateCell(HandWrittenCell):
    """Without a state, resumes from the last one it returned (stateful by accident)."""

    def forward(self, x, state=None):
        if state is None and getattr(self, "_last", None) is not None and self._last[0].shape[:-1] == x.shape[:-1]:
            state = self._last
        out = super().forward(x, state)
        self._last = tuple(t.detach() for t in out)
        return out


class KeepsBatchAxisCell(HandWrittenCell):
    """Promotes unbatched input to a batch of one and never removes the axis again."""

    def forward(self, x, state=None):
        if x.dim() == 1:
            x = x[None]
            state = None if state is None else (state[0][None], state[1][None])
        return super().forward(x, state)


class DropoutLeftOnCell(HandWrittenCell):
    """Dropout on the hidden state, left on at inference."""

    def forward(self, x, state=None):
        h, c = super().forward(x, state)
        return nn.functional.dropout(h, p=0.01, training=True), c
