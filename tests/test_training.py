"""Training: the paper's schedule, resuming after a kill, refusing foreign checkpoints."""

from __future__ import annotations

import pytest
import torch

from randablate import training
from randablate.ablation import keep_masks
from randablate.encoding import get_encoding
from randablate.models import build_model
from randablate.training import TrainSettings, train


def test_paper_schedule_is_the_default():
    s = TrainSettings()
    assert (s.epochs, s.batch_size, s.optimizer, s.momentum, s.weight_decay) == (
        400,
        128,
        "sgd",
        0.9,
        0.0,
    )
    assert [s.lr_at(e) for e in (1, 200, 201, 400)] == [0.01, 0.01, 0.001, 0.001]


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="optimizer"):
        TrainSettings(optimizer="rmsprop")
    with pytest.raises(ValueError, match="epoch 1"):
        TrainSettings(lr_schedule=[[2, 0.1]])
    with pytest.raises(ValueError, match="precision"):
        TrainSettings(precision="fp16")


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

    real_epoch = training.train_epoch
    calls = {"n": 0}

    def dies_in_epoch_three(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed")
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(training, "train_epoch", dies_in_epoch_three)
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
