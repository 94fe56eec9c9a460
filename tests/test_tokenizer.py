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


def test_sentencepiece_model_is_loaded_and_identified(tmp_path, sentencepiece_file):
    path = sentencepiece_file
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


def test_render_fn_pairs_sentencepiece_ids_with_the_rendered_text(tmp_path, wikitext, sentencepiece_file):
    path = sentencepiece_file
    chunks = [TextChunk("w", f"d{i}", 0, t[:300]) for i, t in enumerate(wikitext[:3])]
    tok = load(path)
    with TestPipeline() as p:
        samples = (p | beam.Create(chunks) | beam.ParDo(RenderFn(RenderConfig(), DEFAULT_ENCODING, Filters(),
                                                                 tokenizer_path=str(path)))
                   .with_outputs("outcome", main="samples")).samples
        assert_that(samples | beam.Map(lambda s: (s.token_ids[0], tok.decode(s.token_ids) == s.text,
                                                  s.token_ids == tok.encode(s.text).ids)),
                    equal_to([(1, True, True)] * 3))


def test_pixel_render_run_and_task_take_a_sentencepiece_model(tmp_path, capsys, sentencepiece_file):
    """The settings check only accepted tokenizers JSON, so ``pixel-render run --tokenizer tokenizer.model`` (the
    README's line) was refused; ``task`` refused it too (it reads word and answer offsets, which the SentencePiece
    wrapper lacked). Both take it now; the task's word spans decode to the words (tests/test_finetune_text.py runs
    the alignment and QA checks with both tokenizer kinds)."""
    from pixelkit.pipeline.cli import main as render_main
    from pixelkit.trainer.data import read_samples
    from pixelkit.trainer.shardsets import resolve
    path = sentencepiece_file
    sample = Path(__file__).resolve().parents[1] / "pipeline" / "sample_data"
    assert render_main(["run", "--input", f"books={sample / 'pride-and-prejudice-excerpt.txt'}", "--output",
                        str(tmp_path / "o"), "--tokenizer", str(path), "--max_patches", "64"]) == 0
    assert json.loads((tmp_path / "o" / "manifest.json").read_text())["tokenizer"]["model"] == "SentencePiece"
    ud = sample / "en_ewt-ud-test-excerpt.conllu"
    assert render_main(["task", "--task", "ud-en_ewt-pos", "--input", f"train={ud}", "--output", str(tmp_path / "t"),
                        "--tokenizer", str(path)]) == 0
    tok, words = load(path), 0
    for s in read_samples(resolve(str(tmp_path / "t" / "train")).urls):
        assert s.token_ids == tok.encode(s.text).ids and s.token_ids[0] == 1  # LLaMA's BOS first
        for w, (a, b) in zip(s.text.split(" "), s.word_tokens):
            assert tok.decode(s.token_ids[a:b]) == w
            words += 1
    assert words > 300


# Measured with the PixelGPT release's own tokenizer (ernie-research/pixelgpt 762c942,
# src/ernie_pixel/tokenization_llama.py, run from a scratch copy: ``LlamaTokenizer(vocab_file=<this model>)(a,
# b).input_ids``) on the first 60 / 50 characters of the first two UDHR paragraphs of each language below
# (pipeline/sample_data/udhr-excerpt.jsonl): sha256 of the JSON list of the six id lists, and their lengths.
REFERENCE_PAIRS = ("eng", "arb", "hin", "jpn", "kor", "tha")
REFERENCE_PAIR_IDS_SHA256 = "08efd508bbfbf79036df83d86fd5ba851f9a9e98af645a254fe3732376febdae"
REFERENCE_PAIR_LENGTHS = [26, 103, 124, 136, 120, 114]
REFERENCE_ENG = [1, 6926, 293, 13828, 302, 272, 9677, 308, 27182, 304, 302, 272, 6530,
                 1, 6926, 293, 704, 1376, 488, 304, 679, 3310, 354, 2930, 4495, 3631]


def test_sentencepiece_pairs_are_the_reference_llama_layout(sentencepiece_file):
    """A pair is ``<s> A <s> B`` as the reference's ``build_inputs_with_special_tokens`` builds it (BOS per
    sequence, no EOS), in six scripts (byte-fallback pieces included), and its offsets map into each sequence."""
    sample = Path(__file__).resolve().parents[1] / "pipeline" / "sample_data" / "udhr-excerpt.jsonl"
    rows = {r["lang"]: r for r in map(json.loads, sample.read_text(encoding="utf-8").splitlines())}
    pairs = [(rows[lang]["paragraphs"][0][:60], rows[lang]["paragraphs"][1][:50]) for lang in REFERENCE_PAIRS]
    tok = SentencePieceTokenizer(sentencepiece_file)
    encs = [tok.encode(a, b) for a, b in pairs]
    assert encs[0].ids == REFERENCE_ENG and [len(e.ids) for e in encs] == REFERENCE_PAIR_LENGTHS
    assert hashlib.sha256(json.dumps([e.ids for e in encs]).encode()).hexdigest() == REFERENCE_PAIR_IDS_SHA256
    for (a, b), e in zip(pairs, encs):
        n = e.sequence_ids.index(1) - 1  # the second BOS
        assert e.sequence_ids[0] is None and e.sequence_ids[n] is None and e.ids[n] == 1
        for q, text in ((0, a), (1, b)):  # every character of a sequence is covered by its tokens, in order
            spans = [o for o, s in zip(e.offsets, e.sequence_ids) if s == q and o[1] > o[0]]
            assert spans[0][0] == 0 and spans[-1][1] == len(text)
            assert all(x[1] == y[0] for x, y in zip(spans, spans[1:]))
        first = next(i for i, (o, q) in enumerate(zip(e.offsets, e.sequence_ids)) if q == 0 and o[1] > o[0])
        assert e.char_to_token(0) == first and e.char_to_token(len(a)) is None  # (a lone "▁" piece covers nothing)


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


def test_manifest_vocab_size_covers_every_id_of_a_vocabulary_with_gaps(tmp_path):
    """A tokenizers JSON whose ids skip (``{"[UNK]": 0, "the": 40000}``) was recorded with vocab_size 2 (its entry
    count), so a model sized by the manifest embedded 2 ids and met id 40000 mid-run (IndexError). The manifest
    now records the id span, and every rendered id is below it."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    from pixelkit.pipeline.cli import main as render_main
    from pixelkit.trainer.data import read_samples
    from pixelkit.trainer.shardsets import resolve

    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "the": 40000, "of": 7}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(tmp_path / "gaps.json"))
    assert identity(tmp_path / "gaps.json")["vocab_size"] == 40001
    sample = Path(__file__).resolve().parents[1] / "pipeline" / "sample_data" / "pride-and-prejudice-excerpt.txt"
    assert render_main(["run", "--input", f"books={sample}", "--output", str(tmp_path / "o"), "--tokenizer",
                        str(tmp_path / "gaps.json"), "--max_patches", "64"]) == 0
    info = resolve(str(tmp_path / "o")).info()
    ids = {i for s in read_samples(resolve(str(tmp_path / "o")).urls) for i in s.token_ids}
    assert 40000 in ids and max(ids) < info.vocab_size == 40001


def test_a_tokenizer_with_an_empty_vocabulary_is_refused_before_work(tmp_path, capsys):
    """``pixel-render run --tokenizer`` with an empty-vocabulary tokenizers JSON wrote shards with no token ids and
    a manifest vocab_size of 0, which the trainer reads as "no tokenizer". It is refused before work now."""
    from tokenizers import Tokenizer, models

    from pixelkit.pipeline.cli import main as render_main

    Tokenizer(models.BPE()).save(str(tmp_path / "empty.json"))
    with pytest.raises(ValueError, match="empty vocabulary"):
        load(tmp_path / "empty.json")
    sample = Path(__file__).resolve().parents[1] / "pipeline" / "sample_data" / "pride-and-prejudice-excerpt.txt"
    rc = render_main(["run", "--input", f"books={sample}", "--output", str(tmp_path / "o"), "--tokenizer",
                      str(tmp_path / "empty.json"), "--max_patches", "64"])
    assert rc == 2 and "empty vocabulary" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_tokenizer_train_on_a_file_of_unknown_suffix_is_a_settings_error(tmp_path, capsys):
    """``pixel-render tokenizer train --input corpus.bin`` died with a ValueError traceback from the readers; it is
    a settings error naming the file and --format now, and nothing is written."""
    from pixelkit.pipeline.cli import main as render_main

    (tmp_path / "corpus.bin").write_bytes(bytes(range(256)) * 4)
    rc = render_main(["tokenizer", "train", "--input", str(tmp_path / "corpus.bin"), "--vocab-size", "300",
                      "--out", str(tmp_path / "tok.json")])
    err = capsys.readouterr().err
    assert rc == 2 and f"--input {tmp_path / 'corpus.bin'}: cannot tell the format" in err and "--format" in err
    assert not (tmp_path / "tok.json").exists()


@pytest.mark.parametrize("corpus", [b"a", b"\x80\x81 binary \xf6\n" * 50 + b"a\n"])
def test_tokenizer_train_on_a_corpus_that_teaches_no_merge_is_refused(tmp_path, capsys, corpus):
    """A one-character corpus, or a binary file read as text (its lines undecodable but for a few bytes), gave a
    257-token tokenizer (the bytes alone) with exit 0, whatever --vocab-size asked; it is refused, nothing written."""
    from pixelkit.pipeline.cli import main as render_main

    (tmp_path / "c.txt").write_bytes(corpus)
    rc = render_main(["tokenizer", "train", "--input", str(tmp_path / "c.txt"), "--vocab-size", "300",
                      "--out", str(tmp_path / "tok.json")])
    err = capsys.readouterr().err
    assert rc == 2 and "taught the tokenizer no merge" in err and "--vocab-size 300" in err, err
    assert not (tmp_path / "tok.json").exists()


def test_a_tokenizer_that_cannot_encode_pairs_is_a_settings_error_for_a_qa_task(tmp_path, capsys):
    """``pixel-render task --task xquad-en --tokenizer`` with a tokenizer that has neither a post-processor nor a
    separator token died with a ValueError traceback; it is a settings error naming the file, nothing written."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    from pixelkit.pipeline.cli import main as render_main

    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "the": 1, "of": 2}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(tmp_path / "nosep.json"))
    src = Path(__file__).resolve().parents[1] / "pipeline" / "sample_data" / "xquad-en-excerpt.json"
    rc = render_main(["task", "--task", "xquad-en", "--input", f"train={src}", "--output", str(tmp_path / "o"),
                      "--tokenizer", str(tmp_path / "nosep.json"), "--limit", "4"])
    err = capsys.readouterr().err
    assert rc == 2 and f"--tokenizer {tmp_path / 'nosep.json'} has no post-processor" in err, err
    assert "--task xquad-en encodes pairs" in err and not (tmp_path / "o").exists()
