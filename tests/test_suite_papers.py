"""The shipped paper suites' recipes against their reference scripts, entry by entry (torch-free), so a value copied
wrong, or one recipe pasted over every entry, cannot come back silently. The numbers below are read from the
scripts each entry's comment names (line numbers there)."""

from __future__ import annotations

from pixelkit.trainer.suite import expand, load_suite

# ernie-research/pixelgpt 762c942, run/dual_gpt/ft_dual_gpt_<task>_<mode>.sh and
# run/cross_lingual/xnli/{train_en,train_all}/dual_gpt/ft_dual_gpt_xnli_{text,image,pair}.sh:
# (MAX_STEPS, BSZ, BSZ x GRAD_ACCUM x NUM_NODE, EVAL_STEPS, patience (0: IS_EARLY_STOPPING=False), precision flag,
#  LR, WARMUP_STEPS, SEQ_LEN); a swept LR / GRAD_ACCUM taken at 3e-5 / 4
PIXELGPT = {
    "glue-cola-text": (500, 8, 512, 50, 8, "fp32", 3e-05, 10, 768),
    "glue-sst2-text": (8000, 8, 64, 250, 8, "fp32", 1e-05, 100, 768),
    "glue-mrpc-text": (2000, 8, 64, 50, 8, "fp32", 3e-05, 10, 768),
    "glue-stsb-text": (2000, 8, 64, 50, 8, "fp32", 3e-05, 10, 768),
    "glue-qqp-text": (15000, 8, 256, 500, 8, "fp32", 5e-05, 100, 768),
    "glue-mnli-text": (8000, 8, 64, 500, 8, "fp32", 5e-05, 100, 768),
    "glue-qnli-text": (8000, 8, 64, 250, 8, "fp32", 5e-05, 100, 768),
    "glue-rte-text": (500, 8, 32, 50, 8, "fp32", 5e-05, 10, 768),
    "glue-wnli-text": (250, 4, 64, 5, 8, "fp32", 3e-05, 10, 768),
    "glue-cola-pixel": (2000, 8, 256, 50, 8, "fp32", 5e-05, 10, 768),
    "glue-sst2-pixel": (8000, 8, 256, 250, 8, "fp32", 5e-05, 100, 768),
    "glue-mrpc-pixel": (250, 8, 64, 50, 8, "fp32", 5e-05, 10, 768),
    "glue-stsb-pixel": (2000, 8, 64, 50, 8, "fp32", 5e-05, 10, 768),
    "glue-qqp-pixel": (15000, 8, 256, 500, 8, "bf16", 5e-05, 100, 768),
    "glue-mnli-pixel": (15000, 8, 256, 500, 8, "bf16", 3e-05, 100, 768),
    "glue-qnli-pixel": (8000, 8, 64, 250, 8, "fp32", 3e-05, 100, 768),
    "glue-rte-pixel": (250, 8, 64, 50, 8, "fp32", 1e-05, 10, 768),
    "glue-wnli-pixel": (250, 4, 64, 5, 8, "fp32", 3e-05, 10, 768),
    "glue-cola-pair": (2000, 4, 128, 50, 8, "fp32", 3e-05, 10, 512),
    "glue-sst2-pair": (8000, 8, 256, 250, 8, "fp32", 3e-05, 100, 512),
    "glue-mrpc-pair": (2000, 4, 128, 50, 8, "fp32", 3e-05, 10, 512),
    "glue-stsb-pair": (2000, 4, 128, 50, 8, "fp32", 3e-05, 10, 512),
    "glue-qqp-pair": (15000, 8, 256, 500, 8, "bf16", 3e-05, 100, 512),
    "glue-mnli-pair": (15000, 8, 256, 500, 8, "bf16", 3e-05, 100, 512),
    "glue-qnli-pair": (8000, 8, 256, 250, 8, "fp32", 3e-05, 100, 512),
    "glue-rte-pair": (2000, 4, 128, 50, 8, "fp32", 3e-05, 10, 512),
    "glue-wnli-pair": (250, 4, 128, 5, 8, "fp32", 3e-05, 10, 512),
    "xnli-train-en-text": (15000, 8, 64, 500, 0, "fp16", 5e-05, 100, 768),
    "xnli-train-en-pixel": (15000, 8, 256, 500, 8, "fp16", 3e-05, 100, 256),
    "xnli-train-en-pair": (30000, 8, 256, 500, 8, "bf16", 3e-05, 100, 256),
    "xnli-translate-train-all-text": (15000, 8, 64, 500, 0, "fp16", 5e-05, 100, 768),
    "xnli-translate-train-all-pixel": (15000, 8, 256, 500, 8, "fp16", 3e-05, 100, 256),
    "xnli-translate-train-all-pair": (30000, 8, 256, 500, 8, "bf16", 3e-05, 100, 256),
}


def test_pixelgpt_suite_takes_each_entrys_own_script_values():
    suite = load_suite("pixelgpt-paper")
    assert {e.name for e in suite.entries} == set(PIXELGPT)  # 9 GLUE tasks x 3 modes + XNLI 2 protocols x 3 modes
    for e in suite.entries:
        s = expand(e.settings)
        steps, micro, glob, every, patience, prec, lr, warmup, seq = PIXELGPT[e.name]
        got = (s["max_steps"], s["micro_batch_size"], s["global_batch_size"], s["eval_every"], s["task"]["patience"],
               s["engine"]["precision"], s["optim"]["lr"], s["optim"]["warmup_steps"])
        assert got == (steps, micro, glob, every, patience, prec, lr, warmup), e.name
        assert e.seeds == [42], e.name
        # pixel: SEQ_LEN patches; text: SEQ_LEN tokens; pair: SEQ_LEN patches then SEQ_LEN tokens
        want = ["--max_patches", str(seq)] + ([] if e.modality == "pixel" else ["--max_tokens", str(seq)])
        assert e.render == want, e.name
        # STS-B's METRIC_FOR_BEST_MODEL is eval_spearmanr (our regression default would pick by Pearson)
        assert s["task"].get("metric") == ("spearman" if e.task == "glue-stsb" else None), e.name


# april-tools/pixar 810a423, scripts/llama_glue/dllama_2b1M.sh (the README's GLUE command), one train.py line per task:
# (--total_steps, --sub_size, --batch_size, --eval_freq, --warm_up_step, --decay)
PIXAR = {"glue-mnli": (8000, 8, 256, 500, 1000, 0.1), "glue-qqp": (8000, 8, 256, 500, 1000, 0.1),
         "glue-qnli": (4000, 8, 256, 200, 500, 0.1), "glue-sst2": (2000, 8, 256, 200, 200, 0.01),
         "glue-cola": (500, 8, 256, 100, 50, 0.01), "glue-stsb": (2000, 2, 32, 100, 100, 0.01),
         "glue-mrpc": (100, 6, 192, 20, 10, 0.01), "glue-rte": (500, 4, 64, 50, 50, 0.01),
         "glue-wnli": (20, 8, 128, 1, 2, 0.01)}


def test_pixar_suite_takes_the_glue_script_recipes_and_train_py_schedule():
    suite = load_suite("pixar-thesis")
    assert {e.name for e in suite.entries} == set(PIXAR)
    for e in suite.entries:
        s = expand(e.settings)
        got = (s["max_steps"], s["micro_batch_size"], s["global_batch_size"], s["eval_every"],
               s["optim"]["warmup_steps"], s["optim"]["weight_decay"])
        assert got == PIXAR[e.name], e.name
        assert (s["optim"]["lr"], s["optim"]["betas"], e.seeds, s["task"]["patience"]) == (3e-5, [0.9, 0.95], [42], 0)
        # no --scheduler in the script: train_config.py's CosineAnnealingLR, to min_lr = 0.1 x lr (train_utils.py);
        # --mix_precision fp16 on every line
        assert (s["optim"]["schedule"], s["optim"]["min_lr"], s["engine"]["precision"]) == ("cosine", 3e-6, "fp16")


def test_every_shipped_entry_names_the_dev_split_its_best_checkpoint_is_chosen_on():
    # the suite evaluates each run on its languages' `validation` splits only (suite_run.config); MNLI given as
    # validation_matched / validation_mismatched alone trained with no dev evaluation: patience and the best
    # checkpoint were inert and the last step was scored (the reference scripts evaluate on dev_matched)
    for name in ("tiny", "pixel-paper", "pixelgpt-paper", "pixar-thesis"):
        for e in load_suite(name).entries:
            for lang, spec in e.languages.items():
                assert spec.dir or "validation" in spec.inputs, (name, e.name, lang, sorted(spec.inputs))
    for name in ("pixel-paper", "pixelgpt-paper", "pixar-thesis"):
        for e in load_suite(name).entries:
            if e.task == "glue-mnli":
                assert e.languages["en"].inputs["validation"].endswith("dev_matched.tsv"), e.name


# xplip/pixel 1b0da29 README result tables (the paper's): GLUE validation sets, UD POS accuracy / LAS, NER F1
PIXEL_GLUE = {"MNLI-m": 78.1, "MNLI-mm": 78.9, "QQP": 84.5, "QNLI": 87.8, "SST-2": 89.6, "CoLA": 38.4, "STS-B": 81.1,
              "MRPC": 88.2, "RTE": 60.5, "WNLI": 53.8}
PIXEL_UD = {"English-EWT": (96.7, 88.7), "Arabic-PADT": (95.7, 77.3), "Coptic-Scriptorium": (96.0, 83.5),
            "Hindi-HDTB": (96.3, 89.2), "Japanese-GSD": (97.2, 90.7), "Korean-GSD": (94.2, 78.5),
            "Tamil-TTB": (81.0, 52.6), "Vietnamese-VTB": (85.7, 50.5), "Chinese-GSD": (92.8, 73.7)}
PIXEL_NER = {"CoNLL-2003 en": 89.5, "Amharic": 47.7, "Hausa": 82.4, "Igbo": 79.9, "Kinyarwanda": 64.2, "Luganda": 76.5,
             "Luo": 66.6, "Naija Pidgin": 78.7, "Swahili": 79.8, "Wolof": 59.7, "Yoruba": 70.7}


def test_pixel_suite_mirrors_the_readme_tables_at_finetuning_md_settings():
    suite = load_suite("pixel-paper")
    cells = {t: {e.column: e.paper for e in suite.entries if e.table == t} for t in ("glue", "ud-pos", "ud-dp", "ner")}
    assert cells["glue"] == PIXEL_GLUE  # MNLI-M/MM is one cell of two numbers: both columns
    assert cells["ud-pos"] == {k: v[0] for k, v in PIXEL_UD.items()}
    assert cells["ud-dp"] == {k: v[1] for k, v in PIXEL_UD.items()}
    assert cells["ner"] == PIXEL_NER
    # the README's metric per GLUE column: CoLA Matthew's corr., STS-B Spearman, QQP / MRPC F1, the rest accuracy
    shown = {e.column: e.metric for e in suite.entries if e.table == "glue"}
    assert {k: v for k, v in shown.items() if v} == {"STS-B": "spearman"}  # others: the task's main metric
    mm = next(e for e in suite.entries if e.column == "MNLI-mm")
    assert (mm.task, mm.eval_split, mm.languages["en"].inputs["validation"]) == \
        ("glue-mnli", "validation_mismatched", "data/glue/MNLI/dev_matched.tsv")
    # every FINETUNING.md training command: --fp16 (apex)
    assert expand(suite.defaults)["engine"]["precision"] == "fp16"
    assert all("engine.precision" not in e.settings and "engine" not in e.settings for e in suite.entries)
    # FINETUNING.md 'Training': (SEQ_LEN, BSZ, BSZ x GRAD_ACCUM, LR) per family; 15k steps, warmup 100, eval every
    # 500, patience 5, dropout 0.1 for all four
    recipe = {"glue": (256, 64, 256, 3e-5), "ud-pos": (256, 64, 64, 5e-5), "ud-dp": (256, 64, 64, 8e-5),
              "ner": (196, 64, 64, 5e-5)}
    for e in suite.entries:
        if e.table in recipe:
            s = expand(e.settings)
            got = (int(e.render[e.render.index("--max_patches") + 1]), s["micro_batch_size"], s["global_batch_size"],
                   s["optim"]["lr"])
            assert got == recipe[e.table], e.name
            assert (s["max_steps"], s["optim"]["warmup_steps"], s["eval_every"], s["task"]["patience"],
                    s["task"]["head_options"]["dropout"]) == (15000, 100, 500, 5, 0.1), e.name
    # FINETUNING.md GLUE l.385/400: POOLING_MODE="mean" with --pooler_add_layer_norm=True; XNLI l.519/536 pools cls,
    # where xplip/pixel's pooler ignores the flag (src/pixel/models/pooling.py), so it is not set (it would be refused)
    for e in suite.entries:
        opts = expand(e.settings)["task"].get("head_options", {})
        if e.table == "glue":
            assert (opts["pooling"], opts.get("pooler_layer_norm")) == ("mean", True), e.name
        elif e.table == "xnli":
            assert (opts["pooling"], opts.get("pooler_layer_norm")) == ("cls", None), e.name
