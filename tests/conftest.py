"""Tests of the kit itself. Properties are called directly on chosen implementations; the
hypothesis profile is the plugin's (``--lstm-profile``; ``ci`` when CI is set)."""
