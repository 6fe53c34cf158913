"""Training: the Sora model, the DDP training loop with resumable checkpoints, metrics, label-aware symmetries."""
