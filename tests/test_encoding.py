import pytest
import torch

from randablate.encoding import channel_mean, get_encoding


def test_multichannel_codes_each_pixel_and_its_inverse():
    enc = get_encoding("multichannel", 3)
    x = torch.rand(4, 3, 5, 5)
    keep = torch.ones(4, 25, dtype=torch.bool)
    out = enc(x, keep)
    assert enc.out_channels == 6
    assert torch.equal(out[:, :3], x)
    assert torch.allclose(out[:, 3:], 1 - x)


def test_multichannel_null_is_distinct_from_every_colour():
    enc = get_encoding("multichannel", 1)
    levels = torch.linspace(0, 1, 256).view(256, 1, 1, 1)
    coded = enc(levels, torch.ones(256, 1, dtype=torch.bool)).view(256, 2)
    null = enc(levels, torch.zeros(256, 1, dtype=torch.bool)).view(256, 2)
    assert (null == 0).all()
    # A colour's channels sum to one, NULL's to zero: no colour codes as NULL.
    assert torch.allclose(coded.sum(1), torch.ones(256))
    assert (coded != null).any(dim=1).all()
    # NULL is equally far from black and white.
    assert torch.dist(coded[0], null[0]) == pytest.approx(torch.dist(coded[-1], null[0]).item())


def test_ablated_pixels_get_null_and_kept_pixels_are_unchanged():
    x = torch.rand(2, 3, 4, 4)
    keep = torch.zeros(2, 16, dtype=torch.bool)
    keep[0, [0, 5]] = True
    keep[1, 15] = True
    mask = keep.view(2, 1, 4, 4)
    multi = get_encoding("multichannel", 3)(x, keep)
    assert torch.equal(multi[:, :3], torch.where(mask, x, 0.0))
    assert torch.equal(multi[:, 3:], torch.where(mask, 1 - x, 0.0))
    mean = [0.1, 0.2, 0.3]
    coded = get_encoding("mean", 3, mean)(x, keep)
    expected = torch.where(mask, x, torch.tensor(mean).view(1, 3, 1, 1))
    assert torch.equal(coded, expected)


def test_channel_mean_matches_numpy():
    x = torch.rand(10, 3, 4, 4)
    assert channel_mean(x) == pytest.approx(x.numpy().mean(axis=(0, 2, 3)).tolist(), rel=1e-6)


def test_bad_encodings_are_refused():
    with pytest.raises(ValueError, match="unknown encoding"):
        get_encoding("noise", 1)
    with pytest.raises(ValueError, match="one mean per channel"):
        get_encoding("mean", 3, [0.5])
    with pytest.raises(ValueError, match="expects 1 channels"):
        get_encoding("multichannel", 1)(torch.rand(1, 3, 2, 2), torch.ones(1, 4, dtype=torch.bool))
