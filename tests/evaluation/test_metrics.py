"""Every metric against a small example worked out by hand (the arithmetic is in the comments)."""

import math

import numpy as np
import pytest
import scipy.sparse as sp

from aigc_biz.evaluation import metrics as m

# Three users, six items. -1 pads user 1's list; user 1 has no held-out items.
#   user 0 list [3, 1, 4, 0], held out {0, 1, 5}  -> hits at ranks 2 and 4
#   user 1 list [2, 5, 1, -1], held out {}        -> NaN for every accuracy metric
#   user 2 list [0, 2, 3, 4], held out {4}        -> hit at rank 4
TOPK = np.array([[3, 1, 4, 0], [2, 5, 1, -1], [0, 2, 3, 4]])
TARGET = sp.csr_matrix(np.array([[1, 1, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 1, 0]], dtype=np.float32))
# training popularity (users per item, 4 training users); item 3 was never bought
POPULARITY = np.array([4, 2, 1, 0, 2, 1], dtype=float)
CATEGORIES = np.array(["a", "a", "b", None, "b", "c"], dtype=object)


def check(values, expected):
    np.testing.assert_allclose(values, np.array(expected, dtype=float), rtol=1e-5, atol=1e-9, equal_nan=True)


def test_hits_matrix_marks_held_out_items_and_ignores_padding():
    check(m.hits_matrix(TOPK, TARGET, 4), [[0, 1, 0, 1], [0, 0, 0, 0], [0, 0, 0, 1]])


def test_recall():
    # user 0: 1 hit in top-2 of 3 held out = 1/3; 2 hits in top-4 = 2/3.  user 2: 0/1, then 1/1
    check(m.recall_at_k(TOPK, TARGET, 2), [1 / 3, np.nan, 0.0])
    check(m.recall_at_k(TOPK, TARGET, 4), [2 / 3, np.nan, 1.0])


def test_ndcg():
    # user 0 @4: DCG = 1/log2(3) + 1/log2(5) = 0.630930 + 0.430677 = 1.061606;
    #            ideal over min(4, 3) = 3 ranks: 1 + 0.630930 + 0.5 = 2.130930 -> 0.498188
    # user 2 @4: DCG = 1/log2(5) = 0.430677; ideal over 1 rank = 1 -> 0.430677
    # user 0 @2: DCG = 0.630930; ideal over 2 ranks = 1.630930 -> 0.386853
    check(m.ndcg_at_k(TOPK, TARGET, 4), [1.061606 / 2.130930, np.nan, 0.430677])
    check(m.ndcg_at_k(TOPK, TARGET, 2), [0.630930 / 1.630930, np.nan, 0.0])


def test_precision():
    # hits / k: user 0 -> 1/2 and 2/4; user 2 -> 0/2 and 1/4
    check(m.precision_at_k(TOPK, TARGET, 2), [0.5, np.nan, 0.0])
    check(m.precision_at_k(TOPK, TARGET, 4), [0.5, np.nan, 0.25])


def test_average_precision():
    # user 0 @4: precision at the hit ranks 2 and 4 is 1/2 and 2/4; (0.5 + 0.5) / min(4, 3) = 1/3
    # user 2 @4: precision at rank 4 is 1/4; 0.25 / min(4, 1) = 0.25
    # user 0 @2: only the rank-2 hit: 0.5 / min(2, 3) = 0.25
    check(m.average_precision_at_k(TOPK, TARGET, 4), [1 / 3, np.nan, 0.25])
    check(m.average_precision_at_k(TOPK, TARGET, 2), [0.25, np.nan, 0.0])


def test_hit_rate():
    # any hit in the top-k: user 0 yes at both cut-offs; user 2 only by rank 4
    check(m.hit_rate_at_k(TOPK, TARGET, 2), [1.0, np.nan, 0.0])
    check(m.hit_rate_at_k(TOPK, TARGET, 4), [1.0, np.nan, 1.0])


def test_reciprocal_rank():
    # first hit: user 0 at rank 2 -> 1/2; user 2 at rank 4 -> 1/4 (none within the top-2 -> 0)
    check(m.reciprocal_rank_at_k(TOPK, TARGET, 4), [0.5, np.nan, 0.25])
    check(m.reciprocal_rank_at_k(TOPK, TARGET, 2), [0.5, np.nan, 0.0])


def test_catalogue_coverage():
    # top-2 lists {3,1} {2,5} {0,2}: distinct {0,1,2,3,5} = 5 of 6 items; top-4 lists cover all 6
    assert m.catalogue_coverage(TOPK, 6, 2) == pytest.approx(5 / 6)
    assert m.catalogue_coverage(TOPK, 6, 4) == pytest.approx(1.0)


def test_item_popularity_counts_users_not_quantities():
    # item 0: bought by users 0 (3 units) and 1 -> 2 users; item 1: user 1 -> 1; item 2: nobody
    train = sp.csr_matrix(np.array([[3.0, 0, 0], [1.0, 5.0, 0]]))
    check(m.item_popularity(train), [2, 1, 0])


def test_novelty():
    # self-information -log2(users of item / 4 users): item 0 -> -log2(4/4) = 0, items 1, 4 -> -log2(2/4) = 1,
    # items 2, 5 -> -log2(1/4) = 2, item 3 (never bought, counted as once) -> 2
    # top-2: user 0 [3, 1] -> (2 + 1)/2 = 1.5; user 1 [2, 5] -> 2; user 2 [0, 2] -> (0 + 2)/2 = 1
    check(m.novelty(TOPK, POPULARITY, 4, 2), [1.5, 2.0, 1.0])
    # top-4: user 1 has three valid items [2, 5, 1] -> (2 + 2 + 1)/3
    check(m.novelty(TOPK, POPULARITY, 4, 4)[1], 5 / 3)


def test_average_recommended_popularity():
    # top-2: user 0 [3, 1] -> (0 + 2)/2 = 1; user 1 [2, 5] -> (1 + 1)/2 = 1; user 2 [0, 2] -> (4 + 1)/2 = 2.5
    check(m.average_recommended_popularity(TOPK, POPULARITY, 2), [1.0, 1.0, 2.5])


def test_popularity_percentile():
    # popularity [4, 2, 1, 0, 2, 1]; share of items at most as popular: item 3 -> 1/6, items 2, 5 -> 3/6,
    # items 1, 4 -> 5/6, item 0 -> 6/6
    # top-2: user 0 [3, 1] -> (1/6 + 5/6)/2 = 0.5; user 1 [2, 5] -> 0.5; user 2 [0, 2] -> (1 + 0.5)/2 = 0.75
    check(m.popularity_percentile(TOPK, POPULARITY, 2), [0.5, 0.5, 0.75])


def test_intra_list_diversity():
    # categories a a b ? b c (item 3 unknown, its pairs are left out)
    # top-4: user 0 [3, 1, 4, 0] -> a, b, a: pairs (1,4) differ, (1,0) same, (4,0) differ -> 2/3
    #        user 1 [2, 5, 1] -> b, c, a: all 3 pairs differ -> 1
    #        user 2 [0, 2, 3, 4] -> a, b, b: (0,2) differ, (0,4) differ, (2,4) same -> 2/3
    check(m.intra_list_diversity(TOPK, CATEGORIES, 4), [2 / 3, 1.0, 2 / 3])
    # top-2: user 0 [3, 1] has one categorised item -> no pair -> NaN; users 1 and 2 have one differing pair
    check(m.intra_list_diversity(TOPK, CATEGORIES, 2), [np.nan, 1.0, 1.0])


def test_intra_list_diversity_without_categories_is_none():
    assert m.intra_list_diversity(TOPK, None, 4) is None
    assert m.intra_list_diversity(TOPK, [None] * 6, 4) is None


def test_bootstrap_ci_contains_mean_and_is_deterministic():
    values = np.array([0.0, 1.0, 1.0, 0.0, 1.0, np.nan])  # NaN (no target) is dropped: mean 3/5
    first = m.bootstrap_ci(values, n_boot=500, seed=3)
    assert first == m.bootstrap_ci(values, n_boot=500, seed=3)
    mean, low, high = first
    assert mean == pytest.approx(0.6)
    assert 0.0 <= low <= mean <= high <= 1.0
    # another seed draws other resamples: on a spread-out sample the interval ends move
    spread = np.arange(20.0) ** 2
    assert m.bootstrap_ci(spread, n_boot=200, seed=3) != m.bootstrap_ci(spread, n_boot=200, seed=4)


def test_bootstrap_ci_width_matches_the_normal_approximation():
    # 400 users, half hits: standard error sqrt(0.25/400) = 0.025, 95 % half-width 1.96 * 0.025 = 0.049
    values = np.tile([0.0, 1.0], 200)
    mean, low, high = m.bootstrap_ci(values, n_boot=2000, seed=0)
    assert mean == 0.5
    assert high - mean == pytest.approx(0.049, abs=0.008)
    assert mean - low == pytest.approx(0.049, abs=0.008)


def test_bootstrap_ci_degenerate_samples():
    assert m.bootstrap_ci([0.25, 0.25, 0.25]) == (0.25, 0.25, 0.25)
    assert all(math.isnan(x) for x in m.bootstrap_ci([np.nan, np.nan]))


def test_coverage_ci_is_below_the_full_sample_and_deterministic():
    # resampling users can only lose items, so the interval ends at or below the full-sample 5/6
    cov, low, high = m.coverage_ci(TOPK, 6, 2, n_boot=300, seed=1)
    assert cov == pytest.approx(5 / 6)
    assert low <= high <= cov + 1e-12
    assert low < cov
    assert m.coverage_ci(TOPK, 6, 2, n_boot=300, seed=1) == (cov, low, high)
