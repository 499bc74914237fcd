import pytest
import torch

from randablate.models import build_model, load_model, save_model


def test_mnist_cnn_has_the_papers_shapes():
    model = build_model("cnn", 2, 10)
    shapes = []
    x = torch.rand(3, 2, 28, 28)
    for layer in model:
        x = layer(x)
        shapes.append(tuple(x.shape[1:]))
    assert shapes[0] == (64, 14, 14)
    assert shapes[2] == (128, 7, 7)
    assert shapes[4] == (6272,)
    assert shapes[5] == (500,)
    assert shapes[7] == (100,)
    assert shapes[-1] == (10,)


def test_save_and_load_round_trip(tmp_path):
    model = build_model("cnn", 1, 10)
    meta = {"arch": "cnn", "in_channels": 1, "num_classes": 10, "k": 45}
    save_model(tmp_path / "m.pt", model, meta)
    loaded, loaded_meta = load_model(tmp_path / "m.pt")
    assert loaded_meta == meta
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(model.eval()(x), loaded(x))


def test_bad_models_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model("vgg", 2, 10)
    with pytest.raises(ValueError, match="lacks"):
        save_model(tmp_path / "m.pt", build_model("cnn", 2, 10), {"arch": "cnn"})
    with pytest.raises(FileNotFoundError, match="no model file"):
        load_model(tmp_path / "missing.pt")
