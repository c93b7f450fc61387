"""What the queue shows of itself: Prometheus metrics, health endpoints, JSON logs, traces."""
