import itertools
import math

import numpy as np
import pytest
import torch
from scipy import stats

from randablate.ablation import (
    draw_uniforms,
    keep_masks,
    keep_masks_from_streams,
    keep_masks_from_uniforms,
    kept_pixels_from_streams,
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


# Keep-sets from counter-based streams (vote counting): sample j of stream s is Floyd's algorithm
# fed by uniforms(s, j * m .. j * m + m - 1). The trials below sit where a weak hash or a bad
# counter layout would show: consecutive samples of one stream, the same sample of adjacent
# seeds (0, 1, 2, ...), and samples far into a stream.


def stream_masks(seeds, samples, d: int, k: int) -> torch.Tensor:
    seeds = torch.as_tensor(seeds, dtype=torch.int64)
    samples = torch.as_tensor(samples, dtype=torch.int64)
    return keep_masks_from_streams(*torch.broadcast_tensors(seeds, samples), d, k)


LAYOUTS = {
    "one stream, consecutive samples": lambda num: (7, torch.arange(num)),
    "adjacent seeds, sample 0": lambda num: (torch.arange(num), 0),
    "far into a stream": lambda num: (123, 2**40 + torch.arange(num)),
}


@pytest.mark.parametrize(
    ("d", "k"), [(784, 45), (784, 1), (784, 0), (784, 784), (784, 700), (10, 5), (50176, 1000)]
)
def test_stream_keep_sets_have_exactly_k_pixels(d, k):
    masks = stream_masks(3, torch.arange(257), d, k)
    assert masks.shape == (257, d) and masks.dtype == torch.bool
    assert (masks.sum(1) == k).all()


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(("d", "k"), [(784, 45), (784, 700)])
def test_stream_pixel_frequencies_are_uniform(layout, d, k):
    num = 20000
    hits = stream_masks(*LAYOUTS[layout](num), d, k).sum(0).numpy()
    p = stats.chisquare(hits, np.full(d, num * k / d)).pvalue
    assert p > 1e-4, (layout, p)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(("d", "k"), [(24, 5), (24, 19)])
def test_stream_pair_frequencies_are_uniform(layout, d, k):
    # Every pair of pixels is kept together with probability k(k-1) / (d(d-1)).
    num = 40000
    masks = stream_masks(*LAYOUTS[layout](num), d, k).double()
    together = (masks.T @ masks).numpy()[np.triu_indices(d, 1)]
    expected = np.full(together.shape, num * k * (k - 1) / (d * (d - 1)))
    p = stats.chisquare(together, expected).pvalue
    assert p > 1e-4, (layout, p)


@pytest.mark.parametrize(("d", "k"), [(6, 2), (6, 4)])
def test_every_subset_is_equally_likely_from_a_stream(d, k):
    num = 30000
    masks = stream_masks(11, torch.arange(num), d, k).numpy()
    codes = masks @ (1 << np.arange(d))
    subsets = [sum(1 << i for i in c) for c in itertools.combinations(range(d), k)]
    counts = np.array([(codes == s).sum() for s in subsets])
    assert counts.sum() == num
    assert stats.chisquare(counts).pvalue > 1e-4, counts


NEIGHBOURS = {
    "next sample of the stream": lambda j: (5, j + 1),
    "same sample of the next seed": lambda j: (5 + 1, j),
}


@pytest.mark.parametrize("neighbour", NEIGHBOURS)
def test_neighbouring_keep_sets_are_independent(neighbour):
    # Two independent uniform k-sets share a hypergeometric(d, k, k) number of pixels.
    d, k, num = 784, 45, 20000
    j = torch.arange(0, 2 * num, 2)
    first = stream_masks(5, j, d, k)
    second = stream_masks(*NEIGHBOURS[neighbour](j), d, k)
    shared = (first & second).sum(1).numpy()
    law = stats.hypergeom(d, k, k)
    top = 6  # bins 0..5 and >= 6
    observed = np.array([(shared == s).sum() for s in range(top)] + [(shared >= top).sum()])
    expected = num * np.append(law.pmf(np.arange(top)), law.sf(top - 1))
    assert stats.chisquare(observed, expected).pvalue > 1e-4, observed


def test_stream_keep_sets_depend_on_their_seed_and_sample_only():
    seeds = torch.tensor([1, 2, 3, 1, 2, 3])
    samples = torch.tensor([0, 0, 0, 5, 5, 5])
    masks = stream_masks(seeds, samples, 784, 45)
    order = torch.tensor([4, 0, 5, 2, 1, 3])
    assert torch.equal(stream_masks(seeds[order], samples[order], 784, 45), masks[order])
    assert torch.equal(stream_masks([2], [5], 784, 45)[0], masks[4])
    assert len({tuple(row.nonzero().flatten().tolist()) for row in masks}) == 6


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_stream_keep_sets_are_identical_on_cpu_and_cuda():
    seeds = torch.arange(1000) * 7919 + 2**62
    samples = torch.arange(1000) * 1013
    for d, k in [(784, 45), (784, 700), (3072, 75)]:
        cpu = stream_masks(seeds, samples, d, k)
        cuda = stream_masks(seeds.cuda(), samples.cuda(), d, k)
        assert cuda.device.type == "cuda"
        assert torch.equal(cpu, cuda.cpu())


@pytest.mark.parametrize(("d", "k"), [(784, 45), (784, 392), (10, 1), (784, 0)])
def test_kept_pixels_are_the_masks_keep_sets(d, k):
    seeds, samples = torch.arange(300) % 7, torch.arange(300) * 3
    kept = kept_pixels_from_streams(seeds, samples, d, k)
    assert kept.shape == (300, k)
    mask = torch.zeros(300, d, dtype=torch.bool).scatter_(1, kept, True)
    assert (mask.sum(1) == k).all()  # k different pixels
    assert torch.equal(mask, keep_masks_from_streams(seeds, samples, d, k))


def test_kept_pixels_refuse_k_above_half():
    with pytest.raises(ValueError, match="k=393"):
        kept_pixels_from_streams(torch.zeros(1, dtype=torch.int64), torch.zeros(1), 784, 393)
