import math
import zipfile

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from randablate import certificates, files, names, smoothing
from randablate.certification import SamplingScheme, read_scheme
from randablate.encoding import get_encoding
from randablate.seeding import derive_seed, generator
from randablate.smoothing import Smoothed, count_votes
from randablate.streams import Streams

D = 28 * 28


class KeptAmong(nn.Module):
    """Votes for the number of kept pixels among `pixels`: a base classifier with known odds."""

    def __init__(self, pixels: list[int], num_classes: int = 10) -> None:
        super().__init__()
        self.pixels = pixels
        self.num_classes = num_classes
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kept = x.flatten(2).sum(1)[:, self.pixels].round().long().sum(1)  # multichannel: 1 if kept
        return nn.functional.one_hot(kept, self.num_classes).float() + 0 * self.dummy


class Constant(nn.Module):
    def __init__(self, label: int) -> None:
        super().__init__()
        self.label = label
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(len(x), 10) + 0 * self.dummy
        out[:, self.label] = 1
        return out


def smoothed(base: nn.Module, k: int, **kwargs) -> Smoothed:
    return Smoothed(base, k, get_encoding("multichannel", 1), 10, device="cpu", **kwargs)


def test_vote_counts_follow_the_hypergeometric_law():
    # Votes = kept pixels among 3 given ones: hypergeometric(d, 3, k) if ablation is uniform.
    k, n = 200, 20000
    counts = smoothed(KeptAmong([0, 400, 783]), k).counts(torch.rand(1, 1, 28, 28), n, [0])
    observed = counts[0, :4].numpy()
    assert counts.sum() == n
    expected = stats.hypergeom(D, 3, k).pmf(np.arange(4)) * n
    assert stats.chisquare(observed, expected).pvalue > 1e-3, (observed, expected)


def test_counts_do_not_depend_on_chunking_or_batching():
    base = KeptAmong([10, 20, 30, 40, 50])
    x = torch.rand(3, 1, 28, 28)
    a = smoothed(base, 100, batch_size=7).counts(x, 500, [0, 1, 2])
    b = smoothed(base, 100, batch_size=1000).counts(x, 500, [0, 1, 2])
    c = smoothed(base, 100).counts(x[1:2], 500, [1])
    large = smoothed(base, 100, batch_size=10_000)  # on the CPU: drawn a few passes at a time
    assert large.draw_batch == smoothing.CPU_DRAW_PASSES * large.forward_batch < 10_000
    assert torch.equal(a, large.counts(x, 500, [0, 1, 2]))
    assert torch.equal(a, b)
    assert torch.equal(a[1], c[0])
    assert (a.sum(1) == 500).all()


def test_a_streams_object_hands_out_fresh_samples_and_certify_bounds_with_fresh_ones():
    base = KeptAmong([10, 20, 30, 40, 50])
    x = torch.rand(2, 1, 28, 28)
    model = smoothed(base, 100, batch_size=64)
    streams = Streams([4, 9])
    first, second = model.counts(x, 300, streams), model.counts(x, 500, streams)
    assert streams.starts.tolist() == [800, 800]
    # samples 0..299 and then 300..799 of each stream: together, samples 0..799
    assert torch.equal(first + second, model.counts(x, 800, [4, 9]))
    assert torch.equal(first, model.counts(x, 300, [4, 9]))
    # certify: samples 0..n0-1 choose, samples n0..n0+n-1 bound
    cert = model.certify(x, 300, 500, 0.05, [4, 9])
    assert np.array_equal(cert.counts_select, first.numpy())
    assert np.array_equal(cert.counts_bound, second.numpy())


def test_counts_spanning_images_equal_counts_image_by_image():
    # batches of 64 samples cut across the 5 images' 150 samples each
    base = KeptAmong([0, 1, 2, 300])
    x = torch.rand(5, 1, 28, 28)
    seeds = [derive_seed(3, "span", i) for i in range(5)]
    together = smoothed(base, 200, batch_size=64).counts(x, 150, seeds)
    for i in range(5):
        alone = smoothed(base, 200, batch_size=1000).counts(x[i : i + 1], 150, [seeds[i]])
        assert torch.equal(together[i], alone[0])


def test_forward_passes_smaller_than_the_batch_give_the_same_votes():
    # On the CPU each batch of keep-sets goes through the model CPU_FORWARD_BATCH at a time.
    from randablate.models import build_model

    torch.manual_seed(0)
    base = build_model("cnn", 2, 10)
    x = torch.rand(3, 1, 28, 28)
    one_pass = smoothed(base, 45, batch_size=500)
    one_pass.forward_batch = 500
    chunked = smoothed(base, 45, batch_size=500)
    assert chunked.forward_batch == min(500, smoothing.CPU_FORWARD_BATCH * torch.get_num_threads())
    chunked.forward_batch = 7
    sizes = []
    chunked.model.register_forward_hook(lambda _, args, out: sizes.append(len(args[0])))
    counts = chunked.counts(x, 400, [1, 2, 3])
    assert torch.equal(counts, one_pass.counts(x, 400, [1, 2, 3]))
    assert sizes[:72] == [7] * 71 + [3] and sum(sizes) == 1200  # 500 = 71 * 7 + 3


def test_the_null_buffer_serves_short_last_batches_without_a_new_one():
    # 70 samples a call (a pass of 64 and one of 6), then 40: all written into the same
    # buffer of 64 NULL images; the counts are those of fresh NULL images.
    base = KeptAmong([10, 20, 30, 40, 50])
    x = torch.rand(2, 1, 28, 28)
    model = smoothed(base, 100, batch_size=64)
    first = model.counts(x, 35, [0, 1])
    buffer = model._null_buffer
    assert buffer.shape[:2] == (64, D)
    again = model.counts(x[:1], 40, [0])
    assert model._null_buffer is buffer
    assert torch.equal(first[0], smoothed(base, 100, batch_size=64).counts(x[:1], 35, [0])[0])
    assert torch.equal(again, smoothed(base, 100, batch_size=40).counts(x[:1], 40, [0]))


def test_certify_constant_classifier_matches_exact_arithmetic():
    n0, n, alpha, k = 100, 1000, 0.05, 45
    cert = smoothed(Constant(3), k).certify(torch.rand(2, 1, 28, 28), n0, n, alpha, [0, 1])
    assert cert.guess.tolist() == [3, 3]
    assert cert.counts_select[:, 3].tolist() == [n0, n0]
    p = alpha ** (1 / n)  # Clopper-Pearson lower bound when every vote agrees
    assert cert.p_lower == pytest.approx([p, p], rel=1e-9)
    expected = max(r for r in range(D) if p - (1 - math.comb(D - r, k) / math.comb(D, k)) > 0.5)
    assert cert.radius.tolist() == [expected, expected]


def test_predict_abstains_on_a_coin_flip_and_answers_a_clear_vote():
    # k = d/2: pixel 0 kept half the time, so classes 0 and 1 tie in expectation.
    x = torch.rand(1, 1, 28, 28)
    coin = smoothed(KeptAmong([0]), D // 2).counts(x, 2000, [3])
    pred = smoothed(KeptAmong([0]), D // 2).predict(x, 2000, 0.05, [3])
    assert pred.tolist() == certificates.predict_from_counts(coin.numpy(), 0.05).tolist()
    pvalue = stats.binomtest(int(coin[0, 0]), int(coin[0, :2].sum()), 0.5).pvalue
    assert (pred[0] == -1) == (pvalue > 0.05)
    assert smoothed(Constant(7), 45).predict(x, 100, 0.05, [0]).tolist() == [7]


def run_votes(base, images, indices, tmp_path, name, **kwargs):
    out = tmp_path / f"{name}.npz"
    count_votes(
        smoothed(base, 60, batch_size=64),  # two images a group
        images,
        torch.zeros(len(images)),
        indices,
        {"select": 30, "bound": 200, "predict": 100},
        seed=11,
        out_path=out,
        **kwargs,
    )
    with np.load(out) as blob:
        return {key: blob[key] for key in blob.files}


def test_count_votes_does_not_depend_on_sharding(tmp_path):
    base = KeptAmong([3, 300, 600, 700])
    images = torch.rand(6, 1, 28, 28)
    whole = run_votes(base, images, np.arange(6), tmp_path, "whole")
    first = run_votes(base, images[:2], np.arange(2), tmp_path, "first")
    second = run_votes(base, images[2:], np.arange(2, 6), tmp_path, "second")
    for stage in ("select", "bound", "predict"):
        joined = np.concatenate([first[f"counts_{stage}"], second[f"counts_{stage}"]])
        assert np.array_equal(whole[f"counts_{stage}"], joined)
        assert (whole[f"counts_{stage}"].sum(1) == whole[f"n_{stage}"]).all()
    assert whole["k"] == 60 and whole["d"] == D and whole["seed"] == 11


def test_count_votes_resumes_after_a_kill(tmp_path, monkeypatch):
    base = KeptAmong([3, 300, 600, 700])
    images = torch.rand(8, 1, 28, 28)
    reference = run_votes(base, images, np.arange(8), tmp_path, "reference")

    calls = {"n": 0}
    original = Smoothed.counts

    def dying_counts(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 6:  # two groups of images counted, then the job dies
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    checkpoint = tmp_path / "partial.npz"
    monkeypatch.setattr(Smoothed, "counts", dying_counts)
    with pytest.raises(KeyboardInterrupt):
        run_votes(
            base,
            images,
            np.arange(8),
            tmp_path,
            "resumed",
            checkpoint_path=checkpoint,
            checkpoint_seconds=0,
        )
    assert checkpoint.exists()
    assert not (tmp_path / "resumed.npz").exists()
    monkeypatch.setattr(Smoothed, "counts", original)
    resumed = run_votes(base, images, np.arange(8), tmp_path, "resumed", checkpoint_path=checkpoint)
    assert not checkpoint.exists()
    for key, value in reference.items():
        assert np.array_equal(value, resumed[key]), key


def test_count_votes_files_keep_their_layout(tmp_path, monkeypatch):
    # Checkpoints of running jobs must stay resumable and results comparable byte for byte:
    # the checkpoint is done, the header, then the counts (stored); the result, compressed,
    # the header and the counts. Each checkpoint passes the failpoint "votes-group", counted.
    passed = []
    monkeypatch.setattr(files, "failpoint", lambda name, count: passed.append((name, count)))
    checkpoints = []
    save = files.save_npz

    def recording_save(path, arrays, compressed=False):
        if str(path).endswith("partial.npz"):
            checkpoints.append((list(arrays), int(arrays["done"]), compressed))
        save(path, arrays, compressed)

    monkeypatch.setattr(files, "save_npz", recording_save)
    images = torch.rand(5, 1, 28, 28)
    checkpoint = tmp_path / "partial.npz"
    votes = run_votes(
        Constant(3),
        images,
        np.arange(5),
        tmp_path,
        "v",
        checkpoint_path=checkpoint,
        checkpoint_seconds=0,
    )
    # the scheme's record comes after the counts: it is not part of the header a checkpoint
    # must match, so checkpoints written before schemes were recorded still resume
    header = ["index", "label", "k", "d", "seed", "n_select", "n_bound", "n_predict"]
    counts = ["counts_select", "counts_bound", "counts_predict", "scheme"]
    assert checkpoints == [(["done", *header, *counts], done, False) for done in (2, 4, 5)]
    assert passed == [("votes-group", 1), ("votes-group", 2), ("votes-group", 3)]
    assert list(votes) == [*header, *counts]
    assert read_scheme(votes) == SamplingScheme({"select": 30, "bound": 200, "predict": 100})
    assert votes["counts_select"].dtype == np.int64 and votes["index"].dtype == np.int64
    with zipfile.ZipFile(tmp_path / "v.npz") as archive:
        assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_DEFLATED}
    assert not checkpoint.exists()


def test_bf16_votes_agree_with_fp32_on_a_trained_model(mnist, trained_k45):
    images, labels = mnist["test"]
    x, y = images[:12], labels[:12]
    seeds = [100 + i for i in range(len(x))]
    enc = get_encoding("multichannel", 1)
    c32 = Smoothed(trained_k45, 45, enc, 10, precision="fp32", device="cpu").counts(x, 1000, seeds)
    c16 = Smoothed(trained_k45, 45, enc, 10, precision="bf16", device="cpu").counts(x, 1000, seeds)
    # The model is really trained: the smoothed vote is mostly right.
    assert (c32.argmax(1) == y).float().mean() >= 0.75
    # Same keep-sets: at most 2% of the votes of any image move between classes ...
    moved = (c32 - c16).abs().sum(1) / 2
    assert moved.max() <= 20, moved
    # ... so the top class agrees wherever fp32's lead over the runner-up exceeds that.
    top2 = c32.topk(2, dim=1).values
    clear = (top2[:, 0] - top2[:, 1]) > 2 * moved
    assert clear.sum() >= 8
    assert torch.equal(c32.argmax(1)[clear], c16.argmax(1)[clear])


def test_bf16_on_an_amx_cpu_runs_fused_layers_and_fp32_the_model_as_written(monkeypatch):
    from randablate.models import build_model

    base = build_model("cnn", 2, 10)
    enc = get_encoding("multichannel", 1)

    def layers(precision: str, amx: bool, **kwargs) -> list[str]:
        monkeypatch.setattr(smoothing, "fused_inference_helps", lambda: amx)
        model = Smoothed(base, 45, enc, 10, precision=precision, device="cpu", **kwargs)
        assert model.channels_last
        return [type(layer).__name__ for layer in model.model]

    plain = ["Conv2d", "ReLU", "Conv2d", "ReLU", "Flatten", "Linear", "ReLU", "Linear"]
    if torch.backends.mkldnn.is_available():
        assert layers("bf16", amx=True)[:2] == ["_CellConvs", "_FlattenChannelsLast"]
    assert layers("bf16", amx=False)[:8] == plain  # no AMX: the plain bf16 model
    assert layers("fp32", amx=True)[:8] == plain  # fp32 is never fused: bit for bit as before
    assert layers("bf16", amx=True, compile=True)[:8] == plain  # compile fuses on its own


@pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="needs oneDNN")
def test_fused_bf16_votes_match_plain_bf16_votes_on_a_trained_model(
    mnist, trained_k45, monkeypatch
):
    images, _ = mnist["test"]
    x = images[:12]
    seeds = [200 + i for i in range(len(x))]
    enc = get_encoding("multichannel", 1)
    counts = {}
    for fused in (True, False):
        monkeypatch.setattr(smoothing, "fused_inference_helps", lambda fused=fused: fused)
        model = Smoothed(trained_k45, 45, enc, 10, precision="bf16", device="cpu")
        assert (type(model.model[0]).__name__ == "_CellConvs") == fused
        counts[fused] = model.counts(x, 1000, seeds)
        assert torch.equal(counts[fused], model.counts(x, 1000, seeds))  # deterministic
    # Same keep-sets, logits that differ by bf16 rounding: a vote moves only on a near tie.
    moved = (counts[True] - counts[False]).abs().sum(1) / 2
    assert moved.max() <= 10, moved
    assert (counts[True].sum(1) == 1000).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_counts_match_cpu_counts():
    base = KeptAmong([1, 2, 3, 500])
    x = torch.rand(2, 1, 28, 28)
    cpu = smoothed(base, 80).counts(x, 3000, [1, 2])
    cuda = Smoothed(base, 80, get_encoding("multichannel", 1), 10, device="cuda").counts(
        x, 3000, [1, 2]
    )
    assert torch.equal(cpu, cuda)


def check_bad_settings_are_refused() -> None:
    x = torch.rand(2, 1, 28, 28)
    with pytest.raises(ValueError, match="precision must be one of"):
        smoothed(Constant(0), 45, precision="fp8")
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        smoothed(Constant(0), 45, batch_size=0)
    with pytest.raises(ValueError, match="got 1 seeds for 2 images"):
        smoothed(Constant(0), 45).counts(x, 10, [0])
    with pytest.raises(ValueError, match="got 3 seeds for 2 images"):
        smoothed(Constant(0), 45).certify(x, 5, 10, 0.05, [0, 1, 2])
    with pytest.raises(ValueError, match="got 1 seeds for 2 images"):
        smoothed(Constant(0), 45).certify_radius(x, 1, 0.05, 5, (10,), [0])
    with pytest.raises(TypeError, match=r"torch\.Generator"):
        smoothed(Constant(0), 45).counts(x[:1], 10, torch.Generator())
    with pytest.raises(TypeError, match="one seed per image"):
        smoothed(Constant(0), 45).counts(x[:1], 10, 3)
    with pytest.raises(ValueError, match=r"k=900 must be in 1\.\.d=784"):
        smoothed(Constant(0), 900).counts(x, 10)
    with pytest.raises(ValueError, match=r"k=0 must be in 1\.\.d=784"):
        smoothed(Constant(0), 0).counts(x, 10)


@pytest.mark.parametrize("planted", [None, "fp8 accepted"])
def test_bad_settings_are_refused(planted, monkeypatch):
    if planted is None:
        check_bad_settings_are_refused()
    else:  # precisions that let fp8 through: the check must notice
        monkeypatch.setattr(names, "PRECISIONS", (*names.PRECISIONS, "fp8"))
        with pytest.raises(pytest.fail.Exception, match="DID NOT RAISE"):
            check_bad_settings_are_refused()


def test_load_smoothed_refuses_a_model_of_another_k(tmp_path):
    from randablate.models import build_model, save_model

    meta = {"arch": "cnn", "in_channels": 2, "num_classes": 10, "k": 45}
    meta.update(get_encoding("multichannel", 1).describe())
    save_model(tmp_path / "m.pt", build_model("cnn", 2, 10), meta)
    loaded, back = smoothing.load_smoothed(tmp_path / "m.pt", 45, device="cpu")
    assert loaded.k == 45 and back["k"] == 45 and loaded.encoding.out_channels == 2
    with pytest.raises(ValueError, match="trained with k=45, not 30"):
        smoothing.load_smoothed(tmp_path / "m.pt", 30, device="cpu")


class _PixelCounter(nn.Module):
    """Votes class 1 when the top-left pixel is kept and bright, else class 0."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hit = x[:, 0, 0, 0] > 0.5  # multichannel: channel 0 is the image, 0 when ablated
        return torch.stack([(~hit).float(), hit.float()], dim=1)


def test_base_accuracy_is_the_share_of_correct_single_ablations():
    """Label 1 images with a bright corner are right exactly when the corner is kept (k/d)."""
    images = torch.zeros(6, 1, 4, 4)
    images[:, 0, 0, 0] = 1.0
    labels = torch.tensor([1, 1, 1, 1, 0, 0])
    smoothed = Smoothed(_PixelCounter(), 4, get_encoding("multichannel", 1), 2, 64)
    accuracy = smoothing.base_accuracy(smoothed, images, labels, samples=2000, seed=5)
    # images 0-3: P(corner kept) = 4/16; images 4-5: right when it is not kept, 12/16
    expected = (4 * 0.25 + 2 * 0.75) / 6
    assert accuracy == pytest.approx(expected, abs=0.02)
    again = smoothing.base_accuracy(smoothed, images, labels, samples=2000, seed=5)
    assert again == accuracy


def test_images_that_are_not_a_batch_in_0_1_are_refused():
    model = smoothed(Constant(3), 45)
    good = torch.rand(2, 1, 28, 28)
    assert model.counts(good, 5).sum().item() == 10
    with pytest.raises(ValueError, match=r"x.unsqueeze\(0\)"):
        model.counts(good[0], 5)  # one image (C, H, W)
    with pytest.raises(ValueError, match=r"dtype torch.uint8.*x / 255"):
        model.counts((good * 255).to(torch.uint8), 5)
    with pytest.raises(ValueError, match=r"values in \[0, 254"):
        model.counts((good * 255).round().clamp(max=254), 5)  # 0-255 floats
    with pytest.raises(ValueError, match="built for 1 channels, got 3"):
        model.counts(torch.rand(2, 3, 28, 28), 5)
    with pytest.raises(TypeError, match="ndarray"):
        model.counts(good.numpy(), 5)
    mean3 = Smoothed(Constant(3), 45, get_encoding("mean", 3, mean=[0.5] * 3), 10, device="cpu")
    with pytest.raises(ValueError, match="mean encoding was built for 3 channels, got 1"):
        mean3.counts(good, 5)  # a grey image is not broadcast to three channels


def test_the_base_model_is_left_as_it_was_on_the_cpu():
    base = Constant(2)
    base.train()
    model = smoothed(base, 45)
    assert model.model is not base  # converted (channels-last) copy; the caller's model unchanged
    assert base.training and base.dummy.dtype == torch.float32


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_a_model_already_on_the_gpu_is_not_copied():
    base = Constant(2).cuda()
    model = Smoothed(base, 45, get_encoding("multichannel", 1), 10, device="cuda")
    assert model.model is base
    assert (
        Smoothed(base, 45, get_encoding("multichannel", 1), 10, precision="bf16").model is not base
    )


def test_training_defaults_to_cuda_when_present(tmp_path, caplog, monkeypatch):
    import logging

    from randablate import devices, training
    from randablate.training import TrainSettings, train

    assert devices.default_device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    seen = {}
    real = training.default_device

    def pretend(*args):
        seen["asked"] = True
        return real()

    monkeypatch.setattr(training, "default_device", pretend)
    images, labels = torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))
    settings = TrainSettings(epochs=1, batch_size=8, lr_schedule=[[1, 0.01]])
    model = nn.Sequential(nn.Flatten(), nn.Linear(2 * 28 * 28, 10))
    with caplog.at_level(logging.INFO):
        train(model, get_encoding("multichannel", 1), 45, images, labels, settings, tmp_path / "c")
    assert seen == {"asked": True}
    assert f"training on {real()}" in caplog.text
    assert next(model.parameters()).device.type == real().type


class BrightKept(nn.Module):
    """Votes for the number of bright kept pixels among `pixels`, through a 1x1 conv and ReLU.

    The convolution reads channel 0 of the multichannel code (the pixel when kept, 0 when
    ablated), so the vote depends on the image and on its keep-set, and is exact in fp32.
    """

    def __init__(self, pixels: list[int]) -> None:
        super().__init__()
        self.pixels = pixels
        self.conv = nn.Conv2d(2, 1, 1, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor([1.0, 0.0]).view(1, 2, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seen = torch.relu(self.conv(x)).flatten(1)[:, self.pixels]
        bright = (seen > 0.5).sum(1).clamp(max=9)
        return nn.functional.one_hot(bright, 10).float()


def per_image_counts(model: Smoothed, x: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """model.counts with one random stream per image (the one place this file passes streams)."""
    return model.counts(x, n, list(range(seed, seed + len(x))))


def _slices_the_padding(self: Smoothed, inputs: torch.Tensor) -> torch.Tensor:
    """A planted fault: the padded last batch keeps the padding's logits, not the first rows'."""
    short = self.batch_size - len(inputs)
    padded = torch.cat([inputs, inputs.new_zeros((max(short, 0), *inputs.shape[1:]))])
    return self.compiled(padded)[max(short, 0) :]


@pytest.mark.parametrize("planted", [None, "padding sliced wrong"])
def test_compiled_counting_gives_the_same_votes_in_fp32(planted, monkeypatch):
    # torch.compile with frozen weights (conv + ReLU fused) must not change a vote in fp32,
    # including the last, padded batch (7 * 30 = 210 samples in batches of 64: 18 real rows).
    # The base's votes depend on the image and the keep-set (padding rows would vote 0).
    # `planted` swaps in a slicing fault in the padded batch and checks that the test sees it.
    x = torch.rand(7, 1, 28, 28, generator=generator(0))
    base = BrightKept(list(range(0, D, 13)))  # 61 pixels, about 1.7 bright and kept a sample
    plain = per_image_counts(smoothed(base, 45, batch_size=64), x, 30, seed=3)
    assert (plain.sum(1) == 30).all()
    assert plain[:, 0].sum() < 0.3 * plain.sum()  # class 0 (what padding votes) is a minority
    if planted is None:
        compiled = smoothed(base, 45, batch_size=64, compile=True)
        assert compiled.compiled is not None
    else:  # the same padding path, without the cost of compiling twice
        monkeypatch.setattr(Smoothed, "_forward_one", _slices_the_padding)
        compiled = smoothed(base, 45, batch_size=64)
        compiled.compiled = compiled.model
    again = per_image_counts(compiled, x, 30, seed=3)
    if planted is None:
        assert torch.equal(again, plain)
    else:
        assert not torch.equal(again, plain)
