"""One-off measuring tools beside the harness, not part of `make bench`:
`python -m benchmarks.tools.profile` (a py-spy profile of one drain) and
`python -m benchmarks.tools.micro` (job lines, fetches, statement plans)."""
