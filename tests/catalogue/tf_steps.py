"""TensorFlow steps as users write them: ``step(params, x, (h, c)) -> (h, c)`` on TF tensors, with
torch-named params (``--kind tf-step``), or TensorFlow's own fused storage (``--layout tf1``)."""

import tensorflow as tf

from lstm_verify import Variant, capabilities

FORGET_BIAS = 1.0
"""What ``LSTMBlockCell`` and ``BlockLSTM`` add to the forget gate by default (``--layout tf1``)."""


def step(params, x, state, sigmoid=tf.sigmoid):
    h, c = state
    z = (tf.matmul(x, params["weight_ih"], transpose_b=True) + params["bias_ih"]
         + tf.matmul(h, params["weight_hh"], transpose_b=True) + params["bias_hh"])
    i, f, g, o = tf.split(z, 4, axis=-1)
    c = sigmoid(f) * c + sigmoid(i) * tf.tanh(g)
    return sigmoid(o) * tf.tanh(c), c


def detached_carry_step(params, x, state):
    """``tf.stop_gradient`` on the carried cell state: the forward is exact, the error no longer
    flows back along the carousel (the TF twin of torch_cells.DetachedCarryCell)."""
    h, c = state
    return step(params, x, (h, tf.stop_gradient(c)))


@tf.custom_gradient
def _sigmoid(z):
    s = tf.sigmoid(z)

    def backward(g):
        return g * s  # forgets the (1 - s) factor
    return s, backward


def wrong_custom_gradient_step(params, x, state):
    """A sigmoid with a hand-written ``tf.custom_gradient`` that is wrong: the forward is exact
    (the TF twin of torch_cells.WrongBackwardCell)."""
    return step(params, x, state, sigmoid=_sigmoid)


def block_step(params, x, state, forget_bias=FORGET_BIAS, cell_clip=-1.0, peepholes=None):
    """TensorFlow's fused ``BlockLSTM`` over one step, in its own storage (``--layout tf1``: kernel
    (I+H, 4H) over [x, h], gates i, ci, f, o, ``forget_bias`` added to f by the op); the cell clip
    off unless given (the op's default clips the cell at 3); ``peepholes`` its ``(wci, wcf, wco)``."""
    h, c = state
    zeros = tf.zeros_like(c[0])
    wci, wcf, wco = (zeros,) * 3 if peepholes is None else peepholes
    out = tf.raw_ops.BlockLSTM(seq_len_max=tf.constant(1, tf.int64), x=x[None], cs_prev=c, h_prev=h,
                               w=params["weight"], wci=wci, wcf=wcf, wco=wco, b=params["bias"],
                               forget_bias=forget_bias, cell_clip=cell_clip, use_peephole=peepholes is not None)
    return out.h[0], out.cs[0]


CELL_CLIP = 1.0


def cell_clip_block_step(params, x, state):
    """``block_step`` with ``cell_clip=1``, declaring nothing: correct when checked with ``--variant
    clip=1:cell`` (TensorFlow clips the cell state itself), wrong as the plain LSTM."""
    return block_step(params, x, state, cell_clip=CELL_CLIP)


@capabilities(variant=Variant(peepholes=True), dtypes=("float16", "float32"))
def peephole_block_step(params, x, state):
    """Correct: ``BlockLSTM(use_peephole=True, forget_bias=0)`` (``--layout tf1-fb0``), its
    ``wci, wcf, wco`` the blocks of ``weight_peephole`` in the layout's order i, f, o."""
    return block_step(params, x, state, forget_bias=0.0, peepholes=tf.split(params["weight_peephole"], 3))


@capabilities(variant=Variant(peepholes=True), dtypes=("float16", "float32"))
def onnx_order_peephole_block_step(params, x, state):
    """``peephole_block_step`` reading ``weight_peephole`` in ONNX's order i, o, f (code ported from
    an ONNX model's P): the forget gate gets o's peephole and o gets f's."""
    wci, wco, wcf = tf.split(params["weight_peephole"], 3)
    return block_step(params, x, state, forget_bias=0.0, peepholes=(wci, wcf, wco))


def forget_bias_twice_step(params, x, state):
    """``block_step`` fed a bias that already holds the forget bias (a checkpoint converted from a
    cell that folds it in), while the op adds it again: the forget gate reads z + 2."""
    i, g, f, o = tf.split(params["bias"], 4)
    return block_step({**params, "bias": tf.concat([i, g, f + FORGET_BIAS, o], 0)}, x, state)
