"""The Sora model: a per-frame 2D CNN with shared weights, a temporal relation module, a classifier.

Frames (plus motion cues computed from each frame and its predecessor) -> conv-BN-ReLU-pool blocks -> a coarse
spatial grid, flattened and projected to ``embed_dim`` (a grid, not global pooling: where the object is matters
when the class is the direction it moves) -> multi-head self-attention over the T frame features with learned temporal position embeddings (every frame attends to
every other: the learned relation weights) -> mean over time -> classifier.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

# ImageNet statistics: a neutral choice that keeps inputs near zero mean and unit variance.
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    num_classes: int = 6
    """Output classes."""
    widths: tuple[int, ...] = (32, 64, 128)
    """Channels of the per-frame CNN blocks; each block halves the resolution."""
    spatial_grid: int = 4
    """Side of the pooled feature grid that is flattened per frame (keeps coarse position)."""
    embed_dim: int = 128
    """Width of the frame features and of the temporal module."""
    heads: int = 4
    """Attention heads of the temporal module."""
    temporal_layers: int = 1
    """Self-attention layers over time."""
    max_frames: int = 64
    """Longest clip the learned temporal position embeddings cover."""
    dropout: float = 0.1
    """Dropout in the temporal module and before the classifier."""
    frame_diff: bool = True
    """Give the per-frame CNN the difference to the previous frame as 3 more channels (TSN's RGB-diff):
    motion becomes visible to a 2D CNN; shuffled frames give meaningless differences."""
    normal_flow: bool = True
    """Give the per-frame CNN 2 more channels, the brightness-constancy motion cue -I_t * (I_x, I_y) on
    blurred grey frames (I_t: change from the previous frame, I_x/I_y: spatial gradients). Its sign follows the
    direction of motion whatever the colours; a CNN learns that from RGB differences only with far more data."""
    flow_blur_px: int = 7
    """Box blur (odd side in pixels) before the motion cue: the cue keeps its sign while the per-frame
    displacement is below about half the blurred detail size, so blur wider for faster motion or finer texture
    (measured on the demo corpus at 32 px: 3 px gets the sign of 8% of validation clips wrong, 7 px 0.5%)."""

    def __post_init__(self) -> None:
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {self.num_classes}")
        if not self.widths or min(self.widths) < 1:
            raise ValueError(f"widths must be positive channel counts, got {self.widths}")
        if self.embed_dim % self.heads:
            raise ValueError(f"embed_dim ({self.embed_dim}) must be divisible by heads ({self.heads})")
        if self.spatial_grid < 1 or self.max_frames < 1 or self.temporal_layers < 1:
            raise ValueError("spatial_grid, max_frames and temporal_layers must be >= 1")
        if self.flow_blur_px < 1 or self.flow_blur_px % 2 == 0:
            raise ValueError(f"flow_blur_px must be odd and >= 1, got {self.flow_blur_px}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


def box_blur(images: torch.Tensor, side_px: int) -> torch.Tensor:
    """Mean over the ``side_px`` x ``side_px`` window around each pixel of [N, 1, H, W] images, over the pixels of
    the window inside the image.

    Window sums as two 1-D convolutions (a row, then a column of ones) divided by the same sums over an image of
    ones, which count the window's pixels inside the image: the numbers of a 2-D average pool that leaves the
    padding out, at 2k instead of k^2 additions per pixel, on the runtimes' fast convolution. ONNX Runtime's 7x7
    AveragePool was more than half of the demo model's time at batch 1 (0.53 of about 1 ms), in every
    compressed variant too; this takes 0.04 ms.
    """
    pad = side_px // 2
    row, column = images.new_ones(1, 1, 1, side_px), images.new_ones(1, 1, side_px, 1)

    def sums(x: torch.Tensor) -> torch.Tensor:
        return nn.functional.conv2d(nn.functional.conv2d(x, row, padding=(0, pad)), column, padding=(pad, 0))

    return sums(images) / sums(torch.ones_like(images[:1]))


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU(inplace=True), nn.MaxPool2d(2))


class SoraModel(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        chans = (3 + 3 * cfg.frame_diff + 2 * cfg.normal_flow, *cfg.widths)
        self.frame_cnn = nn.Sequential(*[_block(a, b) for a, b in zip(chans, chans[1:])],
                                       nn.AdaptiveAvgPool2d(cfg.spatial_grid), nn.Flatten(),
                                       nn.Linear(cfg.widths[-1] * cfg.spatial_grid**2, cfg.embed_dim))
        self.time_embedding = nn.Parameter(torch.zeros(cfg.max_frames, cfg.embed_dim))
        nn.init.trunc_normal_(self.time_embedding, std=0.02)
        layer = nn.TransformerEncoderLayer(cfg.embed_dim, cfg.heads, dim_feedforward=2 * cfg.embed_dim,
                                           dropout=cfg.dropout, batch_first=True, norm_first=True)
        self.temporal = nn.TransformerEncoder(layer, cfg.temporal_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.embed_dim)
        self.head = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(cfg.embed_dim, cfg.num_classes))
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 1, 3, 1, 1), persistent=False)
        # Central differences in x and y, taken after the blur.
        grad = torch.tensor([[0.0, 0.0, 0.0], [-0.5, 0.0, 0.5], [0.0, 0.0, 0.0]])
        self.register_buffer("grad_kernels", torch.stack([grad, grad.T]).unsqueeze(1), persistent=False)

    def _frames(self, clips: torch.Tensor) -> torch.Tensor:
        """uint8 [B, T, H, W, C] -> normalised float [B*T, C (+3 differences), H, W] on the model's device."""
        if clips.dim() != 5 or clips.shape[-1] != 3:
            raise ValueError(f"expected uint8 clips [B, T, H, W, 3], got shape {tuple(clips.shape)}")
        if clips.shape[1] > self.cfg.max_frames:
            raise ValueError(f"clip has {clips.shape[1]} frames, model covers {self.cfg.max_frames}")
        b, t, h, w, c = clips.shape
        x = clips.to(self.mean.device, non_blocking=True).permute(0, 1, 4, 2, 3).float() / 255.0  # B,T,C,H,W
        rgb = (x - self.mean) / self.std
        if self.cfg.frame_diff:
            diff = torch.cat([torch.zeros_like(x[:, :1]), x[:, 1:] - x[:, :-1]], dim=1) / self.std
            rgb = torch.cat([rgb, diff], dim=2)
        if self.cfg.normal_flow:
            rgb = torch.cat([rgb, self._normal_flow(x)], dim=2)
        return rgb.reshape(b * t, rgb.shape[2], h, w)

    def _normal_flow(self, x: torch.Tensor) -> torch.Tensor:
        """[B, T, 3, H, W] in [0, 1] -> [B, T, 2, H, W]: -I_t * I_x and -I_t * I_y (zero for the first frame)."""
        b, t, _, h, w = x.shape
        flow = torch.zeros(b, t, 2, h, w, device=x.device, dtype=x.dtype)
        if t < 2:
            return flow
        k = self.cfg.flow_blur_px
        grey = box_blur(x.mean(dim=2).reshape(b * t, 1, h, w), k).view(b, t, h, w)
        change = grey[:, 1:] - grey[:, :-1]
        middle = nn.functional.pad((grey[:, 1:] + grey[:, :-1]).reshape(-1, 1, h, w) / 2, (1, 1, 1, 1),
                                   mode="replicate")
        gradients = nn.functional.conv2d(middle, self.grad_kernels).view(b, t - 1, 2, h, w)
        # x100: products of two differences of [0, 1] values are ~1e-3; bring them to the other channels' scale.
        flow[:, 1:] = -change.unsqueeze(2) * gradients * 100.0
        return flow

    def features(self, clips: torch.Tensor) -> torch.Tensor:
        """Global clip representation ``[B, embed_dim]`` for downstream use."""
        b, t = clips.shape[:2]
        per_frame = self.frame_cnn(self._frames(clips)).view(b, t, -1)
        related = self.temporal(per_frame + self.time_embedding[:t])
        return self.norm(related.mean(dim=1))

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, num_classes]``."""
        return self.head(self.features(clips))
