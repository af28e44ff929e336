"""Nightly: the kit's own verdict time and compile counts, the long-range tracks and the
shapes the per-commit suite leaves out, small-hidden and fastrnns (``asv run --bench '^nightly\\.'``):
minutes each by nature."""
