"""``pixel-render tokenizer train``: a byte-level BPE tokenizer trained offline on corpus files (any format
``pixel-render run`` reads), written as one ``tokenizer.json``."""

from __future__ import annotations

import argparse
import json


def cmd_tokenizer(a: argparse.Namespace) -> None:
    import glob

    from .documents import no_surrogates
    from .sources import as_glob
    from .readers import iter_documents
    from .tokenizer import identity, train_bpe
    from .validate import CLI_FLAGS, VIEW_RULES, SettingsError, check_rules, out_file_problem

    problems = check_rules(vars(a), VIEW_RULES, CLI_FLAGS.get)
    if why := out_file_problem(a.out, "--out", "tokenizer.json"):  # before training: a folder or a file in the way
        problems.append(why)
    if problems:
        raise SettingsError(problems)
    files = sorted(f for pattern in a.input for f in glob.glob(as_glob(pattern)))  # data [1].txt: a name
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
