"""SASRecNet: padding/causality invariants and the sampled-softmax loss against the full one."""

from __future__ import annotations

import math

import pytest
import torch

from aigc_biz.models.sasrec_net import SASRecNet, full_ce_loss, pad_sequences, sampled_softmax_loss, train_step


def test_pad_sequences_left_pads_and_keeps_the_last_items():
    out = pad_sequences([[1, 2, 3, 4, 5], [7]], max_len=3)
    assert out.tolist() == [[3, 4, 5], [0, 0, 7]]


def test_output_is_causal_and_ignores_padding():
    torch.manual_seed(0)
    net = SASRecNet(n_items=20, max_len=8, hidden=16, blocks=2, heads=2, dropout=0.0).eval()
    a = pad_sequences([[3, 4, 5, 6]], 8)  # width 4
    b = pad_sequences([[3, 4, 5, 6], [1, 2, 3, 4, 5, 6, 7, 8]], 8)[:1]  # same row, 4 extra pads
    with torch.no_grad():
        ha, hb = net(a), net(b)
        assert torch.allclose(ha[0], hb[0, 4:], atol=1e-5)  # padding changes nothing
        changed = net(torch.tensor([[3, 4, 5, 9]]))
        assert torch.allclose(ha[0, :3], changed[0, :3], atol=1e-5)  # the future is not seen
        assert not torch.isnan(hb).any()


def test_context_is_optional_and_used():
    torch.manual_seed(0)
    net = SASRecNet(n_items=10, max_len=5, hidden=8, dropout=0.0, context_dim=3).eval()
    seq = torch.tensor([[0, 1, 2]])
    with torch.no_grad():
        assert not torch.allclose(net(seq, torch.zeros(1, 3)), net(seq, torch.ones(1, 3)))
    with pytest.raises(ValueError):
        SASRecNet(n_items=10, max_len=5, hidden=8)(seq, torch.zeros(1, 3))


@pytest.mark.parametrize("popularity", [False, True])
def test_sampled_softmax_with_logq_approaches_full_ce(popularity):
    torch.manual_seed(0)
    n_items, d = 300, 16
    net = SASRecNet(n_items=n_items, max_len=4, hidden=d)
    with torch.no_grad():
        net.item_emb.weight.mul_(3.0)  # make logits spread out
    h = torch.randn(64, 1, d)
    targets = torch.randint(1, n_items + 1, (64, 1))
    with torch.no_grad():
        full = float(full_ce_loss(net, h, targets))
    q = torch.arange(1, n_items + 1, dtype=torch.float).pow(-0.8) if popularity else torch.ones(n_items)
    log_q = (q / q.sum()).log()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        big = sum(float(sampled_softmax_loss(net, h, targets, 20_000, log_q, g)) for _ in range(4)) / 4
        small = float(sampled_softmax_loss(net, h, targets, 50, log_q, g))
    assert abs(big - full) / full < 0.02, (big, full)
    assert small < full  # few negatives underestimate the partition (the estimator's known bias)
    # the gradient of the sampled loss points the same way as the full one
    net.zero_grad()
    full_ce_loss(net, h, targets).backward()
    g_full = net.item_emb.weight.grad.clone()
    net.zero_grad()
    sampled_softmax_loss(net, h, targets, 20_000, log_q, g).backward()
    cos = torch.nn.functional.cosine_similarity(g_full.flatten(), net.item_emb.weight.grad.flatten(), dim=0)
    assert cos > 0.95


def test_train_step_switches_to_sampled_softmax_above_threshold():
    torch.manual_seed(0)
    net = SASRecNet(n_items=50, max_len=6, hidden=8, dropout=0.0)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    seq = pad_sequences([[1, 2, 3, 4, 5], [6, 7, 8]], 6)
    tgt = pad_sequences([[2, 3, 4, 5, 6], [7, 8, 9]], 6)
    first = train_step(net, opt, seq, tgt)
    for _ in range(30):
        last = train_step(net, opt, seq, tgt)
    assert last < first
    assert math.isfinite(train_step(net, opt, seq, tgt, threshold=10, n_neg=20))
