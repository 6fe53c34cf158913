"""The curated dataset: the shard row schema, the shard writer and the clips -> rows builder, splits, labels,
the catalog over the datasets table, and the reader that serves DDP ranks and DataLoader workers."""
