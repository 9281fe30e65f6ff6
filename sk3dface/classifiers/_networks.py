"""Residual networks for coefficient vectors (1-D) and face crops (2-D), in plain torch.

Both follow He et al. (2016), *Deep Residual Learning for Image Recognition*: a stem,
stages of *basic blocks* (two weight layers with batch normalization and an identity
shortcut; a projection shortcut where the width changes), and a linear head. ``depth``
counts the weight layers on the longest path: stem + 2 per basic block + head.

- :class:`CoefficientResNet` works on coefficient vectors. Its weight layers are
  fully connected (``Linear``) rather than convolutions: 3DMM coefficients are
  principal-component scores, so neighbouring entries are unrelated and there is no
  local or translation-invariant structure for a convolution to exploit. Stage
  transitions double the width (as ResNet doubles channels) without any "stride".
- :class:`ImageResNet` is the usual convolutional ResNet (3x3 ``Conv2d`` basic
  blocks, 7x7 stride-2 stem and max pooling), written here without torchvision.

See ``docs/classifiers.md`` for the table of depths.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

# depth -> basic blocks per stage; stage i has width * 2**i units/channels.
# CIFAR-style (He et al. 2016, section 4.2): three stages, depth = 6n + 2.
# ImageNet-style: four stages; 18 and 34 are the paper's, 10 is the smallest member.
# Shallow members for small data: 2 = stem + head (no residual block, a one-hidden-
# layer net), 4 = one basic block.
STAGES: dict[int, tuple[int, ...]] = {
    2: (),
    4: (1,),
    8: (1, 1, 1),
    14: (2, 2, 2),
    20: (3, 3, 3),
    32: (5, 5, 5),
    44: (7, 7, 7),
    56: (9, 9, 9),
    10: (1, 1, 1, 1),
    18: (2, 2, 2, 2),
    34: (3, 4, 6, 3),
}


def stage_widths(depth: int, width: int) -> list[int]:
    """Units (1-D) or channels (2-D) of each stage of a ResNet of this depth."""
    return [width * 2**i for i in range(len(STAGES[depth]))]


def _augment_scale_noise(x: torch.Tensor, noise_std: float, scale_jitter: float) -> torch.Tensor:
    """Multiply each sample by ``1 + U(-scale_jitter, scale_jitter)``, add N(0, noise_std²)."""
    if scale_jitter > 0:
        shape = (x.shape[0],) + (1,) * (x.dim() - 1)
        factor = 1 + scale_jitter * (2 * torch.rand(shape, device=x.device, dtype=x.dtype) - 1)
        x = x * factor
    if noise_std > 0:
        x = x + noise_std * torch.randn_like(x)
    return x


class _BasicBlock(nn.Module):
    """The basic block: two weight layers with batch normalization, plus a shortcut, then
    ReLU. Weight layers are ``Linear`` for vectors and 3x3 ``Conv2d`` for images."""

    def __init__(
        self,
        in_size: int,
        out_size: int,
        *,
        image: bool = False,
        stride: int = 1,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        norm = nn.BatchNorm2d if image else nn.BatchNorm1d

        def weight_layer(n_in: int, n_out: int, kernel: int, layer_stride: int) -> nn.Module:
            if image:
                return nn.Conv2d(n_in, n_out, kernel, layer_stride, kernel // 2, bias=False)
            return nn.Linear(n_in, n_out, bias=False)

        self.layer1 = weight_layer(in_size, out_size, 3, stride)
        self.norm1 = norm(out_size)
        self.layer2 = weight_layer(out_size, out_size, 3, 1)
        self.norm2 = norm(out_size)
        # zero-init the last BN of the residual branch: every block starts as the
        # identity, which lets deep stacks train from the first epoch (Goyal et al. 2017)
        nn.init.zeros_(self.norm2.weight)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_size != out_size:  # projection shortcut (ResNet's option B)
            self.shortcut = nn.Sequential(
                weight_layer(in_size, out_size, 1, stride), norm(out_size)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.dropout(torch.relu(self.norm1(self.layer1(x))))
        out = self.norm2(self.layer2(out))
        return torch.relu(out + self.shortcut(x))


class CoefficientResNet(nn.Module):
    """ResNet of fully connected basic blocks for 1-D feature vectors.

    Parameters
    ----------
    n_features : int
        Length of the input vectors.
    n_classes : int
        Number of output logits.
    depth : int
        A key of :data:`STAGES`.
    width : int
        Units of the first stage; each later stage doubles it.
    mean, scale : sequence of float of length n_features
        Per-feature standardization applied first (``(x - mean) / scale``).
    noise_std, scale_jitter : float
        Training-time augmentation in standardized units (off in ``eval()`` mode).
    dropout : float
        Dropout probability inside each residual branch and before the head.
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        depth: int = 34,
        width: int = 64,
        mean: Sequence[float] | None = None,
        scale: Sequence[float] | None = None,
        noise_std: float = 0.0,
        scale_jitter: float = 0.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        mean = torch.zeros(n_features) if mean is None else torch.as_tensor(mean)
        scale = torch.ones(n_features) if scale is None else torch.as_tensor(scale)
        self.register_buffer("mean", mean.to(torch.float32).reshape(n_features))
        self.register_buffer("scale", scale.to(torch.float32).reshape(n_features))
        self.noise_std = float(noise_std)
        self.scale_jitter = float(scale_jitter)
        widths = stage_widths(depth, width)
        self.stem = nn.Sequential(
            nn.Linear(n_features, width, bias=False), nn.BatchNorm1d(width), nn.ReLU()
        )
        blocks: list[nn.Module] = []
        in_features = width
        for n_blocks, out_features in zip(STAGES[depth], widths, strict=True):
            for _ in range(n_blocks):
                blocks.append(_BasicBlock(in_features, out_features, dropout=dropout))
                in_features = out_features
        self.blocks = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.head = nn.Linear(in_features, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x.to(self.mean.dtype) - self.mean) / self.scale
        if self.training:
            x = _augment_scale_noise(x, self.noise_std, self.scale_jitter)
        return self.head(self.dropout(self.blocks(self.stem(x))))


class ImageResNet(nn.Module):
    """Convolutional ResNet for ``(n, channels, H, W)`` images (uint8 or float).

    Parameters
    ----------
    in_channels : int
        1 for grayscale, 3 for RGB.
    n_classes : int
        Number of output logits.
    depth : int
        A key of :data:`STAGES`.
    width : int
        Channels of the first stage (64 in the original ResNet-34).
    mean, scale : sequence of float of length in_channels
        Per-channel standardization of pixel values scaled to [0, 1].
    noise_std, scale_jitter : float
        Training-time pixel noise and per-image contrast jitter (standardized units).
    flip : bool
        Random horizontal flips during training.
    """

    def __init__(
        self,
        in_channels: int,
        n_classes: int,
        depth: int = 34,
        width: int = 64,
        mean: Sequence[float] | None = None,
        scale: Sequence[float] | None = None,
        noise_std: float = 0.0,
        scale_jitter: float = 0.0,
        flip: bool = False,
    ) -> None:
        super().__init__()
        mean = torch.zeros(in_channels) if mean is None else torch.as_tensor(mean)
        scale = torch.ones(in_channels) if scale is None else torch.as_tensor(scale)
        self.register_buffer("mean", mean.to(torch.float32).reshape(1, in_channels, 1, 1))
        self.register_buffer("scale", scale.to(torch.float32).reshape(1, in_channels, 1, 1))
        self.noise_std = float(noise_std)
        self.scale_jitter = float(scale_jitter)
        self.flip = bool(flip)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 7, 2, 3, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.MaxPool2d(3, 2, 1),
        )
        blocks: list[nn.Module] = []
        in_ch = width
        for i, (n_blocks, out_ch) in enumerate(
            zip(STAGES[depth], stage_widths(depth, width), strict=True)
        ):
            for j in range(n_blocks):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(_BasicBlock(in_ch, out_ch, image=True, stride=stride))
                in_ch = out_ch
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(in_ch, n_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.uint8:
            x = x.to(self.mean.dtype) / 255.0
        x = (x.to(self.mean.dtype) - self.mean) / self.scale
        if self.training:
            if self.flip:
                flip = torch.rand(x.shape[0], device=x.device) < 0.5
                x = torch.where(flip[:, None, None, None], x.flip(-1), x)
            x = _augment_scale_noise(x, self.noise_std, self.scale_jitter)
        x = self.pool(self.blocks(self.stem(x))).flatten(1)
        return self.head(x)
