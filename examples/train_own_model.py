"""Train a model of your own on a curated dataset, with sora_model's reader and none of its training code.

    OMP_NUM_THREADS=1 torchrun --standalone --nproc_per_node 2 examples/train_own_model.py --lake lake --dataset demo

Every rank reads its own equal part of each epoch (``open_split``), trains ``VideoNet`` under DDP (gloo on CPU,
nccl on CUDA), and rank 0 writes a checkpoint (weights, optimizer, the reader's position) every epoch, or every
``--checkpoint-every`` steps; ``--resume`` continues from it exactly, mid-epoch included. ``VideoNet`` also
trains under the project's own job: ``jobs/train.py model=train_own_model:VideoNet`` with ``examples`` on
PYTHONPATH (docs/training.md).
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from sora_model.dataset import open_split

logger = logging.getLogger("train_own_model")


class VideoNet(nn.Module):
    """A small CNN for uint8 clips [B, T, H, W, 3]: one 2D CNN per frame pair (the later frame and its difference
    to the one before), features kept in time order, a linear head over all of them.

    The constructor is what ``train.model`` asks of a class: ``num_classes`` and ``frames_shape`` (here: T sizes
    the head) come from the dataset, the rest from ``train.model_args``."""

    def __init__(self, num_classes: int, frames_shape: list[int], hidden: int = 16, grid: int = 2) -> None:
        super().__init__()
        frames = int(frames_shape[0])
        if frames < 2:
            raise ValueError(f"VideoNet needs clips of 2 frames or more, the dataset has {frames}")
        self.cnn = nn.Sequential(
            nn.Conv2d(6, hidden, 3, padding=1), nn.BatchNorm2d(hidden), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(hidden, 2 * hidden, 3, padding=1), nn.BatchNorm2d(2 * hidden), nn.ReLU(),
            nn.AdaptiveAvgPool2d(grid), nn.Flatten())
        self.head = nn.Linear((frames - 1) * 2 * hidden * grid * grid, num_classes)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        x = clips.float() / 255.0 - 0.5  # [B, T, H, W, C]
        b, t, h, w, c = x.shape
        pairs = torch.cat([x[:, 1:], x[:, 1:] - x[:, :-1]], dim=-1)  # [B, T-1, H, W, 2C]
        features = self.cnn(pairs.reshape(b * (t - 1), h, w, 2 * c).permute(0, 3, 1, 2))
        return self.head(features.reshape(b, -1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lake", default="lake", help="lake folder or object-store URI (default: lake)")
    parser.add_argument("--dataset", default="demo", help="dataset name (default: demo)")
    parser.add_argument("--version", type=int, default=None, help="dataset version (default: the newest)")
    parser.add_argument("--epochs", type=int, default=5, help="passes over the train split (default: 5)")
    parser.add_argument("--batch-size", type=int, default=16, help="clips per batch and rank (default: 16)")
    parser.add_argument("--lr", type=float, default=2e-3, help="AdamW learning rate (default: 2e-3)")
    parser.add_argument("--workers", type=int, default=1, help="DataLoader processes per rank (default: 1)")
    parser.add_argument("--out", default="runs/own-model", help="checkpoint folder (default: runs/own-model)")
    parser.add_argument("--checkpoint-every", type=int, default=0,
                        help="also checkpoint every this many steps (default: 0, once per epoch)")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0"))) if torch.cuda.is_available() else \
        torch.device("cpu")
    if world_size > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    rank = dist.get_rank() if world_size > 1 else 0

    # Rank and world size come from the process group; every rank gets the same number of batches.
    train = open_split(args.lake, args.dataset, "train", version=args.version, batch_size=args.batch_size, seed=0)
    torch.manual_seed(0)
    model = VideoNet(len(train.classes), train.frames_shape).to(device)
    ddp = nn.parallel.DistributedDataParallel(model) if world_size > 1 else model
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    checkpoint = Path(args.out) / "checkpoint.pt"
    start_epoch, step = 0, 0
    if args.resume and checkpoint.exists():
        state = torch.load(checkpoint, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        train.load_state_dict(state["reader"])  # the epoch and the batches already trained on
        start_epoch, step = state["reader"]["epoch"], state["step"]
        if train.batches_done >= len(train):  # saved at the end of that epoch
            start_epoch += 1
        if rank == 0:
            logger.info("resumed at epoch %d, step %d", start_epoch + 1, step)

    def save() -> None:
        if rank == 0:
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
            tmp = checkpoint.with_suffix(".tmp")
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "reader": train.state_dict(), "step": step}, tmp)
            tmp.replace(checkpoint)  # a kill while saving leaves the previous checkpoint whole

    for epoch in range(start_epoch, args.epochs):
        train.set_epoch(epoch)  # a no-op for the epoch a resume loaded, which keeps its position
        ddp.train()
        started, losses = time.perf_counter(), []
        for batch in train.loader(num_workers=args.workers):
            logits = ddp(batch["frames"].to(device))
            loss = nn.functional.cross_entropy(logits, batch["label"].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            losses.append(loss.item())
            if args.checkpoint_every and step % args.checkpoint_every == 0:
                save()
        save()
        if rank == 0:
            accuracy = evaluate(model, args, device)
            logger.info("epoch %d: %d steps, loss %.4f, val accuracy %.3f, %.1f s", epoch + 1, len(losses),
                        sum(losses) / max(1, len(losses)), accuracy, time.perf_counter() - started)
        if world_size > 1:
            dist.barrier()
    if world_size > 1:
        dist.destroy_process_group()


@torch.no_grad()
def evaluate(model: nn.Module, args: argparse.Namespace, device: torch.device) -> float:
    """Accuracy on every validation clip (rank 0 alone, in order)."""
    val = open_split(args.lake, args.dataset, "val", version=args.version, rank=0, world_size=1)
    model.eval()
    right = seen = 0
    for batch in val.every_row(batch_size=64):
        predicted = model(batch["frames"].to(device)).argmax(dim=1).cpu()
        right += int((predicted == batch["label"]).sum())
        seen += len(predicted)
    return right / max(1, seen)


if __name__ == "__main__":
    main()
