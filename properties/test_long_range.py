"""Long-range laws: what the LSTM is for, through the implementation's own gradients."""

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from lstm_verify.checks import check
from properties import skip_if_undecided, stop_training
from lstm_verify.tasks import early_input_gradients, solve_xor

LAG = 60
DOMINANCE = 1e4
PANEL = 20
XOR_ATTEMPTS = 8


@pytest.mark.requires("gradients")
@settings(max_examples=5, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(seed=st.integers(0, 2**32 - 1))
def test_early_input_gradient_dominance(impl, seed):
    """At lag 60, from the usual initialisation (forget bias +1), the gradient reaching the
    first input through the LSTM exceeds the vanilla RNN's by at least 10^4, in the median
    over 20 random initialisations.

    This is the vanishing-gradient problem and the carousel fixing it, measured on the
    implementation's own backward pass. It is a statement about typical initialisations,
    not every one: over 1000 seeds the ratio's median is 5e10 but 1% of seeds fall below
    10^4 (the smallest at 3), so a single seed would make a false claim. Each example is a
    panel of 20 initialisations, so a few examples suffice and a failing panel is not
    shrunk (a smaller seed explains nothing)."""
    ratios = sorted(lstm / rnn for lstm, rnn in (early_input_gradients(impl, lag=LAG, seed=seed + k)
                                                 for k in range(PANEL)))
    median = (ratios[PANEL // 2 - 1] + ratios[PANEL // 2]) / 2
    check(median >= DOMINANCE, f"median over {PANEL} initialisations of mean |dL/dx_0| (LSTM) / (RNN) is "
                               f"{median:.3g} (min {ratios[0]:.3g}), but should be >= {DOMINANCE:g}",
          impl, f"seeds {seed}..{seed + PANEL - 1}, lag={LAG}")


@pytest.mark.requires("training")
def test_delayed_xor_solvable(impl, seed=0):
    """Trained on delayed XOR at lag 60 (Adam through the implementation's own forward and
    gradients), the LSTM reaches >= 0.95 held-out accuracy within 8 runs of 150 steps.

    An implementation whose backward is subtly wrong can pass gradient spot checks and still
    not learn; this is the end-to-end check that it does. One run solved the task on 28 of
    40 seeds, hence the restarts (README, "Delayed XOR"). A run whose training loss is still
    at chance after 75 steps stops there and the next starts (every solving run had left
    chance by step 45); a non-finite training loss, which a correct LSTM's bounded output
    cannot produce, ends the check. Once another law has failed the implementation in this
    run, no further run starts and the check is skipped as undecided (``lstm_verify.board``).
    Not a hypothesis test: the seeds are fixed, and a failure is not replayed."""
    law = "test_delayed_xor_solvable"
    results = solve_xor(impl, lag=LAG, attempts=XOR_ATTEMPTS, seed=seed, stop=stop_training(impl, law))
    skip_if_undecided(impl, law, results, XOR_ATTEMPTS)
    runs = ", ".join(f"{r.score:.3f} ({r.outcome} after {r.steps})" for r in results)
    check(results[-1].solved, f"held-out accuracy per run (how it ended after how many Adam steps): {runs}, "
                              f"but one of up to {XOR_ATTEMPTS} runs should reach >= 0.95", impl,
          f"lag={LAG}, seeds {seed}..{seed + XOR_ATTEMPTS - 1}")
