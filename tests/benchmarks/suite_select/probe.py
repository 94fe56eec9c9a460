"""Is there signal in the pooled states the tiny suite's GLUE heads read? The pretrained (not finetuned) DualGPT
debug encoder's `last` and `mean` pooled states on pixel and text input, how much they vary across rows (std / mean
magnitude), and a logistic regression on them (train rows -> held-out rows); beside it, the same regression on four
word-overlap / length features of the pair, as a floor of what the data allows.

    .venv/bin/python tests/benchmarks/suite_select/probe.py RUN_DIR DATA_DIR [ENCODER]
    (RUN_DIR: a select.yaml run of the task, e.g. out/suite-select/runs/mrpc-last/seed-42, for its head config;
     DATA_DIR: that run's task shards, out/suite-select/data/glue-mrpc-*; ENCODER: the pretrained model/ dir,
     default out/train/dualgpt/model)
"""
import re
import sys

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from pixelkit.trainer.data import read_samples
from pixelkit.trainer.shardsets import resolve
from pixelkit.trainer.finetune import read_split
from pixelkit.trainer.taskmodel import TaskModel, TaskConfig, TaskVariant
from pixelkit.trainer.loading import load_encoder
torch.manual_seed(0)
run, data = sys.argv[1], sys.argv[2]
encoder = sys.argv[3] if len(sys.argv) > 3 else "out/train/dualgpt/model"
base = TaskModel.from_pretrained(run + "/model").config
def feats(modality, split):
    cfg = TaskConfig(**{**base.to_dict(), "modality": modality})
    m = TaskModel(cfg); load_encoder(m, encoder); m.eval()
    ss = list(read_samples(resolve(read_split(data, split)).urls))
    L, M, y = [], [], []
    with torch.no_grad():
        for i in range(0, len(ss), 64):
            b = TaskVariant.collate(ss[i:i+64], cfg, None); b.pop("labels")
            enc = m.encoder(**b)
            h, msk = enc.hidden, enc.mask.bool()
            last = (torch.arange(msk.shape[1]) * msk.long()).argmax(1)
            L.append(h[torch.arange(h.shape[0]), last].numpy())
            w = msk.float()[..., None]; M.append(((h*w).sum(1)/w.sum(1)).numpy())
    y = np.array([s.label for s in ss]); return np.concatenate(L), np.concatenate(M), y, ss
def words(t): return set(re.findall(r"\w+", t.lower()))
for modality in ("pixel", "text"):
    Ltr, Mtr, ytr, str_ = feats(modality, "train"); Lte, Mte, yte, ste = feats(modality, "validation")
    for name, a, b in (("last", Ltr, Lte), ("mean", Mtr, Mte)):
        sc = StandardScaler().fit(a)
        for C in (0.01, 1.0):
            lr = LogisticRegression(C=C, max_iter=2000, class_weight="balanced").fit(sc.transform(a), ytr)
            p = lr.predict(sc.transform(b))
            print(f"{modality:5s} {name}: C={C} train acc {lr.score(sc.transform(a), ytr):.3f} heldout acc {np.mean(p==yte):.3f} pred1 {p.mean():.2f} (majority {max(np.mean(yte), 1-np.mean(yte)):.3f}); std across rows / norm {a.std(0).mean()/np.abs(a).mean():.3f}")
# lexical overlap only (pairs)
def ov(ss):
    out=[]
    for s in ss:
        parts = s.text.split("\n", 1)
        if len(parts) < 2: out.append([len(s.text)]); continue
        a, b = words(parts[0]), words(parts[1])
        out.append([len(a & b) / max(1, len(b)), len(a & b) / max(1, len(a | b)), len(a), len(b)])
    return np.array(out)
lr = LogisticRegression(max_iter=2000).fit(ov(str_), ytr)
print("overlap/length features LR heldout acc", round(lr.score(ov(ste), yte), 3))
