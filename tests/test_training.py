"""Training: the paper's schedule, resuming after a kill, refusing foreign checkpoints."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from conftest import killed_at_call, paper_config

from randablate import training, training_draws
from randablate.ablation import keep_masks
from randablate.data import TrainingData
from randablate.devices import DeviceGrant
from randablate.encoding import IMAGENET_NORMALIZE, channel_mean, get_encoding
from randablate.models import build_model, load_model
from randablate.seeding import derive_seed
from randablate.training import TrainSettings, augment_crop_flip, train


def brief(**changes: object) -> TrainSettings:
    """One epoch at one learning rate, with `changes`."""
    return TrainSettings(**{"epochs": 1, "lr_schedule": [[1, 0.01]], **changes})


def test_the_configs_mnist_schedule_is_the_papers():
    s = TrainSettings(**paper_config()["training"]["mnist"])
    assert (s.epochs, s.batch_size, s.optimizer, s.momentum, s.weight_decay) == (
        400,
        128,
        "sgd",
        0.9,
        0.0,
    )
    assert [s.lr_at(e) for e in (1, 200, 201, 400)] == [0.01, 0.01, 0.001, 0.001]
    # The authors resumed epoch 200's weights in a new run: a fresh optimizer at epoch 201 only.
    assert [e for e in range(1, 401) if s.restarts_at(e)] == [201]
    assert not dataclasses.replace(s, restart_optimizer=False).restarts_at(201)


def test_the_schedule_has_no_default():
    # The paper's epochs and learning rates live in config/config.yaml, not in the library.
    with pytest.raises(TypeError, match="epochs"):
        TrainSettings(lr_schedule=[[1, 0.01]])
    with pytest.raises(TypeError, match="lr_schedule"):
        TrainSettings(epochs=400)
    # The fields and their order are what checkpoints record (asdict), unchanged.
    assert [f.name for f in dataclasses.fields(TrainSettings)] == [
        "epochs",
        "batch_size",
        "optimizer",
        "lr_schedule",
        "momentum",
        "weight_decay",
        "precision",
        "checkpoint_every",
        "seed",
        "max_train_images",
        "augmentation",
        "workers",
        "restart_optimizer",
    ]


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="optimizer"):
        brief(optimizer="rmsprop")
    with pytest.raises(ValueError, match="epoch 1"):
        brief(lr_schedule=[[2, 0.1]])
    with pytest.raises(ValueError, match="precision"):
        brief(precision="fp16")
    with pytest.raises(ValueError, match="augmentation"):
        brief(augmentation="mixup")
    with pytest.raises(ValueError, match="workers"):
        brief(workers=-1)
    assert (brief().augmentation, brief().workers) == ("none", 0)


def toy_data(n: int = 96) -> tuple[torch.Tensor, torch.Tensor]:
    """Images whose class is written in their brightness: learnable from a few pixels."""
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 10, (n,), generator=gen)
    images = (labels.float() / 9.0).view(n, 1, 1, 1).expand(n, 1, 28, 28).clone()
    images += 0.02 * torch.rand(images.shape, generator=gen)
    return images.clamp(0, 1), labels


def fresh_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("cnn", 2, 10)


SETTINGS = TrainSettings(
    epochs=4, batch_size=32, optimizer="adam", lr_schedule=[[1, 1e-3]], checkpoint_every=1
)


def test_resume_after_kill_gives_the_same_weights(tmp_path, monkeypatch):
    encoding = get_encoding("multichannel", 1)
    images, labels = toy_data()
    reference = fresh_model()
    train(reference, encoding, 30, images, labels, SETTINGS, tmp_path / "ref.pt")

    real_epoch = killed_at_call(monkeypatch, training, "train_epoch", 3)
    killed = fresh_model()
    with pytest.raises(KeyboardInterrupt):
        train(killed, encoding, 30, images, labels, SETTINGS, tmp_path / "run.pt")
    assert torch.load(tmp_path / "run.pt", weights_only=False)["epoch"] == 2
    monkeypatch.setattr(training, "train_epoch", real_epoch)

    resumed = fresh_model()  # a new process starts from fresh weights, then loads the checkpoint
    result = train(resumed, encoding, 30, images, labels, SETTINGS, tmp_path / "run.pt")
    assert [h["epoch"] for h in result["history"]] == [1, 2, 3, 4]
    for a, b in zip(reference.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_checkpoint_of_other_settings_is_refused(tmp_path):
    encoding = get_encoding("multichannel", 1)
    images, labels = toy_data()
    train(fresh_model(), encoding, 30, images, labels, SETTINGS, tmp_path / "c.pt")
    with pytest.raises(ValueError, match="other settings"):
        train(fresh_model(), encoding, 31, images, labels, SETTINGS, tmp_path / "c.pt")
    # The pipeline discards it instead and trains from scratch, as a fresh run would.
    discarded = fresh_model()
    result = train(
        discarded,
        encoding,
        31,
        images,
        labels,
        SETTINGS,
        tmp_path / "c.pt",
        discard_mismatched=True,
    )
    clean = fresh_model()
    train(clean, encoding, 31, images, labels, SETTINGS, tmp_path / "clean.pt")
    assert [h["epoch"] for h in result["history"]] == list(range(1, SETTINGS.epochs + 1))
    assert torch.load(tmp_path / "c.pt", weights_only=False)["k"] == 31
    for a, b in zip(clean.state_dict().values(), discarded.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_learning_rates_follow_the_schedule(tmp_path):
    encoding = get_encoding("multichannel", 1)
    images, labels = toy_data(32)
    settings = TrainSettings(epochs=3, batch_size=32, lr_schedule=[[1, 0.05], [3, 0.005]])
    result = train(fresh_model(), encoding, 30, images, labels, settings, tmp_path / "c.pt")
    assert [h["lr"] for h in result["history"]] == [0.05, 0.05, 0.005]


def test_trained_base_classifier_is_accurate_on_ablated_test_images(mnist, trained_k45):
    # One short epoch on 20k images (conftest): single k = 45 ablations, far above chance (10%).
    images, labels = mnist["test"]
    x, y = images[:2000], labels[:2000]
    gen = torch.Generator().manual_seed(5)
    keep = keep_masks(len(x), 28 * 28, 45, gen)
    with torch.no_grad():
        guess = trained_k45(get_encoding("multichannel", 1)(x, keep)).argmax(1)
    assert (guess == y).float().mean() > 0.4


# --- Augmentation (Table 11) ---------------------------------------------------------------


def test_crop_flip_takes_each_image_from_its_zero_padded_self():
    x = torch.arange(16 * 3 * 6 * 5, dtype=torch.float32).view(16, 3, 6, 5) + 1
    gen = torch.Generator().manual_seed(3)
    replay = torch.Generator().set_state(gen.get_state())
    out = augment_crop_flip(x, gen, padding=2)
    assert out.shape == x.shape
    # Independently, image by image, from the documented draws: offsets then flips.
    offsets = torch.randint(0, 5, (16, 2), generator=replay)
    flips = torch.randint(0, 2, (16,), generator=replay)
    for i in range(16):
        top, left = offsets[i].tolist()
        crop = torch.nn.functional.pad(x[i], (2, 2, 2, 2))[:, top : top + 6, left : left + 5]
        assert torch.equal(out[i], crop.flip(-1) if flips[i] else crop)
    assert 0 < int(flips.sum()) < 16


def test_crop_flip_draws_every_offset_and_flip():
    n, padding = 400, 1
    x = torch.rand(n, 2, 5, 5) + 1  # no zeros, so padding shows
    out = augment_crop_flip(x, torch.Generator().manual_seed(0), padding)
    padded = torch.nn.functional.pad(x, (padding,) * 4)
    seen = set()
    for i in range(n):
        matches = [
            (top, left, flip)
            for top in range(3)
            for left in range(3)
            for flip in (False, True)
            if torch.equal(
                out[i],
                padded[i, :, top : top + 5, left : left + 5].flip(-1)
                if flip
                else padded[i, :, top : top + 5, left : left + 5],
            )
        ]
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) == 18
    # Zero padding: shifted images have exactly one zero row or column per shifted axis.
    assert (out == 0).any() and not (x == 0).any()


def test_crop_flip_is_deterministic_given_the_seed():
    x = torch.rand(8, 3, 32, 32)
    first = augment_crop_flip(x, torch.Generator().manual_seed(7))
    again = augment_crop_flip(x, torch.Generator().manual_seed(7))
    other = augment_crop_flip(x, torch.Generator().manual_seed(8))
    assert torch.equal(first, again) and not torch.equal(first, other)
    flipped_only = augment_crop_flip(x, torch.Generator().manual_seed(7), padding=0)
    for i in range(8):  # without padding the only randomness left is the flip
        assert torch.equal(flipped_only[i], x[i]) or torch.equal(flipped_only[i], x[i].flip(-1))


# --- Training paths ------------------------------------------------------------------------


def colour_data(n: int = 64, size: int = 28) -> tuple[torch.Tensor, torch.Tensor]:
    """Colour images whose class is their colour, plus a little noise."""
    gen = torch.Generator().manual_seed(1)
    palette = torch.tensor([[1.0, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]])
    labels = torch.randint(0, 4, (n,), generator=gen)
    images = palette[labels].view(n, 3, 1, 1).expand(n, 3, size, size).clone()
    images += 0.1 * torch.rand(images.shape, generator=gen)
    return images.clamp(0, 1), labels


def colour_model(arch: str = "cnn") -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(arch, 6, 4)


COLOUR = TrainSettings(
    epochs=2,
    batch_size=16,
    lr_schedule=[[1, 0.01]],
    weight_decay=5e-4,
    checkpoint_every=1,
    augmentation="crop-flip",
)


def train_killed_then_resumed(monkeypatch, tmp_path, data, labels, settings, k, arch="cnn"):
    """Train until killed in epoch 2, then resume in a 'new process'; returns the model."""
    encoding = get_encoding("multichannel", 3)
    real_epoch = killed_at_call(monkeypatch, training, "train_epoch", 2)
    with pytest.raises(KeyboardInterrupt):
        train(colour_model(arch), encoding, k, data, labels, settings, tmp_path / "run.pt")
    assert torch.load(tmp_path / "run.pt", weights_only=False)["epoch"] == 1
    monkeypatch.setattr(training, "train_epoch", real_epoch)
    resumed = colour_model(arch)
    result = train(resumed, encoding, k, data, labels, settings, tmp_path / "run.pt")
    assert [h["epoch"] for h in result["history"]] == [1, 2]
    return resumed


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    pairs = zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    return all(torch.equal(x, y) for x, y in pairs)


def test_crop_flip_training_resumes_to_the_same_weights(tmp_path, monkeypatch):
    images, labels = colour_data()
    encoding = get_encoding("multichannel", 3)
    reference = colour_model()
    train(reference, encoding, 100, images, labels, COLOUR, tmp_path / "ref.pt")
    resumed = train_killed_then_resumed(monkeypatch, tmp_path, images, labels, COLOUR, 100)
    assert same_weights(reference, resumed)
    plain = colour_model()
    settings = TrainSettings(**{**vars(COLOUR), "augmentation": "none"})
    train(plain, encoding, 100, images, labels, settings, tmp_path / "plain.pt")
    assert not same_weights(reference, plain)  # the augmentation changed what was seen


MASK = (1 << 64) - 1


def splitmix64_int(seed: int, counter: int) -> int:
    """SplitMix64's output `counter` of stream `seed`, with unsigned Python integers."""
    z = (seed + (counter + 1) * 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def uniform_int(seed: int, counter: int) -> float:
    """The float64 in [0, 1) of the top 53 bits of `splitmix64_int`."""
    return (splitmix64_int(seed, counter) >> 11) * 2.0**-53


def floyd(us: list[float], d: int, k: int) -> set[int]:
    """The keep-set Floyd's algorithm makes from min(k, d - k) uniforms, one pixel at a time."""
    m, chosen = len(us), set()
    for i, u in enumerate(us):
        j = d - m + i
        t = min(int(u * (j + 1)), j)
        chosen.add(j if t in chosen else t)
    return chosen if m == k else set(range(d)) - chosen


def test_training_draws_come_from_the_epochs_streams(tmp_path):
    # Re-derived with Python integers: the shuffle sorts images by their uniform in the epoch's
    # "train-shuffle" stream; minibatch b keeps the pixels Floyd picks from uniforms b*m .. b*m+m-1
    # of the "train-ablation" stream (m = min(k, d - k)).
    images, labels = colour_data(40)
    encoding = get_encoding("multichannel", 3)
    settings = TrainSettings(
        epochs=2, batch_size=16, optimizer="adam", lr_schedule=[[1, 1e-3]], seed=9
    )
    model = colour_model()
    train(model, encoding, 60, images, labels, settings, tmp_path / "c.pt")
    reference = colour_model()
    optimizer = torch.optim.Adam(reference.parameters(), lr=1e-3, fused=True)
    for epoch in (1, 2):
        shuffle = derive_seed(9, "train-shuffle", epoch)
        ablation = derive_seed(9, "train-ablation", epoch)
        order = sorted(range(40), key=lambda i: uniform_int(shuffle, i))
        for b, start in enumerate(range(0, 40, 16)):
            batch = order[start : start + 16]
            kept = floyd([uniform_int(ablation, b * 60 + i) for i in range(60)], 28 * 28, 60)
            keep = torch.zeros(len(batch), 28 * 28, dtype=torch.bool)
            keep[:, sorted(kept)] = True
            loss = torch.nn.functional.cross_entropy(
                reference(encoding(images[batch], keep)), labels[batch]
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    assert same_weights(model, reference)


def test_crop_flip_draws_come_from_the_augment_stream():
    seeds = torch.tensor([derive_seed(3, "train-augment", 1), 12345])
    positions = torch.arange(100, 140)
    offsets, flips = training_draws.crop_flip_draws(seeds, positions, padding=4)
    assert offsets.shape == (2, 40, 2) and flips.shape == (2, 40)
    for row, seed in enumerate(seeds.tolist()):
        for col, p in enumerate(positions.tolist()):
            u = [uniform_int(seed, 3 * p + j) for j in range(3)]
            assert offsets[row, col].tolist() == [int(u[0] * 9), int(u[1] * 9)]
            assert bool(flips[row, col]) == (u[2] < 0.5)
    assert set(offsets.flatten().tolist()) == set(range(9))


def test_crop_flip_from_draws_is_the_generator_versions():
    x = torch.rand(6, 3, 8, 8)
    gen = torch.Generator().manual_seed(2)
    replay = torch.Generator().set_state(gen.get_state())
    offsets = torch.randint(0, 5, (6, 2), generator=replay)
    flips = torch.randint(0, 2, (6,), generator=replay).bool()
    assert torch.equal(
        augment_crop_flip(x, gen, 2), training_draws.crop_flip(x, offsets, flips, padding=2)
    )


def test_dataset_path_trains_and_resumes_to_the_same_weights(tmp_path, monkeypatch):
    images, labels = colour_data()
    dataset = torch.utils.data.TensorDataset(images, labels)
    encoding = get_encoding("multichannel", 3)
    reference = colour_model()
    result = train(reference, encoding, 100, dataset, None, COLOUR, tmp_path / "ref.pt")
    assert [h["epoch"] for h in result["history"]] == [1, 2]
    assert not same_weights(reference, colour_model())
    resumed = train_killed_then_resumed(monkeypatch, tmp_path, dataset, None, COLOUR, 100)
    assert same_weights(reference, resumed)


class RandomlyFlipped(torch.utils.data.Dataset):
    """Images flipped at random by the global torch RNG, as torchvision transforms do."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        image = self.images[i]
        if torch.rand(()) < 0.5:
            image = image.flip(-1)
        return image, int(self.labels[i])


@pytest.mark.parametrize("workers", [0, 2])
def test_dataset_transforms_are_reproducible(tmp_path, workers):
    images, labels = colour_data(32)
    images[:, :, :, :14] = 0  # left half black, so flips matter
    dataset = RandomlyFlipped(images, labels)
    settings = TrainSettings(
        epochs=2, batch_size=16, lr_schedule=[[1, 0.01]], workers=workers, checkpoint_every=1
    )
    encoding = get_encoding("multichannel", 3)
    models = []
    for run in range(2):
        model = colour_model()
        torch.manual_seed(run)  # the global RNG state before training must not matter
        train(model, encoding, 200, dataset, None, settings, tmp_path / f"{run}.pt")
        models.append(model)
    assert same_weights(*models)


class ConstantGuess(torch.nn.Module):
    """Logits that ignore the input (with a weight, so the optimiser has something to hold)."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = torch.nn.Parameter(torch.tensor([0.0, 0.0, 0.0, 2.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bias.expand(len(x), 4) + 0 * x.sum()


@pytest.mark.parametrize("as_dataset", [False, True])
def test_epoch_statistics_are_means_over_samples(tmp_path, as_dataset):
    # 50 images in minibatches of 16, 16, 16, 2: per-sample means, not means of batch means.
    images, labels = colour_data(60)
    settings = TrainSettings(epochs=1, batch_size=16, lr_schedule=[[1, 0.0]], max_train_images=50)
    data = torch.utils.data.TensorDataset(images, labels) if as_dataset else images
    encoding = get_encoding("multichannel", 3)
    result = train(
        ConstantGuess(),
        encoding,
        10,
        data,
        None if as_dataset else labels,
        settings,
        tmp_path / "c.pt",
    )
    (stats,) = result["history"]
    first = labels[:50]
    assert stats["accuracy"] == int((first == 3).sum()) / 50
    log_p = torch.log_softmax(torch.tensor([0.0, 0.0, 0.0, 2.0], dtype=torch.float64), 0)
    assert stats["loss"] == pytest.approx(-log_p[first].mean().item(), rel=1e-6)


def test_cifar_resnet18_trains_with_crop_flip(tmp_path):
    images, labels = colour_data(8, size=32)
    settings = TrainSettings(
        epochs=1, batch_size=4, lr_schedule=[[1, 0.01]], augmentation="crop-flip"
    )
    model = colour_model("resnet18")
    before = [p.detach().clone() for p in model.parameters()]
    result = train(
        model, get_encoding("multichannel", 3), 500, images, labels, settings, tmp_path / "c.pt"
    )
    assert torch.isfinite(torch.tensor(result["history"][0]["loss"]))
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_inconsistent_training_data_is_refused(tmp_path):
    images, labels = colour_data(8)
    encoding = get_encoding("multichannel", 3)
    resized = brief(augmentation="resized-crop-flip")
    with pytest.raises(ValueError, match="Dataset's transforms"):
        train(colour_model(), encoding, 10, images, labels, resized, tmp_path / "a.pt")
    dataset = torch.utils.data.TensorDataset(images, labels)
    with pytest.raises(ValueError, match="labels=None"):
        train(colour_model(), encoding, 10, dataset, labels, SETTINGS, tmp_path / "b.pt")
    with pytest.raises(ValueError, match="labels are needed"):
        train(colour_model(), encoding, 10, images, None, SETTINGS, tmp_path / "c.pt")


RESTARTED = TrainSettings(
    epochs=4,
    batch_size=16,
    lr_schedule=[[1, 0.05], [3, 0.005]],
    momentum=0.9,
    checkpoint_every=1,
)


def sgd(model: torch.nn.Module, lr: float) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, fused=True)


def staged_reference(restart: bool) -> torch.nn.Module:
    """Epochs 1-2 at lr 0.05, then 3-4 at lr 0.005, with a new SGD (restart) or the same one."""
    images, labels = toy_data(48)
    encoding = get_encoding("multichannel", 1)
    model = fresh_model()
    optimizer = sgd(model, 0.05)
    for epoch in (1, 2, 3, 4):
        if epoch == 3:
            if restart:
                optimizer = sgd(model, 0.005)
            for group in optimizer.param_groups:
                group["lr"] = 0.005
        training.train_epoch(model, encoding, 30, images, labels, optimizer, RESTARTED, epoch)
    return model


def test_a_new_learning_rate_starts_a_fresh_optimizer(tmp_path):
    images, labels = toy_data(48)
    encoding = get_encoding("multichannel", 1)
    restarted = fresh_model()
    train(restarted, encoding, 30, images, labels, RESTARTED, tmp_path / "a.pt")
    assert same_weights(restarted, staged_reference(restart=True))
    # momentum buffers hold only epochs 3-4: the checkpoint's optimizer is the fresh one
    state = torch.load(tmp_path / "a.pt", weights_only=False)["optimizer"]["state"]
    assert state and all(torch.isfinite(s["momentum_buffer"]).all() for s in state.values())

    kept = fresh_model()
    settings = TrainSettings(**{**vars(RESTARTED), "restart_optimizer": False})
    train(kept, encoding, 30, images, labels, settings, tmp_path / "b.pt")
    assert same_weights(kept, staged_reference(restart=False))
    assert not same_weights(kept, restarted)  # the momentum carried over changed the weights


@pytest.mark.parametrize("killed_in", [3, 4])
def test_a_run_killed_around_the_restart_resumes_to_the_same_weights(
    tmp_path, monkeypatch, killed_in
):
    images, labels = toy_data(48)
    encoding = get_encoding("multichannel", 1)
    real_epoch = training.train_epoch

    def dies(*args, **kwargs):
        if args[7] == killed_in:  # the epoch argument
            raise KeyboardInterrupt("killed")
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(training, "train_epoch", dies)
    with pytest.raises(KeyboardInterrupt):
        train(fresh_model(), encoding, 30, images, labels, RESTARTED, tmp_path / "run.pt")
    monkeypatch.setattr(training, "train_epoch", real_epoch)
    resumed = fresh_model()
    train(resumed, encoding, 30, images, labels, RESTARTED, tmp_path / "run.pt")
    assert same_weights(resumed, staged_reference(restart=True))


def test_a_dataset_epoch_leaves_the_global_rng_as_it_was():
    images, labels = colour_data(20)
    dataset = RandomlyFlipped(images, labels)
    model = colour_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    encoding = get_encoding("multichannel", 3)
    torch.manual_seed(11)
    state = torch.get_rng_state()
    training.train_epoch(model, encoding, 50, dataset, None, optimizer, brief(batch_size=8), 1)
    assert torch.equal(torch.get_rng_state(), state)


# --- The pipeline's training job -----------------------------------------------------------


def test_the_mean_encodings_null_is_the_training_images_channel_means():
    images, _ = colour_data(16)
    encoding = training.training_encoding("mean", "cifar10", images)
    assert encoding.describe()["mean"] == pytest.approx(channel_mean(images))
    dataset = torch.utils.data.TensorDataset(images, torch.zeros(16))
    imagenet = training.training_encoding("mean", "imagenet", dataset)
    assert imagenet.describe()["mean"] == pytest.approx(list(IMAGENET_NORMALIZE[0]))
    assert training.training_encoding("multichannel", "mnist", images).out_channels == 2


@pytest.mark.parametrize("encoding_name", ["mean", "multichannel"])
def test_train_and_save_records_how_the_model_was_made(tmp_path, monkeypatch, encoding_name):
    images, labels = toy_data(40)
    monkeypatch.setattr(
        training,
        "load_training_data",
        lambda dataset, directory: TrainingData(images, labels, 10, len(images)),
    )
    config = {"epochs": 2, "batch_size": 16, "optimizer": "adam", "lr_schedule": [[1, 1e-3]]}
    training.train_and_save(
        tmp_path / "model.pt",
        tmp_path / "checkpoint.pt",
        training.TrainingJob(
            {"dataset": "mnist", "dir": "unused"},
            encoding_name,
            "cnn",
            base_seed=3,
            grant=DeviceGrant(tmp_path / "locks"),
            repo=tmp_path,
        ),
        k=30,
        settings=config,
    )
    model, meta = load_model(tmp_path / "model.pt")
    seed = derive_seed(3, "train", "mnist", encoding_name, "cnn", 30)
    assert (meta["arch"], meta["k"], meta["dataset"]) == ("cnn", 30, "mnist")
    assert meta["num_classes"] == 10
    assert (meta["seed"], meta["training"], meta["train_images"]) == (seed, config, 40)
    assert meta["encoding"] == encoding_name
    assert [h["epoch"] for h in meta["history"]] == [1, 2]
    assert set(meta["provenance"]) == {"git_commit", "packages", "hardware", "device"}
    assert meta["provenance"]["git_commit"] == "unknown (not a git checkout)"

    # The same model as training it by hand with the derived seed.
    encoding = training.training_encoding(encoding_name, "mnist", images)
    assert meta["in_channels"] == encoding.out_channels
    if encoding_name == "mean":
        assert meta["mean"] == pytest.approx(channel_mean(images))
    torch.manual_seed(seed)
    by_hand = build_model("cnn", encoding.out_channels, 10)
    settings = TrainSettings(**config, seed=seed)
    device = meta["provenance"]["device"]
    train(by_hand, encoding, 30, images, labels, settings, tmp_path / "by_hand.pt", device)
    assert same_weights(model, by_hand.cpu())
