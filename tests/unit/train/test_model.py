from __future__ import annotations

import pytest
import torch

from sora_model.train.model import ModelConfig, SoraModel, box_blur


def _clips(b: int = 2, t: int = 8, side: int = 32, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (b, t, side, side, 3), generator=g, dtype=torch.uint8)


def test_forward_and_features_shapes():
    model = SoraModel(ModelConfig(num_classes=6, widths=(8, 16), embed_dim=32, heads=4)).eval()
    clips = _clips()
    assert model(clips).shape == (2, 6)
    assert model.features(clips).shape == (2, 32)


def test_frame_order_matters_to_the_temporal_module():
    torch.manual_seed(0)
    model = SoraModel(ModelConfig(widths=(8, 16), embed_dim=32, heads=4, dropout=0.0)).eval()
    clips = _clips()
    with torch.no_grad():
        forward = model(clips)
        reversed_ = model(clips.flip(1))
    assert not torch.allclose(forward, reversed_, atol=1e-5)


def test_position_in_the_frame_reaches_the_features():
    # An object on the left and the same object on the right must not look the same per frame.
    torch.manual_seed(0)
    model = SoraModel(ModelConfig(widths=(8, 16), embed_dim=32, heads=4, dropout=0.0)).eval()
    left = torch.zeros(1, 4, 32, 32, 3, dtype=torch.uint8)
    right = left.clone()
    left[..., 10:20, 2:12, :] = 255
    right[..., 10:20, 20:30, :] = 255
    with torch.no_grad():
        assert not torch.allclose(model.features(left), model.features(right), atol=1e-5)


def test_a_few_steps_fit_a_tiny_batch():
    torch.manual_seed(0)
    model = SoraModel(ModelConfig(num_classes=2, widths=(8, 16), embed_dim=32, heads=4, dropout=0.0))
    clips, labels = _clips(b=4, t=4, side=16), torch.tensor([0, 1, 0, 1])
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(model(clips), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 < losses[0]


def _moving_square(dx: int, dy: int, t: int = 4, side: int = 32) -> torch.Tensor:
    clips = torch.full((1, t, side, side, 3), 40, dtype=torch.uint8)
    for i in range(t):
        y, x = 8 + dy * i, 8 + dx * i
        clips[0, i, y:y + 8, x:x + 8] = 220
    return clips


@pytest.mark.parametrize("dx,dy,channel,sign", [(2, 0, 0, 1), (-2, 0, 0, -1), (0, 2, 1, 1), (0, -2, 1, -1)])
def test_normal_flow_points_the_way_the_object_moves(dx, dy, channel, sign):
    model = SoraModel(ModelConfig(widths=(8,), embed_dim=16, heads=2, flow_blur_px=5))
    clips = _moving_square(dx, dy)
    x = clips.permute(0, 1, 4, 2, 3).float() / 255
    flow = model._normal_flow(x)
    assert torch.count_nonzero(flow[:, 0]) == 0  # no previous frame
    total = flow[:, 1:, channel].sum().item()
    other = flow[:, 1:, 1 - channel].sum().item()
    assert total * sign > 0 and abs(other) < abs(total) / 10
    # The same pictures with their colours swapped (dark object on light ground) move the same way.
    inverted = model._normal_flow(1 - x)[:, 1:, channel].sum().item()
    assert inverted * sign > 0


@pytest.mark.parametrize("side_px,height,width", [(1, 8, 8), (3, 9, 5), (7, 32, 32), (7, 4, 11), (9, 3, 3)])
def test_box_blur_is_the_average_over_the_window_inside_the_image(side_px: int, height: int, width: int):
    images = torch.rand(6, 1, height, width, generator=torch.Generator().manual_seed(side_px))
    pooled = torch.nn.functional.avg_pool2d(images, side_px, stride=1, padding=side_px // 2, count_include_pad=False)
    assert torch.allclose(box_blur(images, side_px), pooled, atol=1e-6)
    corner = images[0, 0, :side_px // 2 + 1, :side_px // 2 + 1].mean()  # the window's part inside, at (0, 0)
    assert torch.isclose(box_blur(images, side_px)[0, 0, 0, 0], corner, atol=1e-6)


def test_motion_channels_can_be_turned_off():
    plain = SoraModel(ModelConfig(widths=(8,), embed_dim=16, heads=2, frame_diff=False, normal_flow=False))
    assert plain.frame_cnn[0][0].in_channels == 3
    assert plain(_clips(t=1)).shape == (2, 6)
    full = SoraModel(ModelConfig(widths=(8,), embed_dim=16, heads=2))
    assert full.frame_cnn[0][0].in_channels == 8
    assert full(_clips(t=1)).shape == (2, 6)  # a single frame has no motion but still goes through


def test_bad_input_and_config_are_refused():
    model = SoraModel(ModelConfig(widths=(8,), embed_dim=16, heads=2, max_frames=4))
    with pytest.raises(ValueError, match="frames"):
        model(_clips(t=8))
    with pytest.raises(ValueError, match="uint8 clips"):
        model(torch.zeros(2, 8, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match="divisible"):
        ModelConfig(embed_dim=30, heads=4)
    with pytest.raises(ValueError, match="flow_blur_px"):
        ModelConfig(flow_blur_px=4)
