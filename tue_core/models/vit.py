"""A small Vision Transformer for 32x32 images (Dosovitskiy et al. 2021, arXiv:2010.11929).

The CIFAR recipe: 4x4 patches, so a 32x32 image is 8x8 = 64 tokens plus a class token, with
learned position embeddings; pre-norm transformer blocks (LayerNorm -> multi-head self-attention,
LayerNorm -> MLP of ratio 4 with GELU, each with a residual); a final LayerNorm; a linear head on the
class token. No dropout.

Size. Embedding dimension 384 and depth 7 are omihub777/ViT-CIFAR's (its ``--patch 8`` is the
8x8 patch grid, i.e. 4x4 patches, as here). Two choices differ from that repository's defaults:
6 heads of dimension 64, as ViT-S/DeiT-S split 384 (Touvron et al. 2021, arXiv:2012.12877; omihub777
uses 12 heads of 32), and an MLP of ratio 4 (1536 hidden), the ViT paper's (omihub777 defaults to
384 hidden, ratio 1, and puts a second GELU after the MLP output). At the standard size this is
12,470,026 parameters for 10 classes.

``width`` scales the embedding dimension, ``dim = 6 * width`` (``width=64`` is 384), with 6 heads,
so the head dimension is ``width`` and ``dim`` is always divisible by the number of heads.
CPU-scale configs use width 8-16 (dim 48-96). ``embed`` is the class token after the final
LayerNorm. Other image sizes work when H and W are multiples of 4: the 8x8 grid of position
embeddings is resampled (bicubic, antialiased) to the input's grid, as timm's ``dynamic_img_size``.

Initialisation is timm's default for ViT: truncated-normal (std 0.02) linear layers and position
embeddings, a near-zero class token (normal, std 1e-6), zero biases, unit LayerNorm; the patch
projection keeps PyTorch's default.
The interface is ``ResNet18``'s.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

PATCH_SIZE = 4
GRID = 8  # position embeddings are learned for 32x32 inputs: an 8x8 patch grid
HEADS = 6
DEPTH = 7
MLP_RATIO = 4
LN_EPS = 1e-6  # the ViT paper's (and timm's) LayerNorm epsilon


class Attention(nn.Module):
    """Multi-head self-attention with a fused qkv projection (scaled dot-product attention)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        batch, tokens, dim = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.heads, dim // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, heads, N, dim / heads)
        out = F.scaled_dot_product_attention(q, k, v)  # (B, heads, N, dim / heads)
        return self.proj(out.transpose(1, 2).reshape(batch, tokens, dim))  # (B, N, dim)


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=LN_EPS)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=LN_EPS)
        self.mlp = nn.Sequential(
            nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Linear(mlp_ratio * dim, dim)
        )

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))  # (B, N, dim)
        return x + self.mlp(self.norm2(x))


class ViTSmall(nn.Module):
    """ViT for 32x32 images: 4x4 patches, class token, 7 pre-norm blocks of 6 heads, linear head.

    Args:
        num_classes: size of the classifier head.
        width: ``dim / 6``, i.e. the head dimension (64 is the standard dim 384).
        normalize_features: L2-normalise the class-token feature before the classifier (as
            ``ResNet18``). ``embed`` still returns the raw feature.
    """

    def __init__(
        self, num_classes: int = 10, width: int = 64, normalize_features: bool = False
    ) -> None:
        super().__init__()
        if width < 1 or num_classes < 1:
            raise ValueError(f"width and num_classes must be >= 1, got {width}, {num_classes}")
        self.width = width
        self.normalize_features = normalize_features
        self.embed_dim = dim = HEADS * width  # divisible by HEADS by construction
        self.patch_embed = nn.Conv2d(3, dim, PATCH_SIZE, stride=PATCH_SIZE)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + GRID * GRID, dim))
        self.blocks = nn.Sequential(*(Block(dim, HEADS, MLP_RATIO) for _ in range(DEPTH)))
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.fc = nn.Linear(dim, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        """timm's default ViT initialisation (see the module docstring)."""
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def _position_embedding(self, grid_h: int, grid_w: int) -> Tensor:
        """(1, 1 + grid_h * grid_w, dim): the learned 8x8 grid, resampled if the grid differs."""
        if (grid_h, grid_w) == (GRID, GRID):
            return self.pos_embed
        cls_pos, patch_pos = self.pos_embed[:, :1], self.pos_embed[:, 1:]
        patch_pos = patch_pos.reshape(1, GRID, GRID, -1).permute(0, 3, 1, 2)  # (1, dim, 8, 8)
        patch_pos = F.interpolate(
            patch_pos, size=(grid_h, grid_w), mode="bicubic", antialias=True
        )  # timm's resample_abs_pos_embed
        return torch.cat([cls_pos, patch_pos.flatten(2).transpose(1, 2)], dim=1)

    def forward_features(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) in [0, 1], H and W multiples of 4 -> tokens (B, 1 + HW/16, dim) after LN."""
        image_h, image_w = x.shape[-2:]
        if image_h % PATCH_SIZE or image_w % PATCH_SIZE:
            raise ValueError(
                f"ViTSmall needs H and W divisible by the patch size {PATCH_SIZE}, "
                f"got {image_h}x{image_w}"
            )
        tokens = self.patch_embed(x).flatten(2).transpose(1, 2)  # (B, HW/16, dim)
        cls = self.cls_token.expand(tokens.shape[0], -1, -1)  # (B, 1, dim)
        tokens = torch.cat([cls, tokens], dim=1)
        tokens = tokens + self._position_embedding(image_h // PATCH_SIZE, image_w // PATCH_SIZE)
        return self.norm(self.blocks(tokens))

    def embed(self, x: Tensor) -> Tensor:
        """Class-token feature (B, embed_dim): what SSL heads and the linear probe see."""
        return self.forward_features(x)[:, 0]

    def forward_head(self, features: Tensor) -> Tensor:
        """Class-token feature (B, embed_dim) -> logits (B, num_classes)."""
        if self.normalize_features:
            features = F.normalize(features, dim=1)
        return self.fc(features)

    def forward(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) -> logits (B, num_classes)."""
        return self.forward_head(self.embed(x))

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the linear head with a freshly initialised one of ``num_classes`` outputs."""
        device = self.fc.weight.device
        self.fc = nn.Linear(self.embed_dim, num_classes).to(device)
