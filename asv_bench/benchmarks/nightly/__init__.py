"""Nightly: the kit's own verdict time and compile counts, the long-range tracks and the fastrnns size
(``asv run --bench '^nightly\\.'``): minutes each by nature."""
