raise RuntimeError("configuration missing")
