import pytest
import torch

from randablate.encoding import IMAGENET_NORMALIZE, channel_mean, get_encoding


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


def test_normalised_multichannel_codes_the_standardised_pixel():
    enc = get_encoding("multichannel", 3, normalize=IMAGENET_NORMALIZE)
    x = torch.zeros(1, 3, 2, 2, dtype=torch.float64)
    x[0, :, 1, 0] = torch.tensor([0.5, 0.25, 1.0], dtype=torch.float64)
    keep = torch.tensor([[False, True, True, False]])  # keeps pixels (0, 1) and (1, 0)
    out = enc(x, keep)
    z = [(0.5 - 0.485) / 0.229, (0.25 - 0.456) / 0.224, (1.0 - 0.406) / 0.225]
    assert out[0, :, 1, 0].tolist() == pytest.approx(z + [1 - v for v in z], rel=1e-12)
    black = [-0.485 / 0.229, -0.456 / 0.224, -0.406 / 0.225]
    assert out[0, :, 0, 1].tolist() == pytest.approx(black + [1 - v for v in black], rel=1e-12)
    # Ablated pixels are NULL, all zeros, whatever their colour.
    assert (out[0, :, 0, 0] == 0).all() and (out[0, :, 1, 1] == 0).all()
    assert enc.out_channels == 6


def test_encodings_round_trip_through_describe():
    plain = get_encoding("multichannel", 3)
    assert plain.describe() == {
        "encoding": "multichannel",
        "channels": 3,
        "mean": None,
        "normalize": None,
    }
    normed = get_encoding("multichannel", 3, normalize=IMAGENET_NORMALIZE)
    meta = normed.describe()
    assert meta["normalize"] == [list(IMAGENET_NORMALIZE[0]), list(IMAGENET_NORMALIZE[1])]
    rebuilt = get_encoding(meta["encoding"], meta["channels"], meta["mean"], meta["normalize"])
    assert rebuilt.describe() == meta
    x, keep = torch.rand(2, 3, 4, 4), torch.rand(2, 16) < 0.5
    assert torch.equal(rebuilt(x, keep), normed(x, keep))
    mean = get_encoding("mean", 3, [0.1, 0.2, 0.3]).describe()
    assert mean["normalize"] is None
    rebuilt = get_encoding(mean["encoding"], mean["channels"], mean["mean"], mean["normalize"])
    assert rebuilt.describe() == mean


def test_load_smoothed_rebuilds_the_saved_encoding(tmp_path):
    from randablate.models import build_model, save_model
    from randablate.smoothing import load_smoothed

    x = torch.rand(1, 3, 28, 28)
    keep = torch.ones(1, 28 * 28, dtype=torch.bool)
    base = {"arch": "cnn", "in_channels": 6, "num_classes": 10, "k": 45}
    normed = get_encoding("multichannel", 3, normalize=IMAGENET_NORMALIZE)
    save_model(tmp_path / "new.pt", build_model("cnn", 6, 10), {**base, **normed.describe()})
    loaded, _ = load_smoothed(tmp_path / "new.pt", 45, device="cpu")
    assert torch.equal(loaded.encoding(x, keep), normed(x, keep))
    # A model saved before normalisation existed has no "normalize" key and loads unnormalised.
    old = {"encoding": "multichannel", "channels": 3, "mean": None}
    save_model(tmp_path / "old.pt", build_model("cnn", 6, 10), {**base, **old})
    loaded, _ = load_smoothed(tmp_path / "old.pt", 45, device="cpu")
    assert torch.equal(loaded.encoding(x, keep), torch.cat([x, 1 - x], dim=1))


def test_colour_multichannel_ablates_all_channels_of_a_pixel_together():
    enc = get_encoding("multichannel", 3)
    x = torch.rand(3, 3, 4, 4)
    keep = torch.rand(3, 16) < 0.5
    out = enc(x, keep)
    assert out.shape == (3, 6, 4, 4)
    kept = keep.view(3, 1, 4, 4).expand(3, 6, 4, 4)
    expected = torch.cat([x, 1 - x], dim=1)
    assert torch.equal(out[kept], expected[kept])  # R, G, B, 1-R, 1-G, 1-B
    assert (out[~kept] == 0).all()
    # A pixel is either wholly present (its six values sum to 3) or wholly NULL.
    sums = out.sum(1).view(3, 16)
    assert torch.allclose(sums, torch.where(keep, 3.0, 0.0))


def test_bad_normalisations_are_refused():
    with pytest.raises(ValueError, match="one mean and one std per channel"):
        get_encoding("multichannel", 1, normalize=IMAGENET_NORMALIZE)
    with pytest.raises(ValueError, match="positive"):
        get_encoding("multichannel", 1, normalize=([0.5], [0.0]))
    with pytest.raises(ValueError, match="multichannel encoding only"):
        get_encoding("mean", 3, [0.5] * 3, normalize=IMAGENET_NORMALIZE)


def test_dataset_encoding_normalises_imagenet_only():
    """ImageNet's multichannel encoding normalises first (footnote 1); the others do not."""
    from randablate.encoding import dataset_encoding

    imagenet = dataset_encoding("multichannel", "imagenet")
    cifar = dataset_encoding("multichannel", "cifar10")
    mnist = dataset_encoding("mean", "mnist", mean=[0.13])
    assert imagenet.describe()["normalize"] == [list(v) for v in IMAGENET_NORMALIZE]
    assert cifar.describe()["normalize"] is None and cifar.out_channels == 6
    assert mnist.out_channels == 1 and mnist.describe()["mean"] == [0.13]
    x = torch.full((1, 3, 2, 2), 0.485)
    coded = imagenet.code(x)
    assert coded[0, 0].abs().max() < 1e-6  # the red channel mean maps to 0
    assert coded[0, 3].sub(1).abs().max() < 1e-6  # and its inverse channel to 1


@pytest.mark.parametrize(
    ("name", "channels", "mean"),
    [("multichannel", 1, None), ("multichannel", 3, None), ("mean", 1, [0.13]), ("mean", 3, None)],
)
def test_ablate_kept_writes_what_the_mask_would(name, channels, mean):
    # Each sample: its image's kept pixels (given as indices), NULL elsewhere; checked pixel by
    # pixel against a loop over samples and pixels.
    gen = torch.Generator().manual_seed(0)
    mean = mean or [0.2, 0.4, 0.6][:channels]
    encoding = get_encoding(name, channels, mean=mean if name == "mean" else None)
    images = torch.rand(3, channels, 5, 4, generator=gen)
    coded = encoding.code(images).contiguous(memory_format=torch.channels_last)
    rows = torch.tensor([2, 0, 0, 1, 2])
    kept = torch.stack([torch.randperm(20, generator=gen)[:6] for _ in rows])
    out = encoding.ablate_kept(coded, rows, kept)
    assert out.shape == (5, encoding.out_channels, 5, 4)
    assert out.is_contiguous(memory_format=torch.channels_last)
    null = encoding.null(torch.device("cpu"), torch.float32)
    for b, row in enumerate(rows.tolist()):
        for pixel in range(20):
            y, x = divmod(pixel, 4)
            expected = coded[row, :, y, x] if pixel in kept[b].tolist() else null
            assert torch.equal(out[b, :, y, x], expected), (b, pixel)


@pytest.mark.parametrize(("name", "mean"), [("multichannel", None), ("mean", [0.3])])
def test_ablated_in_writes_ablate_kepts_samples_into_null_images_and_puts_null_back(name, mean):
    # One buffer serves batch after batch: inside the block it holds ablate_kept's samples,
    # after it (even one that raised) all NULL again, for a NULL of zeros and of a mean.
    gen = torch.Generator().manual_seed(1)
    encoding = get_encoding(name, 1, mean=mean)
    coded = encoding.code(torch.rand(3, 1, 5, 4, generator=gen))
    coded = coded.contiguous(memory_format=torch.channels_last)
    null = encoding.null(torch.device("cpu"), torch.float32)
    buffer = encoding.null_images(6, 5, 4, torch.device("cpu"), torch.float32)
    assert buffer.shape == (6, 20, encoding.out_channels)
    assert torch.equal(buffer, null.expand(6, 20, -1))
    for batch in range(3):
        rows = torch.randint(0, 3, (6,), generator=gen)
        kept = torch.stack([torch.randperm(20, generator=gen)[:7] for _ in rows])
        with encoding.ablated_in(buffer, coded, rows, kept) as samples:
            assert torch.equal(samples, encoding.ablate_kept(coded, rows, kept)), batch
        assert torch.equal(buffer, null.expand(6, 20, -1)), batch
    with (
        pytest.raises(RuntimeError, match="a failed pass"),
        encoding.ablated_in(buffer, coded, rows, kept),
    ):
        raise RuntimeError("a failed pass")
    assert torch.equal(buffer, null.expand(6, 20, -1))
