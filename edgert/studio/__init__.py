"""What Studio does in the cloud, done on the gateway: K-means anomaly training
(:mod:`.anomaly_fit`)."""
