"""``pixel-render``: the rendering pipeline, and a look at one rendering.

    pixel-render                                      # the main job: bundled corpus -> shards in out/
    pixel-render run --input enwiki=dumps/*.xml.bz2 --output out/enwiki --workers 2 [Beam options]
    pixel-render task --task glue-mrpc --input train=MRPC/train.tsv --input validation=MRPC/dev.tsv --output out/mrpc
    pixel-render tokenizer train --input "corpus/*.txt" --vocab-size 16000 --out tokenizer.json
    pixel-render text "Some text" --out x.png --grid --scale 4
    pixel-render pair "A premise." "A hypothesis." --out pair.png
    pixel-render words The quick brown fox --out words.png
    pixel-render qa "Who?" "Some context ..." --stride 8 --out qa.png
    pixel-render sample --out out/samples             # the bundled corpus as PNG files
    pixel-render -v ...                               # also Beam's and its workers' own INFO logs
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from . import readers
from .args import add_render_args, render_settings
from .render import RenderConfig, RenderResult, TextRenderer, preset
from .render.visual import to_image

log = logging.getLogger("pixel-render")
SAMPLE_DIR = Path(__file__).resolve().parent / "sample_data"


def config_from_args(a: argparse.Namespace) -> RenderConfig:
    """The render settings of a one-off command, checked like ``run``'s (SettingsError, one line per problem)."""
    from .validate import CLI_FLAGS, SettingsError, check_render_config, check_rules, render_config_or_problems

    given = render_settings(vars(a))
    problems = check_rules(given, flag=CLI_FLAGS.get)
    cfg, bad = render_config_or_problems(lambda: preset(a.preset, **given)) if not problems else (None, [])
    problems += bad or (check_render_config(cfg, "--max-patches", shards=False) if cfg else [])  # a PNG, not a shard
    if problems:
        raise SettingsError(problems)
    return cfg


def _view_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="render.png", help="PNG file to write")
    p.add_argument("--grid", action="store_true", help="draw patch boundaries")
    p.add_argument("--scale", type=int, default=4, help="nearest-neighbour zoom")
    p.add_argument("--full", action="store_true", help="show the whole strip, not just up to EOS")
    p.add_argument("--wrap", type=int, default=64, help="fold the strip into rows of this many patches (0: one row)")


def _save(res: RenderResult, cfg: RenderConfig, a: argparse.Namespace, out: str) -> None:
    from .validate import SettingsError
    if not res.ok:
        raise SystemExit(f"nothing rendered: {res.reason}")
    shown = None if a.full else min(cfg.max_patches, res.eos_patch + 2)
    if why := _image_size_problem(res.pixels, cfg.pixels_per_patch, shown, a):
        raise SettingsError([why])
    img = to_image(res.pixels, cfg.mode, cfg.pixels_per_patch, patches=shown, grid=a.grid, scale=a.scale, wrap=a.wrap)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    img.save(out)
    info = {"out": out, "num_patches": res.num_patches, "sep_patches": res.sep_patches,
            "unknown_glyphs": res.unknown_glyphs, "truncated": res.truncated}
    info.update({k: v for k in ("word_starts", "context_span") if (v := getattr(res, k)) is not None})
    if res.unshaped_chars:  # the pygame backend drew text a shaper would lay out otherwise
        info["unshaped_chars"] = res.unshaped_chars
        log.warning("%d characters drawn unshaped: the pygame backend has no shaper or bidi (--backend pangocairo "
                    "shapes them)", res.unshaped_chars)
    print(json.dumps(info, ensure_ascii=False))


def _image_size_problem(pixels, patch: int, shown: int | None, a: argparse.Namespace) -> str | None:
    """Why ``to_image``'s image is too large: --scale 64 --full --wrap 0 drew 541,696 x 1,024 px (2.4 GB, 21 s;
    pixelgpt --scale 64 --full: 4.7 GB, 46 s), an image PIL refuses to open as a decompression bomb."""
    from PIL import Image

    height, width = pixels.shape[0], min(pixels.shape[1], (shown or pixels.shape[1]) * patch)
    if a.wrap and width > a.wrap * patch:  # as to_image folds it: rows of `wrap` patches, 2 px between rows
        rows = -(-width // (a.wrap * patch))
        width, height = a.wrap * patch, rows * height + 2 * (rows - 1)
    limit = Image.MAX_IMAGE_PIXELS
    if width * height * a.scale ** 2 <= limit:
        return None
    fits = max(1, int((limit / (width * height)) ** 0.5))
    return (f"--scale {a.scale}: the image would be {width * a.scale:,} x {height * a.scale:,} px, over the "
            f"{limit:,} pixels above which PIL warns of a decompression bomb (twice that, it refuses to open it); "
            f"use --scale <= {fits} (or --wrap, or no --full)")


def _image_suffix_problem(out: str) -> str | None:
    from PIL import Image

    suffix = Path(out).suffix.lower()
    if not suffix:
        return "no file extension to tell the image format"
    return None if suffix in Image.registered_extensions() else f"{suffix} is not an image format PIL writes"


def cmd_one(a: argparse.Namespace) -> None:
    from .validate import CLI_FLAGS, VIEW_RULES, SettingsError, check_rules, out_file_problem

    cfg = config_from_args(a)
    problems = check_rules(vars(a), VIEW_RULES, CLI_FLAGS.get)
    if why := out_file_problem(a.out, "--out"):
        problems.append(why)
    elif _image_suffix_problem(a.out):  # PIL picks the format by the suffix (it raised after rendering)
        problems.append(f"--out {a.out}: {_image_suffix_problem(a.out)}; give an image file name, e.g. render.png")
    if problems:
        raise SettingsError(problems)
    r = TextRenderer(cfg)
    if a.cmd == "text":
        _save(r.render_text(a.text), cfg, a, a.out)
    elif a.cmd == "pair":
        _save(r.render_pair(a.text_a, a.text_b), cfg, a, a.out)
    elif a.cmd == "words":
        _save(r.render_words(a.words), cfg, a, a.out)
    elif a.cmd == "qa":
        windows = r.render_qa(a.question, a.context, stride=a.stride)
        stem, suffix = a.out.rsplit(".", 1) if "." in a.out else (a.out, "png")
        names = [f"{stem}-{i:02d}.{suffix}" for i in range(len(windows))] if len(windows) > 1 else [a.out]
        if problems := [why for n in names if (why := out_file_problem(n))]:  # a window's file in the way (it was
            raise SettingsError(problems)  # an IsADirectoryError after the windows before it were written)
        for w, name in zip(windows, names):
            _save(w, cfg, a, name)


def sample_texts() -> list[tuple[str, str]]:
    """(name, text) pairs from the bundled corpus: paragraphs of each file, every UDHR language."""
    out = []
    for name in ("wikitext-2-test-excerpt.txt", "pride-and-prejudice-excerpt.txt"):
        paras = [p.replace("\n", " ").strip() for p in (SAMPLE_DIR / name).read_text(encoding="utf-8").split("\n\n")]
        paras = [p for p in paras if len(p) > 200 and not p.startswith("=")]
        out += [(f"{name.split('-')[0]}-{i:02d}", p) for i, p in enumerate(paras[:4])]
    for line in (SAMPLE_DIR / "udhr-excerpt.jsonl").read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        out.append((f"udhr-{rec['lang']}", " ".join(rec["paragraphs"])))
    return out


def cmd_sample(a: argparse.Namespace) -> None:
    """Render the bundled sample corpus in the PIXEL (gray), RGB and PIXAR (binary) settings to PNG files."""
    from .validate import SettingsError, out_dir_problem

    names, out = ("pixel", "pixel-rgb", "pixar"), Path(a.out)  # a file out/pixar raised after two settings were drawn
    if why := out_dir_problem(a.out) or next((f"--out {a.out}: {out / n} is a file, and sample writes its PNG files "
                                              f"into {out / n}/; move it or give another --out" for n in names
                                              if (out / n).exists() and not (out / n).is_dir()), None):
        raise SettingsError([why])
    texts = sample_texts()
    for name in names:
        cfg = preset(name)
        r = TextRenderer(cfg)
        d = out / name
        d.mkdir(parents=True, exist_ok=True)
        with open(d / "index.jsonl", "w") as idx:
            for key, text in texts:
                res = r.render_text(text)
                img = to_image(res.pixels, cfg.mode, cfg.pixels_per_patch, patches=res.eos_patch + 1, scale=2, wrap=64)
                img.save(d / f"{key}.png")
                idx.write(json.dumps({"key": key, "num_patches": res.num_patches, "unknown_glyphs": res.unknown_glyphs,
                                      "truncated": res.truncated}) + "\n")
        log.info("%-9s %d strips -> %s", name, len(texts), d)
    print(f"Rendered {len(texts)} bundled texts x 3 settings to {out}/{{pixel,pixel-rgb,pixar}}/*.png "
          f"(open any PNG; index.jsonl lists patches, tofu and truncation)")


DEMO_INPUTS = (
    f"wikitext={SAMPLE_DIR / 'wikitext-2-test-excerpt.txt'}",
    f"gutenberg={SAMPLE_DIR / 'pride-and-prejudice-excerpt.txt'}",
    f"enwiki={SAMPLE_DIR / 'enwiki-excerpt.xml.bz2'}",
)
DEMO_CONFIGS = {"pixel-gray": ["--preset", "pixel"], "pixar-binary": ["--preset", "pixar"]}


def cmd_demo(out: str, workers: int) -> None:
    """The README's main job: the bundled real corpus through the Beam pipeline, in PIXEL and PIXAR settings."""
    from .main import run, summary_table
    from .cli_shards import contact_sheet, iter_samples
    from .readers import iter_documents
    from .tokenizer import train_bpe
    from .validate import SettingsError, out_dir_problem

    if why := out_dir_problem(out):  # before the tokenizer is trained into it
        raise SettingsError([why])
    root = Path(out)
    tok = root / "tokenizer.json"
    texts = (d.text for spec in DEMO_INPUTS for d in iter_documents(spec.split("=", 1)[1], "auto", "demo")
             if hasattr(d, "text"))
    train_bpe(texts, 4096, tok)
    log.info("trained a byte-level BPE tokenizer on the sample corpus: %s", tok)
    for name, args in DEMO_CONFIGS.items():
        shards = root / name
        argv = [*(f"--input={s}" for s in DEMO_INPUTS), f"--output={shards}", f"--tokenizer={tok}",
                "--min_patches=4", "--samples_per_shard=64", f"--workers={workers}", "--overwrite", *args]
        m = run(argv, progress=name)
        sheet = contact_sheet(list(iter_samples(shards, m))[:12], shards / "contact.png")
        print(f"\n{name}: {m.num_samples} samples in {len(m.shards)} shards -> {shards}\n{summary_table(m)}")
        print(f"  manifest: {shards / 'manifest.json'}\n  card: {shards / 'README.md'}\n  contact sheet: {sheet}")


def cmd_tokenizer(a: argparse.Namespace) -> None:
    import glob

    from .documents import no_surrogates
    from .readers import iter_documents
    from .tokenizer import identity, train_bpe
    from .validate import CLI_FLAGS, VIEW_RULES, SettingsError, check_rules, out_file_problem

    problems = check_rules(vars(a), VIEW_RULES, CLI_FLAGS.get)
    if why := out_file_problem(a.out, "--out", "tokenizer.json"):  # before training: a folder or a file in the way
        problems.append(why)
    if problems:
        raise SettingsError(problems)
    files = sorted(f for pattern in a.input for f in glob.glob(pattern))
    if not files:  # a settings error like the others (it exited 1 with a bare message)
        raise SettingsError([f"--input {' '.join(a.input)}: no file matches; give existing files or patterns"])
    if a.format == "auto":  # an unknown suffix raised ValueError with a traceback once training had started
        from .readers import detect_format
        for f in files:
            try:
                detect_format(f)
            except ValueError:
                raise SettingsError([f"--input {f}: cannot tell the format from its suffix; pass --format "
                                     "(e.g. --format text)"]) from None
    # lone surrogates (a JSON "\ud800") as U+FFFD, as rendering replaces them: tokenizers cannot encode them
    seen = [0]

    def texts():
        for f in files:
            for d in iter_documents(f, a.format, "tok"):
                if hasattr(d, "text"):
                    seen[0] += 1
                    yield no_surrogates(d.text)

    out = train_bpe(texts(), a.vocab_size, a.out)
    ident = identity(out)
    if not seen[0]:  # a tokenizer of the 256 bytes alone, whatever --vocab-size asked: not what was meant
        out.unlink()
        raise SettingsError([f"--input {' '.join(a.input)}: {len(files)} file(s), no document with text to train on "
                             "(empty, or every record skipped or broken); nothing written"])
    if ident["vocab_size"] <= 257:  # the bytes + <|endoftext|>: a corpus of a few characters (or of mostly
        out.unlink()  # undecodable lines) taught no merge; it was written as if it were the asked-for tokenizer
        raise SettingsError([f"--input {' '.join(a.input)}: {seen[0]} document(s) taught the tokenizer no merge (too "
                             "little text; undecodable lines are skipped): it would hold the 256 bytes alone, "
                             f"not --vocab-size {a.vocab_size}; give more text; nothing written"])
    print(json.dumps(ident))


def cmd_fontcheck(a: argparse.Namespace) -> None:
    """Whether each font lets the shaping cache take it (no OpenType rule reaching across a space)."""
    from .render.pango.spacecheck import check_font, write_manifest

    if a.write_manifest:
        write_manifest()
    from .validate import SettingsError, font_problem

    problems = [f"{path} {why}: give .ttf/.otf/.ttc files" for path in a.fonts if (why := font_problem(path))]
    if not a.fonts and not a.write_manifest:  # it printed nothing and exited 0, as if every font passed
        problems.append("no font given: give one or more .ttf/.otf/.ttc files, e.g. fonts/PixeloidSans.ttf")
    if problems:
        raise SettingsError(problems)
    unusable = 0
    for path in a.fonts:
        res = check_font(path)
        verdict = "words shape independently" if res.eligible else "NOT usable by the shaping cache"
        print(f"{path}: {verdict}; {len(res.risky_glyphs)} risky glyphs")
        for line in res.findings[:20]:
            print(f"  {line}")
        unusable += not res.eligible
    if unusable:
        raise SystemExit(1)


def cmd_task(argv: list[str]) -> None:
    """``pixel-render task``: the Beam job that turns labelled files into one task shard set per split."""
    from .main import summary_table
    from .options import RenderOptions
    from .tasks import EXAMPLES, FORMATS
    from .tasks.job import TaskOptions, run_task

    if "--help" in argv or "-h" in argv:
        p = argparse.ArgumentParser(prog="pixel-render task", epilog=f"Task names: {', '.join(EXAMPLES)} (readers: "
                                    f"{', '.join(FORMATS)}). Beam's own flags are passed through to the runner.")
        TaskOptions._add_argparse_args(p)
        RenderOptions._add_argparse_args(p)
        p.print_help()
        return
    for split, m in run_task(argv).items():
        print(f"\n{split}: {m.num_samples} samples in {len(m.shards)} shards\n{summary_table(m)}")


VIEW_CMDS = ("text", "pair", "words", "qa")


class _Parser(argparse.ArgumentParser):
    """argparse whose errors (`text -hello`: "ignored explicit argument 'ello'") say how to give a text like that."""

    dash_hint = False

    def error(self, message: str):
        if self.dash_hint:
            message += ("; a text that starts with '-' goes after the options and a `--`, e.g. "
                        "pixel-render text --out x.png -- -hello")
        super().error(message)


def build_parser(dash_hint: bool = False) -> argparse.ArgumentParser:
    ap = _Parser(prog="pixel-render", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.dash_hint = dash_hint  # the top parser reports a stray "-x" after text/pair/words/qa
    sub = ap.add_subparsers(dest="cmd", parser_class=_Parser)
    p = sub.add_parser("text", help="render one text")
    p.add_argument("text")
    p = sub.add_parser("pair", help="render a text pair (SEP patch between)")
    p.add_argument("text_a")
    p.add_argument("text_b")
    p = sub.add_parser("words", help="render a word list (each word on a patch boundary)")
    p.add_argument("words", nargs="+")
    p = sub.add_parser("qa", help="render question + context windows")
    p.add_argument("question")
    p.add_argument("context")
    p.add_argument("--stride", type=int, default=0)
    for name in VIEW_CMDS:
        add_render_args(sub.choices[name])
        _view_args(sub.choices[name])
        sub.choices[name].dash_hint = True
    p = sub.add_parser("sample", help="render the bundled sample corpus to PNG files")
    p.add_argument("--out", default="out/samples")
    p = sub.add_parser("demo", help="the main job: bundled corpus -> shards (the default command)")
    p.add_argument("--out", default="out")
    p.add_argument("--workers", type=int, default=2)
    sub.add_parser("run", help="run the Beam pipeline (see pixel-render run --help)", add_help=False)
    sub.add_parser("task", help="labelled datasets -> task shards (see pixel-render task --help)", add_help=False)
    p = sub.add_parser("tokenizer", help="train a byte-level BPE tokenizer offline")
    p.add_argument("action", choices=["train"])
    p.add_argument("--input", action="append", required=True, help="file pattern (repeatable)")
    p.add_argument("--format", default="auto", choices=readers.choices(), help=readers.format_help())
    p.add_argument("--vocab-size", type=int, default=16000)
    p.add_argument("--out", default="tokenizer.json")
    p = sub.add_parser("fontcheck", help="can the shaping cache take these fonts? (OpenType rules across a space)")
    p.add_argument("fonts", nargs="*")
    p.add_argument("--write-manifest", action="store_true", help="record the pinned fonts' verdicts in fonts/MANIFEST.json")
    return ap


def main(argv: list[str] | None = None) -> int:
    """Exit code 0, or 2 (one line per problem on stderr, no traceback) for settings that cannot work."""
    from .quiet import configure
    from .validate import SettingsError

    argv = sys.argv[1:] if argv is None else argv
    # -v anywhere before a `--`: after it, "-v" is a text (`pixel-render text --out x.png -- -v` lost it)
    cut = argv.index("--") if "--" in argv else len(argv)
    verbose = sum(a in ("-v", "--verbose") for a in argv[:cut])
    argv = [a for a in argv[:cut] if a not in ("-v", "--verbose")] + argv[cut:]
    configure(verbose)
    try:
        _dispatch(argv)
    except SettingsError as e:
        cmd = "run" if argv[:1] == ["run"] else (argv[:1] or ["demo"])[0]
        for line in e.problems:
            print(f"pixel-render {cmd}: error: {line}", file=sys.stderr)
        return 2
    return 0


def _dispatch(argv: list[str]) -> None:
    if argv[:1] == ["run"]:  # everything after `run` goes to Beam's option parser (ours + the runner's)
        from .main import run, summary_table

        if "--help" in argv or "-h" in argv:
            from .options import RenderOptions

            p = argparse.ArgumentParser(prog="pixel-render run", epilog="Beam's own flags (--runner, --project, "
                                        "--direct_num_workers ...) are passed through to the runner. A Dask cluster: "
                                        "--runner dask --dask_client_address tcp://HOST:8786 (pipeline/README.md).")
            RenderOptions._add_argparse_args(p)
            p.print_help()
            return
        m = run(argv[1:], progress="render")
        print(summary_table(m))
        return
    if argv[:1] == ["task"]:
        cmd_task(argv[1:])
        return
    a = build_parser(argv[:1] in ([c] for c in VIEW_CMDS)).parse_args(argv or ["demo"])
    if a.cmd == "sample":
        cmd_sample(a)
    elif a.cmd == "demo":
        cmd_demo(a.out, a.workers)
    elif a.cmd == "tokenizer":
        cmd_tokenizer(a)
    elif a.cmd == "fontcheck":
        cmd_fontcheck(a)
    else:
        cmd_one(a)


if __name__ == "__main__":
    sys.exit(main())
