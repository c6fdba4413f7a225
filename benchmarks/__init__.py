"""llmops_nb's benchmarks: ``python -m benchmarks`` (``--quick`` for a smoke run). See README.md."""
