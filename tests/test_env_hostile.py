"""A hostile environment around the commands: paths holding shell and glob characters, a non-UTF-8 locale."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import make_shard_set


def test_a_shard_set_directory_named_with_braces_is_read_as_a_directory(tmp_path, wikitext):
    """`--data 'out/{a,b}/pos'` (a directory that exists, its name holding a brace) was brace-expanded into
    out/a/pos and out/b/pos: '2 shard(s) missing'; an existing path is now taken as it is, a pattern still expands."""
    from pixelkit.trainer.shardsets import resolve

    d = make_shard_set(tmp_path / "корпус #1 %s [a] {b,c}" / "train", "pixar", wikitext[:4], None, n_shards=2)
    s = resolve(str(d))
    assert [Path(u).name for u in s.urls] == ["train-00000-of-00002.tar", "train-00001-of-00002.tar"]
    assert s.manifest is not None and s.num_samples == 4
    shard = d / "train-00000-of-00002.tar"
    assert resolve(str(shard)).urls == [str(shard)]
    plain = make_shard_set(tmp_path / "plain", "pixar", wikitext[:4], None, n_shards=2)
    pattern = resolve(str(plain / "train-{00000..00001}-of-00002.tar"))  # a pattern still expands
    assert [Path(u).name for u in pattern.urls] == ["train-00000-of-00002.tar", "train-00001-of-00002.tar"]


def _ascii_locale_env() -> dict[str, str]:
    """An ASCII locale as Python sees it (the C locale without Python's UTF-8 coercion: what LANG=en_US.ISO-8859-1
    or a bare POSIX system gives): open() without encoding= decodes as ASCII."""
    import os
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG", "PYTHONUTF8", "PYTHONIOENC"))}
    return {**env, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}


def test_the_bundled_sample_texts_read_as_utf8_in_an_ascii_locale():
    """pixel-render sample read the bundled corpus with the locale's encoding: under LC_ALL=C (no UTF-8 coercion)
    a UnicodeDecodeError traceback ('ascii' codec can't decode byte 0xe2) before the first strip."""
    import json
    import subprocess
    import sys

    from pixelkit.pipeline.card import sample_licenses
    from pixelkit.pipeline.cli import sample_texts
    code = ("import json, locale; from pixelkit.pipeline.cli import sample_texts; "
            "from pixelkit.pipeline.card import sample_licenses; "
            "print(json.dumps([locale.getpreferredencoding(), sample_texts(), sample_licenses()]))")
    r = subprocess.run([sys.executable, "-c", code], env=_ascii_locale_env(), capture_output=True, text=True,
                       timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert r.returncode == 0, r.stderr[-800:]
    encoding, texts, licenses = json.loads(r.stdout)
    assert encoding.lower() in ("ansi_x3.4-1968", "ascii", "us-ascii")
    assert [tuple(x) for x in texts] == sample_texts() and licenses == sample_licenses()  # as under UTF-8
    assert sum(name.startswith("udhr-") for name, _ in texts) > 1
    assert any(ord(c) > 127 for _, text in texts for c in text)  # the UDHR's scripts, the corpus' curly quotes


def test_a_name_the_locale_cannot_decode_is_refused_before_work(tmp_path):
    """Under an ASCII locale a non-ASCII path reaches Python as surrogate escapes: pixel-render run/task died in
    Beam's options ('utf-8' codec can't encode ... surrogates not allowed) after making --output, pixel-train finetune
    in tensorboard's writer after writing OUT/config.json. Now one line per such flag, exit 2, nothing written."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    sample, books = (root / "pipeline" / "sample_data" / n for n in ("en_ewt-ud-test-excerpt.conllu",
                                                                      "pride-and-prejudice-excerpt.txt"))
    bad = tmp_path / "데이터"
    cases = {
        "pixel-render run": ["pixelkit.pipeline.cli", "run", "--input", f"books={books}", f"--output={bad}/mix"],
        "pixel-render task": ["pixelkit.pipeline.cli", "task", "--task", "ud-en_ewt-pos", "--input", f"train={sample}",
                              "--output", f"{bad}/pos"],
        "pixel-train": ["pixelkit.trainer.cli", "finetune", "--task", "pos", "--model", "pixel", "--flavor", "debug",
                        "--data", str(tmp_path), "--out", f"{bad}/ft", "--steps", "2"],
    }
    for prog, args in cases.items():
        r = subprocess.run([sys.executable, "-m", *args], env=_ascii_locale_env(), capture_output=True, text=True,
                           timeout=120, cwd=root)
        flag = "--out" if prog == "pixel-train" else "--output"
        assert r.returncode == 2, (prog, r.stderr[-800:])
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"{prog}: error: {flag} "), (prog, r.stderr[-800:])
        assert "\\ub370\\uc774\\ud130" in lines[0] and "LC_ALL=C.UTF-8" in lines[0]
        assert not bad.exists(), prog


def test_an_input_file_named_with_glob_characters_is_read(tmp_path):
    """`--input 'train=data [v2]/ewt [1].conllu'`, a file that exists under that very name, was taken as a glob
    ('[1]' a character class): 'no file matches', before work; now an existing name is read as it is."""
    import glob
    import shutil
    import subprocess
    import sys

    from pixelkit.pipeline.sources import match_files, unlisted_matches

    root = Path(__file__).resolve().parents[1]
    d = tmp_path / "data [v2] *?"
    d.mkdir()
    f = shutil.copy(root / "pipeline" / "sample_data" / "en_ewt-ud-test-excerpt.conllu", d / "ewt [1].conllu")
    (d / "ewt 1.conllu").write_text("")  # what the pattern reading of the name matched
    assert match_files([str(f)]) == [str(f)] and unlisted_matches(str(f), [str(f)]) == []
    pattern = glob.escape(str(d)) + "/ewt*.conllu"  # a pattern still is one
    assert match_files([pattern]) == sorted([str(f), str(d / "ewt 1.conllu")])
    r = subprocess.run([sys.executable, "-m", "pixelkit.pipeline.cli", "task", "--task", "ud-en_ewt-pos", "--input",
                        f"train={f}", "--output", str(tmp_path / "out"), "--max_patches", "256"],
                       capture_output=True, text=True, timeout=300, cwd=root)
    assert r.returncode == 0, r.stderr[-800:]
    assert re.search(r"records_read\s+30\b", r.stdout), r.stdout[-800:]


def test_a_source_named_outside_ascii_makes_valid_distinct_keys():
    """`--input книги=books.txt` made keys '-----_doc_0000' (a key starts with a letter or digit): every sample
    failed the contract at Write/Pack, a SchemaError traceback mid-run. ASCII names keep their keys."""
    from pixelkit.schemas.sample import KEY_RE, make_key

    keys = {name: make_key(name, "pride-and-prejudice-excerpt", 0) for name in ("книги", "книга", "데이터", "-books")}
    assert all(KEY_RE.match(k) for k in keys.values()), keys
    assert len(set(keys.values())) == len(keys)
    assert make_key("my books", "d1", 3) == "my-books_d1_0003" and make_key("enwiki", "d1", 0) == "enwiki_d1_0000"


def test_non_ascii_output_under_an_ascii_stdout_is_escaped_not_a_crash(tmp_path):
    """PYTHONIOENCODING=ascii: pixel-render run with source "книги" wrote its shards, then died printing the summary
    (UnicodeEncodeError, exit 1). Now the name prints escaped (\\u043a...), exit 0."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    books = root / "pipeline" / "sample_data" / "pride-and-prejudice-excerpt.txt"
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    r = subprocess.run([sys.executable, "-m", "pixelkit.pipeline.cli", "run", f"--input=книги={books}",
                        f"--output={tmp_path / 'out'}", "--workers=1"],
                       env=env, capture_output=True, text=True, timeout=300, cwd=root)
    assert r.returncode == 0, r.stderr[-800:]
    assert "\\u043a\\u043d\\u0438\\u0433\\u0438" in r.stdout, r.stdout[-800:]


def test_a_name_too_long_for_the_filesystem_is_refused_before_work(tmp_path, wikitext):
    """An --output / --out with a part over 255 bytes: Path.exists() in the very checks raised OSError 'File name too
    long' (a traceback from pixel-render run, task, demo and pixel-train). Now one line naming the flag, exit 2."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    long = str(tmp_path / ("x" * 300))
    books = root / "pipeline" / "sample_data" / "pride-and-prejudice-excerpt.txt"
    shards = make_shard_set(tmp_path / "shards", "pixar", wikitext[:4], None, n_shards=1)
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")  # evaluate checks --out before it loads the model
    cases = {
        "pixel-render run: error: --output": ["pixelkit.pipeline.cli", "run", "--input", str(books), "--output", long],
        "pixel-render task: error: --output": ["pixelkit.pipeline.cli", "task", "--task", "ud-en_ewt-pos", "--input",
                                               f"train={root / 'pipeline/sample_data/en_ewt-ud-test-excerpt.conllu'}",
                                               "--output", long],
        "pixel-render demo: error: --out": ["pixelkit.pipeline.cli", "demo", "--out", long],
        "pixel-train: error: output_dir": ["pixelkit.trainer.cli", "pretrain", "--model", "pixar", "--flavor", "debug",
                                           "--data", str(shards), "--out", long, "--steps", "2"],
        "pixel-train: error: --out": ["pixelkit.trainer.cli", "evaluate", "--model", str(model), "--data", str(shards),
                                      "--out", long],  # it was found only after scoring the whole split
    }
    for start, args in cases.items():
        r = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=120, cwd=root)
        assert r.returncode == 2 and "Traceback" not in r.stderr, (start, r.stderr[-600:])
        assert any(line.startswith(start) and "too long" in line for line in r.stderr.splitlines()), r.stderr[-600:]


def test_the_tokenizer_reads_an_input_file_named_with_glob_characters(tmp_path, capsys):
    """`pixel-render tokenizer train --input 'p [1].txt'` took the name as a glob ('[1]' a character class) and
    refused it, 'no file matches', as run and task did before."""
    import json
    import shutil

    from pixelkit.pipeline.cli import main
    src = tmp_path / "p [1].txt"
    shutil.copy(Path(__file__).resolve().parents[1] / "pipeline/sample_data/pride-and-prejudice-excerpt.txt", src)
    out = tmp_path / "t.json"
    assert main(["tokenizer", "train", "--input", str(src), "--vocab-size", "300", "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["vocab_size"] > 257 and out.is_file()
