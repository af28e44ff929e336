"""nn.LSTM-compatible classes (one layer, sequence-first, ``(out, (h_n, c_n))``)."""

import torch
from torch import nn


class LoopedLSTM(nn.Module):
    """Correct: an nn.LSTM's parameters, run as a Python loop of nn.functional ops."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        ref = nn.LSTM(input_size, hidden_size)
        self.weight_ih_l0, self.weight_hh_l0 = ref.weight_ih_l0, ref.weight_hh_l0
        self.bias_ih_l0, self.bias_hh_l0 = ref.bias_ih_l0, ref.bias_hh_l0
        self.hidden_size = hidden_size

    def cell_state(self, c, c0):
        return c

    def forward(self, xs, state=None):
        unbatched = xs.dim() == 2
        if unbatched:
            xs = xs[:, None]
            state = None if state is None else (state[0][:, None], state[1][:, None])
        if state is None:
            zeros = xs.new_zeros(1, xs.shape[1], self.hidden_size)
            state = (zeros, zeros)
        h, c = state[0][0], state[1][0]
        c0, outs = c, []
        for x in xs:
            z = x @ self.weight_ih_l0.T + self.bias_ih_l0 + h @ self.weight_hh_l0.T + self.bias_hh_l0
            i, f, g, o = z.chunk(4, dim=-1)
            c = torch.sigmoid(f) * self.cell_state(c, c0) + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outs.append(h)
        out, h, c = torch.stack(outs), h[None], c[None]
        if unbatched:
            out, h, c = out[:, 0], h[:, 0], c[:, 0]
        return out, (h, c)


class ResettingLSTM(LoopedLSTM):
    """Restarts every step from the initial cell state: the carry is lost."""

    def cell_state(self, c, c0):
        return c0


class IgnoresInitialCellLSTM(LoopedLSTM):
    """Starts every call from c = 0, whatever cell state it is handed (h is honoured)."""

    def forward(self, xs, state=None):
        if state is not None:
            state = (state[0], torch.zeros_like(state[1]))
        return super().forward(xs, state)


class ReversedSequenceLSTM(LoopedLSTM):
    """Runs multi-step sequences back to front (a direction mix-up); single steps are right."""

    def forward(self, xs, state=None):
        out, final = super().forward(xs.flip(0), state)
        return out.flip(0), final
