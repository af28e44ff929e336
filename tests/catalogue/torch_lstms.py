"""nn.LSTM-compatible classes (sequence-first, ``(out, (h_n, c_n))``): hand-written loops and
subclasses of nn.LSTM."""

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence


class LoopedLSTM(nn.Module):
    """Correct: an nn.LSTM's parameters, run as a Python loop of nn.functional ops."""

    def __init__(self, input_size, hidden_size, **options):
        super().__init__()
        for name, value in nn.LSTM(input_size, hidden_size, **options).named_parameters():
            setattr(self, name, value)

    def cell_state(self, c, c0):
        return c

    def readout(self, o, c):
        return o * torch.tanh(c)

    def forward(self, xs, state=None):
        unbatched = xs.dim() == 2
        if unbatched:
            xs = xs[:, None]
            state = None if state is None else (state[0][:, None], state[1][:, None])
        if state is None:
            state = (xs.new_zeros(1, xs.shape[1], self.weight_hh_l0.shape[1]),
                     xs.new_zeros(1, xs.shape[1], self.weight_hh_l0.shape[0] // 4))
        h, c = state[0][0], state[1][0]
        c0, outs = c, []
        for x in xs:
            z = x @ self.weight_ih_l0.T + self.bias_ih_l0 + h @ self.weight_hh_l0.T + self.bias_hh_l0
            i, f, g, o = z.chunk(4, dim=-1)
            c = torch.sigmoid(f) * self.cell_state(c, c0) + torch.sigmoid(i) * torch.tanh(g)
            h = self.readout(torch.sigmoid(o), c)
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


class DetachedChunksLSTM(LoopedLSTM):
    """Runs the sequence in chunks of 300 steps and detaches (h, c) between them, as truncated BPTT
    does in a training loop: the outputs are exact, but no gradient crosses a chunk boundary."""

    chunk = 300

    def forward(self, xs, state=None):
        outs = []
        for start in range(0, len(xs), self.chunk):
            if start:
                state = (state[0].detach(), state[1].detach())
            out, state = super().forward(xs[start:start + self.chunk], state)
            outs.append(out)
        return torch.cat(outs), state


class PaddedNotPackedLSTM(nn.LSTM):
    """Unpacks a packed batch and runs it padded: the padding is read and the final state is
    taken at the padded end (a converter that drops sequence lengths)."""

    def forward(self, input, hx=None):
        if not isinstance(input, PackedSequence):
            return super().forward(input, hx)
        padded, lengths = pad_packed_sequence(input)
        out, state = super().forward(padded, hx)
        return pack_padded_sequence(out, lengths, enforce_sorted=False), state


class UnreversedBackwardLSTM(nn.LSTM):
    """Returns the backward direction's outputs in processing order, not input time order."""

    def forward(self, input, hx=None):
        out, state = super().forward(input, hx)
        if self.bidirectional:
            forward, backward = out.chunk(2, dim=-1)
            out = torch.cat([forward, backward.flip(0)], dim=-1)
        return out, state


class FirstLayerStateLSTM(nn.LSTM):
    """Starts every layer from the initial state given for layer 0."""

    def forward(self, input, hx=None):
        if hx is not None and self.num_layers > 1:
            directions = 2 if self.bidirectional else 1
            hx = tuple(s[:directions].repeat(self.num_layers, 1, 1) for s in hx)
        return super().forward(input, hx)


class LoopedProjectionLSTM(LoopedLSTM):
    """Correct: one layer with an output projection (torch's ``proj_size``), as a Python loop."""

    def __init__(self, input_size, hidden_size, proj_size=0):
        super().__init__(input_size, hidden_size, proj_size=proj_size)
        self.proj_size = proj_size

    def readout(self, o, c):
        h = super().readout(o, c)
        return h @ self.weight_hr_l0.T if self.proj_size else h


class UngatedProjectionLSTM(LoopedProjectionLSTM):
    """Projects tanh(c), leaving out the output gate when a projection is asked for."""

    def readout(self, o, c):
        return torch.tanh(c) @ self.weight_hr_l0.T if self.proj_size else super().readout(o, c)
