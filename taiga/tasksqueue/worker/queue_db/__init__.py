"""The worker's own connections to the queue: its pool (`pool.py`), and statements sent again
after a lost connection (`reconnect.py`)."""
