"""Many models trained as one: each ends where `train` takes it alone; checkpoints and refusals."""

from __future__ import annotations

import pytest
import torch
from conftest import killed_at_call

from randablate import training, training_draws
from randablate.ablation import keep_masks_from_uniforms
from randablate.encoding import get_encoding
from randablate.models import build_model
from randablate.streams import uniforms
from randablate.training import StackedOptimizer, TrainSettings, train, train_many

ENCODING = get_encoding("multichannel", 1)
KS = [5, 45, 700]


def fresh(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model("cnn", 2, 10)


def flat(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def relative_difference(a: torch.nn.Module, b: torch.nn.Module) -> float:
    return float((flat(a) - flat(b)).norm() / flat(a).norm())


def group_settings(optimizer: str, schedule: list, **changes: object) -> list[TrainSettings]:
    """One schedule, a seed and a weight decay of each model's own."""
    return [
        TrainSettings(
            epochs=2,
            batch_size=128,
            optimizer=optimizer,
            lr_schedule=schedule,
            seed=10 + row,
            weight_decay=1e-4 * row,
            checkpoint_every=1,
            **changes,
        )
        for row in range(len(KS))
    ]


@pytest.mark.parametrize(
    ("optimizer", "schedule", "tolerance"),
    [
        # SGD as in the paper, with a new rate (and a fresh optimizer) at epoch 2
        ("sgd", [[1, 0.05], [2, 0.005]], 1e-3),
        ("adam", [[1, 1e-3]], 1e-3),
    ],
)
def test_each_model_ends_where_train_takes_it_alone(
    mnist, tmp_path, optimizer, schedule, tolerance
):
    images, labels = mnist["train"][0][:2000], mnist["train"][1][:2000]
    settings = group_settings(optimizer, schedule)
    alone = []
    for row, k in enumerate(KS):
        model = fresh(row)
        train(model, ENCODING, k, images, labels, settings[row], tmp_path / f"alone{row}.pt")
        alone.append(model)
    group = [fresh(row) for row in range(len(KS))]
    paths = [tmp_path / f"group{row}.pt" for row in range(len(KS))]
    histories = train_many(group, ENCODING, KS, images, labels, settings, paths, device="cpu")
    for row in range(len(KS)):
        moved = (flat(alone[row]) - flat(fresh(row))).norm()
        assert relative_difference(alone[row], group[row]) <= tolerance
        assert moved / flat(alone[row]).norm() > 1e-3  # it did train
        # and the two agree on where training moved the weights, to 10 tolerances
        assert (flat(alone[row]) - flat(group[row])).norm() <= 10 * tolerance * moved
        mine = torch.load(tmp_path / f"alone{row}.pt", weights_only=False)["history"]
        theirs = histories[row]["history"]
        assert [h["epoch"] for h in theirs] == [1, 2]
        assert [h["lr"] for h in theirs] == [h["lr"] for h in mine]
        for a, b in zip(mine, theirs, strict=True):
            assert b["loss"] == pytest.approx(a["loss"], rel=tolerance, abs=1e-4)
            assert b["accuracy"] == pytest.approx(a["accuracy"], abs=0.01)
    # different ks, seeds and weight decays make different models
    assert relative_difference(group[0], group[1]) > 0.1


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_the_stacked_update_is_torchs(optimizer):
    settings = [
        TrainSettings(
            epochs=1,
            optimizer=optimizer,
            lr_schedule=[[1, 10.0 ** -(2 + row)]],
            weight_decay=1e-3 * row,
            momentum=0.5 + 0.2 * row,
        )
        for row in range(3)
    ]
    models = [fresh(row) for row in range(3)]
    params = {
        name: torch.stack([dict(m.named_parameters())[name].detach() for m in models])
        .clone()
        .requires_grad_()
        for name, _ in models[0].named_parameters()
    }
    torch_optimizers = [training._optimizer(m, s) for m, s in zip(models, settings, strict=True)]
    stacked = StackedOptimizer(params, settings)
    gen = torch.Generator().manual_seed(1)
    for step in range(6):
        if step == 3:  # model 1 restarts: torch's fresh optimizer against a zeroed state
            stacked.restart([1])
            torch_optimizers[1] = training._optimizer(models[1], settings[1])
        for p in params.values():
            p.grad = torch.randn(p.shape, generator=gen) * 10.0**-step
        for row, model in enumerate(models):
            for name, q in model.named_parameters():
                q.grad = params[name].grad[row].clone()
            torch_optimizers[row].step()
        stacked.step(params)
    for row, model in enumerate(models):
        for name, q in model.named_parameters():
            assert torch.allclose(q, params[name][row], rtol=1e-6, atol=1e-7), (row, name)
        # the checkpointed state is torch's, value for value
        ours = stacked.torch_state(row, model, settings[row])["state"]
        theirs = torch_optimizers[row].state_dict()["state"]
        for index, state in theirs.items():
            for key, value in state.items():
                assert torch.allclose(torch.as_tensor(ours[index][key]), value, rtol=1e-5)


def test_ragged_keep_masks_are_each_rows_own():
    d, ks = 784, torch.tensor([0, 5, 45, 392, 700, 784])
    ms = torch.minimum(ks, d - ks)
    u = training_draws.keep_uniforms(torch.arange(6) * 7919, torch.tensor([3]), ms, int(ms.max()))[
        :, 0
    ]
    ragged = training_draws.keep_masks_ragged(u, d, ks)
    for row, k in enumerate(ks.tolist()):
        own = keep_masks_from_uniforms(u[row : row + 1, : ms[row]], d, k)
        assert torch.equal(ragged[row : row + 1], own)
        assert int(ragged[row].sum()) == k


@pytest.mark.parametrize("ks", [[45], [45, 45], [5, 392, 700]])
def test_an_epochs_keep_sets_are_each_minibatchs_own_draws(ks):
    # drawn 4 minibatches at a time, read across the chunks' edges, against one draw per
    # minibatch from the uniforms b*m .. b*m + m - 1 of each model's stream
    d, seeds = 784, torch.tensor([11, 22, 33][: len(ks)])
    keep_sets = training_draws.EpochKeepSets(seeds, ks, d, chunk=4)
    for b in (0, 3, 4, 9, 2):
        got = keep_sets[b]
        assert got.shape == (len(ks), d)
        for row, k in enumerate(ks):
            m = min(k, d - k)
            u = uniforms(int(seeds[row]), b * m + torch.arange(m))
            assert torch.equal(got[row], keep_masks_from_uniforms(u.unsqueeze(0), d, k)[0])


def test_crop_flip_groups_train_as_each_model_alone(tmp_path):
    # colour images, crop-flip drawn per model and image from each model's own stream
    gen = torch.Generator().manual_seed(1)
    labels = torch.randint(0, 4, (40,), generator=gen)
    images = torch.rand(40, 3, 28, 28, generator=gen) * 0.2
    images[torch.arange(40), labels % 3] += 0.7
    encoding = get_encoding("multichannel", 3)
    settings = [
        TrainSettings(
            epochs=1, batch_size=16, lr_schedule=[[1, 0.05]], seed=row, augmentation="crop-flip"
        )
        for row in range(2)
    ]

    def colour(seed: int) -> torch.nn.Module:
        torch.manual_seed(seed)
        return build_model("cnn", 6, 4)

    alone = []
    for row, k in enumerate((50, 300)):
        model = colour(row)
        train(model, encoding, k, images, labels, settings[row], tmp_path / f"a{row}.pt")
        alone.append(model)
    group = [colour(0), colour(1)]
    paths = [tmp_path / f"g{row}.pt" for row in range(2)]
    train_many(group, encoding, [50, 300], images, labels, settings, paths)
    for a, b in zip(alone, group, strict=True):
        assert relative_difference(a, b) <= 1e-5
    no_flip = [colour(0), colour(1)]
    plain = [TrainSettings(**{**vars(s), "augmentation": "none"}) for s in settings]
    paths = [tmp_path / f"p{row}.pt" for row in range(2)]
    train_many(no_flip, encoding, [50, 300], images, labels, plain, paths)
    assert relative_difference(no_flip[0], group[0]) > 1e-4  # the crops and flips mattered


def small_group(tmp_path, name: str, **changes: object):
    images, labels = toy_data()
    settings = group_settings("sgd", [[1, 0.05], [3, 0.005]], **changes)
    settings = [TrainSettings(**{**vars(s), "epochs": 4, "batch_size": 32}) for s in settings]
    paths = [tmp_path / f"{name}{row}.pt" for row in range(len(KS))]
    return images, labels, settings, paths


def toy_data(n: int = 96) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 10, (n,), generator=gen)
    images = (labels.float() / 9.0).view(n, 1, 1, 1).expand(n, 1, 28, 28).clone()
    return (images + 0.05 * torch.rand(images.shape, generator=gen)).clamp(0, 1), labels


def test_a_killed_group_resumes_to_the_same_weights(tmp_path, monkeypatch):
    images, labels, settings, paths = small_group(tmp_path, "ref")
    reference = [fresh(row) for row in range(3)]
    train_many(reference, ENCODING, KS, images, labels, settings, paths)

    _, _, _, paths = small_group(tmp_path, "run")
    real_epoch = killed_at_call(monkeypatch, training, "_many_epoch", 3)
    with pytest.raises(KeyboardInterrupt):
        train_many([fresh(row) for row in range(3)], ENCODING, KS, images, labels, settings, paths)
    assert all(torch.load(p, weights_only=False)["epoch"] == 2 for p in paths)
    monkeypatch.setattr(training, "_many_epoch", real_epoch)
    resumed = [fresh(row) for row in range(3)]
    result = train_many(resumed, ENCODING, KS, images, labels, settings, paths)
    for row in range(3):
        assert [h["epoch"] for h in result[row]["history"]] == [1, 2, 3, 4]
        assert torch.equal(flat(reference[row]), flat(resumed[row]))
    # train resumes a group's checkpoint: it is train's own format (nothing left to do)
    alone = fresh(0)
    train(alone, ENCODING, KS[0], images, labels, settings[0], paths[0])
    assert torch.equal(flat(alone), flat(reference[0]))


def test_mismatched_checkpoints_are_refused_or_discarded(tmp_path):
    images, labels, settings, paths = small_group(tmp_path, "c")
    settings = [TrainSettings(**{**vars(s), "epochs": 1}) for s in settings]
    train_many([fresh(r) for r in range(3)], ENCODING, KS, images, labels, settings, paths)
    other_ks = [KS[0], KS[1], KS[2] - 1]
    with pytest.raises(ValueError, match=f"checkpoint {paths[2]} was made with other settings"):
        train_many(
            [fresh(r) for r in range(3)], ENCODING, other_ks, images, labels, settings, paths
        )
    discarded = [fresh(r) for r in range(3)]
    # model 2's checkpoint goes; then the group's epochs differ, so all go and it starts over
    train_many(
        discarded, ENCODING, other_ks, images, labels, settings, paths, discard_mismatched=True
    )
    clean = [fresh(r) for r in range(3)]
    clean_paths = [tmp_path / f"clean{r}.pt" for r in range(3)]
    train_many(clean, ENCODING, other_ks, images, labels, settings, clean_paths)
    for a, b in zip(discarded, clean, strict=True):
        assert torch.equal(flat(a), flat(b))
    paths[0].unlink()
    with pytest.raises(ValueError, match="different epochs"):
        train_many(
            [fresh(r) for r in range(3)], ENCODING, other_ks, images, labels, settings, paths
        )


def test_groups_that_cannot_train_as_one_are_refused(tmp_path):
    images, labels, settings, paths = small_group(tmp_path, "r")
    models = [fresh(r) for r in range(3)]
    for key, value in (("batch_size", 16), ("epochs", 5), ("precision", "bf16")):
        changed = [*settings[:2], TrainSettings(**{**vars(settings[2]), key: value})]
        with pytest.raises(ValueError, match=f"setting '{key}' differs"):
            train_many(models, ENCODING, KS, images, labels, changed, paths)
    with pytest.raises(ValueError, match="one k, settings and checkpoint path per model"):
        train_many(models, ENCODING, KS[:2], images, labels, settings, paths)
    with_norm = [torch.nn.Sequential(torch.nn.BatchNorm2d(2), torch.nn.Flatten()) for _ in KS]
    with pytest.raises(ValueError, match="buffers"):
        train_many(with_norm, ENCODING, KS, images, labels, settings, paths)
    mixed = [fresh(0), fresh(1), build_model("cnn", 2, 4)]
    with pytest.raises(ValueError, match="one architecture"):
        train_many(mixed, ENCODING, KS, images, labels, settings, paths)
    dataset = torch.utils.data.TensorDataset(images, labels)
    with pytest.raises(ValueError, match="tensor of images"):
        train_many(models, ENCODING, KS, dataset, None, settings, paths)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_training_draws_are_the_same_on_cuda():
    seeds, ks = torch.tensor([5, 2**62 + 3, 77]), [5, 45, 700]
    on = {}
    for device in ("cpu", "cuda"):
        s = seeds.to(device)
        offsets, flips = training_draws.crop_flip_draws(s, torch.arange(300, device=device), 4)
        keep_sets = training_draws.EpochKeepSets(s, ks, 784, chunk=8)
        on[device] = [
            training_draws.epoch_orders(s, 1000),
            offsets,
            flips,
            *(keep_sets[b] for b in (0, 9, 100)),
        ]
    for a, b in zip(on["cpu"], on["cuda"], strict=True):
        assert torch.equal(a, b.cpu())
