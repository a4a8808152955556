"""The seed's U-Net up-convolution block, built from imgops.nn with NumPy weights.

    up   = ConvTranspose2d(64, 32, kernel_size=2, stride=2)
    x    = cat([up(x), skip], dim=1)          # 32 + 32 = 64 channels
    x    = relu(Conv2d(64, 32, 3, padding=1)(x))
    x    = relu(Conv2d(32, 32, 3, padding=1)(x))

The source listing declares the first 3x3 convolution as Conv2d(32, 32, ...),
but after concatenating the skip connection the tensor has 64 channels, and
PyTorch itself rejects that block ("expected input to have 32 channels, but got
64"). The working block, used here, takes 64 input channels there.

Run: python examples/unet_up_block.py  ->  prints (1, 32, 64, 64)
"""

from __future__ import annotations

import numpy as np

from imgops import nn


def init_params(rng: np.random.Generator, c_in: int = 64, c_out: int = 32,
                dtype=np.float32) -> dict:
    """Random weights with PyTorch's layouts (uniform, fan-in scaled)."""
    def u(shape, fan_in):
        b = 1.0 / np.sqrt(fan_in)
        return rng.uniform(-b, b, shape).astype(dtype)

    return {
        "up_w": u((c_in, c_out, 2, 2), c_out * 4), "up_b": u((c_out,), c_out * 4),
        # 64 input channels: the concatenation of the upsampled path and the skip
        "conv1_w": u((c_out, 2 * c_out, 3, 3), 2 * c_out * 9),
        "conv1_b": u((c_out,), 2 * c_out * 9),
        "conv2_w": u((c_out, c_out, 3, 3), c_out * 9), "conv2_b": u((c_out,), c_out * 9),
    }


def up_block(x: np.ndarray, skip: np.ndarray, p: dict) -> np.ndarray:
    """(N, 64, H, W) and skip (N, 32, 2H, 2W) -> (N, 32, 2H, 2W)."""
    up = nn.conv_transpose2d(x, p["up_w"], p["up_b"], stride=2)
    h = np.concatenate([up, skip], axis=1)
    h = nn.relu(nn.conv2d(h, p["conv1_w"], p["conv1_b"], padding=1))
    return nn.relu(nn.conv2d(h, p["conv2_w"], p["conv2_b"], padding=1))


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    params = init_params(rng)
    x = rng.standard_normal((1, 64, 32, 32)).astype(np.float32)
    skip = rng.standard_normal((1, 32, 64, 64)).astype(np.float32)
    out = up_block(x, skip, params)
    print(out.shape)
