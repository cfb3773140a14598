from __future__ import annotations

import torch

from tue_core.perturb.bank import DeltaBank
from tue_core.perturb.constraints import LinfBall


def test_gather_scatter_by_sample_id() -> None:
    images = torch.randint(0, 256, (10, 3, 4, 4), dtype=torch.uint8)
    bank = DeltaBank.zeros(images)
    index = torch.tensor([7, 2, 5])
    values = torch.arange(3, dtype=torch.float32)[:, None, None, None].expand(3, 3, 4, 4) + 1
    bank.scatter(index, values)
    assert torch.equal(bank.gather(index), values)
    assert bank.delta[[0, 1, 3, 4, 6, 8, 9]].abs().sum() == 0
    assert bank.to_numpy().shape == (10, 3, 4, 4)


def test_uniform_start_is_projected_and_seeded() -> None:
    images = torch.randint(0, 256, (6, 3, 4, 4), dtype=torch.uint8)
    images[0] = 0
    ball = LinfBall(8 / 255)
    a = DeltaBank.uniform(images, ball, torch.Generator().manual_seed(0))
    b = DeltaBank.uniform(images, ball, torch.Generator().manual_seed(0))
    assert torch.equal(a.delta, b.delta)
    assert a.delta.abs().max() <= ball.eps + 1e-7
    assert (a.delta[0] >= 0).all()  # a black image cannot go below 0
    assert a.delta.abs().sum() > 0
