import itertools
import math

import numpy as np
import pytest
import torch
from scipy import stats

from randablate.ablation import (
    draw_uniforms,
    keep_masks,
    keep_masks_from_uniforms,
    shared_keep_mask,
)
from randablate.seeding import generator


@pytest.mark.parametrize(
    ("d", "k"), [(784, 45), (784, 1), (784, 0), (784, 784), (784, 700), (10, 5), (50176, 1000)]
)
def test_each_keep_set_has_exactly_k_pixels(d, k):
    masks = keep_masks(257, d, k, generator(1))
    assert masks.shape == (257, d)
    assert masks.dtype == torch.bool
    assert (masks.sum(1) == k).all()


def test_marginals_are_uniform():
    d, k, num = 20, 6, 40000
    masks = keep_masks(num, d, k, generator(2))
    hits = masks.sum(0).numpy()
    # Every pixel is kept with probability k/d: chi-square against the expected count.
    expected = np.full(d, num * k / d)
    p = stats.chisquare(hits, expected).pvalue
    assert p > 1e-3, (hits, p)
    assert np.allclose(hits / num, k / d, atol=0.01)


@pytest.mark.parametrize(("d", "k"), [(5, 2), (6, 4)])
def test_every_subset_is_equally_likely(d, k):
    num = 30000
    masks = keep_masks(num, d, k, generator(3)).numpy()
    codes = masks @ (1 << np.arange(d))
    subsets = [sum(1 << i for i in c) for c in itertools.combinations(range(d), k)]
    counts = np.array([(codes == s).sum() for s in subsets])
    assert counts.sum() == num  # nothing outside the k-subsets
    assert len(subsets) == math.comb(d, k)
    p = stats.chisquare(counts).pvalue
    assert p > 1e-3, (counts, p)


def test_same_seed_same_keep_sets_other_seed_other_sets():
    a = keep_masks(100, 784, 45, generator(7))
    b = keep_masks(100, 784, 45, generator(7))
    c = keep_masks(100, 784, 45, generator(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_rows_are_independent_draws():
    masks = keep_masks(1000, 784, 45, generator(4))
    assert len({tuple(row.nonzero().flatten().tolist()) for row in masks}) == 1000


def test_shared_keep_mask_is_one_set_for_the_batch():
    masks = shared_keep_mask(128, 784, 45, generator(5))
    assert masks.shape == (128, 784)
    assert (masks == masks[0]).all()
    assert masks[0].sum() == 45


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="k <= d"):
        keep_masks(3, 10, 11)
    with pytest.raises(ValueError, match="uniforms per row"):
        keep_masks_from_uniforms(draw_uniforms(3, 10, 2), 10, 3)
