"""The four services; each folder is one process, consumer group, metrics prefix and manifest."""
