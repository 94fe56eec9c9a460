"""PIXEL's ``--pooler_add_layer_norm=True`` pooler (``task.head_options.pooler_layer_norm``) against the reference.

The pinned logits were computed by xplip/pixel's own ``PoolingForSequenceClassificationHead`` (src/pixel/models/
pooling.py, commit 1b0da2942ac0da13b98fd31dbbd720f9a438d8b7; ``add_layer_norm=True``, ``hidden_dropout_prob=0.1``,
eval mode) followed by ``nn.Linear(8, 3)`` as ``PIXELForSequenceClassification.classifier``, on the states, mask and
weights ``_grid`` makes below (run outside this project; the reference code is not part of it). The reference stores
these weights as ``pooler.linear.*``, ``pooler.ln.*`` and ``classifier.*``.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from pixelkit.trainer.heads import get_head
from pixelkit.trainer.heads.sequence import SequenceHead
from pixelkit.trainer.spec import ConfigError

H, K = 8, 3
REFERENCE = {  # pooling mode -> logits (2 rows x 3 classes) of the reference pooler + classifier
    "mean": [[0.393359, 0.112327, 0.694143], [1.030722, -0.486779, 1.243532]],
    "max": [[7.370288, -6.977063, 7.760401], [8.136302, -7.707237, 8.44077]],
}


def _grid(*shape, a=0.37, b=0.11):
    n = 1
    for s in shape:
        n *= s
    return torch.sin(torch.arange(n, dtype=torch.float64) * a + b).reshape(shape).float()


def _enc():
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])  # row 0: three attended patches, two padding
    return SimpleNamespace(hidden=_grid(2, 5, H) * 2.0, mask=mask, cls=None)


def _head(mode: str, **opts) -> SequenceHead:
    options = {**get_head("sequence").options, "pooling": mode, "pooler_layer_norm": True, **opts}
    head = SequenceHead(H, K, options, SimpleNamespace(causal=False, has_cls=True))
    with torch.no_grad():  # the reference's weights, under our names
        head.pool_dense.weight.copy_(_grid(H, H, a=0.53) * 0.5)
        head.pool_dense.bias.copy_(_grid(H, a=0.29) * 0.1)
        head.pool_norm.weight.copy_(1 + _grid(H, a=0.71) * 0.3)
        head.pool_norm.bias.copy_(_grid(H, a=0.19) * 0.2)
        head.out.weight.copy_(_grid(K, H, a=0.41))
        head.out.bias.copy_(_grid(K, a=0.23))
    return head.eval()


@pytest.mark.parametrize("mode", ["mean", "max"])
def test_pooler_layer_norm_equals_pixels_pooler(mode):
    head = _head(mode)
    assert head.pool_norm.eps == 1e-12  # the reference's nn.LayerNorm(hidden_size, eps=1e-12)
    with torch.no_grad():
        logits = head(_enc())[1]["logits"]
    assert torch.allclose(logits, torch.tensor(REFERENCE[mode]), atol=2e-5), logits.tolist()
    # padding never counts: changing the padded states leaves row 0 as it was
    enc = _enc()
    enc.hidden[0, 3:] = 50.0
    with torch.no_grad():
        assert torch.allclose(head(enc)[1]["logits"][0], logits[0], atol=1e-6)


def test_without_the_option_the_head_pools_the_states_directly():
    """The option changes the output (it is not a no-op), and without it there are no pooler weights."""
    plain = SequenceHead(H, K, {**get_head("sequence").options, "pooling": "mean"},
                         SimpleNamespace(causal=False, has_cls=True))
    assert not hasattr(plain, "pool_norm")
    with torch.no_grad():
        plain.out.weight.copy_(_grid(K, H, a=0.41))
        plain.out.bias.copy_(_grid(K, a=0.23))
        got = plain.eval()(_enc())[1]["logits"]
    assert not torch.allclose(got, torch.tensor(REFERENCE["mean"]), atol=1e-2)


def test_pooler_layer_norm_refused_where_pixel_has_no_such_pooler():
    enc = SimpleNamespace(causal=False, has_cls=True)
    base = {**get_head("sequence").options, "pooler_layer_norm": True}
    with pytest.raises(ConfigError, match="pooler_layer_norm .*not 'cls': PIXEL ignores it"):
        SequenceHead(H, K, {**base, "pooling": "cls"}, enc)
    with pytest.raises(ConfigError, match="pooler_layer_norm .*not 'pma'"):
        SequenceHead(H, K, {**base, "pooling": "pma"}, enc)
    with pytest.raises(ConfigError, match="pooler_layer_norm .*not 'last' .*PixelGPT"):  # auto on a causal encoder
        SequenceHead(H, K, {**base, "pooling": "auto"}, SimpleNamespace(causal=True, has_cls=False))
    with pytest.raises(ConfigError, match="pooler_layer_norm must be true or false, not 'yes'"):
        SequenceHead(H, K, {**base, "pooling": "mean", "pooler_layer_norm": "yes"}, enc)
    assert get_head("sequence").check("classification", "patches", {"pooler_layer_norm": True})["pooler_layer_norm"]


def test_pooler_layer_norm_on_a_real_pixel_task_model(tmp_path):
    """Real CoLA strips through a debug PIXEL: the pooler's weights start as PIXEL's init (LayerNorm 1 / 0), train
    (the loss reaches them) and survive save / load (a task model missing them is refused on load)."""
    import numpy as np

    from conftest import SHARED_DATA
    from pixelkit.schemas import TaskSpec
    from pixelkit.trainer.data import read_samples
    from pixelkit.trainer.finetune import scratch_info
    from pixelkit.trainer.models import get_variant
    from pixelkit.trainer.shardsets import common_info, resolve
    from pixelkit.trainer.taskmodel import TaskConfig, TaskModel, TaskVariant
    from taskdata import make_task

    cola = SHARED_DATA / "glue" / "CoLA" / "train.tsv"
    if not cola.exists():
        pytest.skip(f"{cola} not found (research-use data is read from ../shared/data)")
    d = make_task(tmp_path / "cola", "glue-cola", {"train": cola}, limit=8, max_patches=64)
    s = resolve(str(d / "train"))
    ec = get_variant("pixel").config("debug", {}, scratch_info("pixel", common_info([s])))
    tc = TaskConfig(encoder="pixel", encoder_config=ec.to_dict(), head="sequence",
                    head_options={"pooling": "mean", "pooler_layer_norm": True}, task=TaskSpec.read(d).to_dict())
    torch.manual_seed(0)
    model = TaskModel(tc)
    norm = model.head.pool_norm
    assert torch.equal(norm.weight, torch.ones_like(norm.weight)) and not norm.bias.any()
    samples = list(read_samples(s.urls))
    batch = TaskVariant.collate(samples[:4], model.config, np.random.default_rng(0))
    out = model(**batch)
    out.loss.backward()
    assert norm.weight.grad.abs().sum() > 0 and model.head.pool_dense.weight.grad.abs().sum() > 0
    model.save_pretrained(tmp_path / "saved")
    back = TaskModel.from_pretrained(tmp_path / "saved").eval()
    assert torch.equal(back.head.pool_dense.weight, model.head.pool_dense.weight)
    with torch.no_grad():
        assert torch.allclose(back(**batch).logits, model.eval()(**batch).logits, atol=1e-6)
