"""Paired token ids from either tokenizer kind: a HF ``tokenizers`` JSON or a LLaMA-style SentencePiece
``tokenizer.model`` (the real 32k one shipped in the ``mistral-common`` wheel stands in for LLaMA-2's)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pixelkit.pipeline.documents import TextChunk
from pixelkit.pipeline.render import RenderConfig
from pixelkit.pipeline.samples import Filters
from pixelkit.pipeline.tokenizer import SentencePieceTokenizer, identity, load, train_bpe
from pixelkit.pipeline.transforms import RenderFn
from pixelkit.schemas import DEFAULT_ENCODING


def _sentencepiece(tmp_path: Path) -> Path:
    mistral = pytest.importorskip("mistral_common")
    src = Path(mistral.__file__).parent / "data" / "tokenizer.model.v1"
    if not src.is_file():
        pytest.skip(f"no SentencePiece model at {src}")
    return Path(shutil.copy(src, tmp_path / "tokenizer.model"))


def test_sentencepiece_model_is_loaded_and_identified(tmp_path):
    path = _sentencepiece(tmp_path)
    ident = identity(path)
    assert ident == {"name": "tokenizer.model", "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                     "vocab_size": 32000, "model": "SentencePiece"}
    tok = load(path)
    assert isinstance(tok, SentencePieceTokenizer)
    ids = tok.encode("Pixels, not tokens.").ids
    assert ids[0] == tok.bos == 1 and len(ids) > 3 and max(ids) < 32000, "LLaMA-style: BOS first"
    assert tok.decode(ids) == "Pixels, not tokens."


def test_json_tokenizers_still_load_and_junk_is_refused(tmp_path, wikitext):
    bpe = train_bpe(iter(wikitext[:20]), 500, tmp_path / "tok.json")
    assert identity(bpe)["model"] == "BPE" and load(bpe).encode("the cat").ids
    junk = tmp_path / "junk.model"
    junk.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="neither"):
        load(junk)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.model")


def test_render_fn_pairs_sentencepiece_ids_with_the_rendered_text(tmp_path, wikitext):
    path = _sentencepiece(tmp_path)
    chunks = [TextChunk("w", f"d{i}", 0, t[:300]) for i, t in enumerate(wikitext[:3])]
    tok = load(path)
    with TestPipeline() as p:
        samples = (p | beam.Create(chunks) | beam.ParDo(RenderFn(RenderConfig(), DEFAULT_ENCODING, Filters(),
                                                                 tokenizer_path=str(path)))
                   .with_outputs("outcome", main="samples")).samples
        assert_that(samples | beam.Map(lambda s: (s.token_ids[0], tok.decode(s.token_ids) == s.text,
                                                  s.token_ids == tok.encode(s.text).ids)),
                    equal_to([(1, True, True)] * 3))


def test_pixel_render_run_takes_a_sentencepiece_model_and_task_says_why_it_does_not(tmp_path, capsys):
    """The settings check only accepted tokenizers JSON, so ``pixel-render run --tokenizer tokenizer.model`` (the
    README's line) was refused; ``task`` reads token offsets through the tokenizers API and names that."""
    from pixelkit.pipeline.cli import main as render_main
    path = _sentencepiece(tmp_path)
    sample = Path(__file__).resolve().parents[1] / "pipeline" / "sample_data"
    assert render_main(["run", "--input", f"books={sample / 'pride-and-prejudice-excerpt.txt'}", "--output",
                        str(tmp_path / "o"), "--tokenizer", str(path), "--max_patches", "64"]) == 0
    assert json.loads((tmp_path / "o" / "manifest.json").read_text())["tokenizer"]["model"] == "SentencePiece"
    capsys.readouterr()
    assert render_main(["task", "--task", "ud-en_ewt-pos",
                        "--input", f"train={sample / 'en_ewt-ud-test-excerpt.conllu'}",
                        "--output", str(tmp_path / "t"), "--tokenizer", str(path)]) == 2
    err = capsys.readouterr().err
    assert "is a SentencePiece model: pixel-render task needs a tokenizers JSON file" in err and "Traceback" not in err
    assert not (tmp_path / "t").exists()


def test_tokenizer_train_takes_lone_surrogates(tmp_path, capsys, wikitext):
    """A JSON line with "\\ud800" in its text (the readers keep it; rendering replaces it) made
    ``pixel-render tokenizer train`` die with UnicodeEncodeError inside tokenizers; it is now U+FFFD, as rendered."""
    from pixelkit.pipeline.cli import main as render_main

    lines = [json.dumps({"id": str(i), "text": t}) for i, t in enumerate(wikitext[:20])]
    lines.append('{"id": "s", "text": "lone \\ud800 surrogate ' + wikitext[0][:100].replace('"', "") + '"}')
    (tmp_path / "c.jsonl").write_text("\n".join(lines) + "\n")
    assert render_main(["tokenizer", "train", "--input", str(tmp_path / "c.jsonl"), "--vocab-size", "300",
                        "--out", str(tmp_path / "tok.json")]) == 0
    assert json.loads(capsys.readouterr().out)["vocab_size"] == 300


def test_tokenizer_train_on_no_text_is_refused(tmp_path, capsys):
    """Files with no text (empty, blank) used to give a 257-token tokenizer, whatever --vocab-size asked."""
    from pixelkit.pipeline.cli import main as render_main

    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "blank.txt").write_text(" \n\n  \n")
    rc = render_main(["tokenizer", "train", "--input", str(tmp_path / "*.txt"), "--vocab-size", "300",
                      "--out", str(tmp_path / "tok.json")])
    err = capsys.readouterr().err
    assert rc == 2 and "2 file(s), no document with text to train on" in err and not (tmp_path / "tok.json").exists()
