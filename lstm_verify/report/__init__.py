"""The renderings of a run's results: :mod:`.text` (terminal, Markdown) and :mod:`.html` (the page)."""
