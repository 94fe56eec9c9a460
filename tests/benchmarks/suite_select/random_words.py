"""A control for ``reads.py``: documents of words drawn uniformly at random from 92 common English words, so a
strip's text cannot be predicted from its own context -- only by reading the strip's image. A DualGPT that reads
lowers the paired rows' token loss below the text-alone loss; one that does not, cannot.

    .venv/bin/python tests/benchmarks/suite_select/random_words.py SEED DOCS WORDS_PER_DOC > docs.jsonl

Commands and results: tests/benchmarks/results/suite-tiny.md, "Can this model size learn to read at all?".
"""
import json
import random
import sys

WORDS = sorted(set("""
the of and to in is was for on as with by he at from his an were are which this that be it or had first one
their its new after but who not they have her she two been other when there all during into school also time would
more city only most some world film up over can him what out about then than three them may years later so many
used made war under year such between where both through known state music while these however water season
""".split()))

seed, docs, per_doc = (int(a) for a in sys.argv[1:4])
rng = random.Random(seed)
for i in range(docs):
    print(json.dumps({"id": f"rw{seed}-{i}", "text": " ".join(rng.choice(WORDS) for _ in range(per_doc))}))
