"""Per commit: step time of every built-in adapter and host peak memory (``asv run --bench '^step\\.'``)."""
