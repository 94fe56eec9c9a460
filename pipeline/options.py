"""``RenderOptions``: the pipeline's flags, parsed by Beam alongside the runner's own (--runner, --project ...)."""

from __future__ import annotations

from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions

from pixelkit.schemas import DEFAULT_ENCODING, ENCODINGS

from . import readers
from .args import add_render_args, render_config
from .render import RenderConfig
from .samples import DEFAULT_MAX_UNKNOWN_RATIO


# Short runner names the CLI maps (Beam 2.77 itself knows Dask only by its full class path).
RUNNER_NAMES = {"dask": "pixelkit.pipeline.dask_runner.DaskRunner", "daskrunner": "pixelkit.pipeline.dask_runner.DaskRunner",
                "apache_beam.runners.dask.dask_runner.daskrunner": "pixelkit.pipeline.dask_runner.DaskRunner",
                "direct": "DirectRunner"}
# Without --runner: the in-process FnApiRunner, by name. (Beam's default DirectRunner first tries the PrismRunner,
# which downloads a Prism binary from GitHub and, offline, falls back to this same FnApiRunner after a delay.)
LOCAL_RUNNER = "FnApiRunner"


def with_runner(argv: list[str]) -> list[str]:
    """``argv`` with ``--runner`` made explicit: a short name mapped to its class, the local default added."""
    out, named = [], False
    for i, arg in enumerate(argv):
        if arg == "--runner" and i + 1 < len(argv):
            named = True
        elif arg.startswith("--runner="):
            named = True
            arg = "--runner=" + RUNNER_NAMES.get(arg.split("=", 1)[1].lower(), arg.split("=", 1)[1])
        elif i and argv[i - 1] == "--runner":
            arg = RUNNER_NAMES.get(arg.lower(), arg)
        out.append(arg)
    return out if named else [f"--runner={LOCAL_RUNNER}", *out]


def use_workers(opts: PipelineOptions, workers: int) -> None:
    """``--workers N`` (N > 0): the local runner in N worker processes; 0 leaves the runner's own setting."""
    if workers:
        direct = opts.view_as(DirectOptions)
        direct.direct_num_workers = workers
        direct.direct_running_mode = "multi_processing"


class RenderOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser):
        g = parser.add_argument_group("pixelkit input")
        g.add_argument("--input", action="append", default=[],
                       help="[source=]file pattern (repeatable), e.g. enwiki=dumps/*.xml.bz2 or c4=gs://b/c4/*.jsonl.zst")
        g.add_argument("--format", default="auto", choices=readers.choices(), help=readers.format_help())
        g.add_argument("--text_field", default="text")
        g.add_argument("--id_field", default="id")
        g.add_argument("--max_doc_chars", type=int, default=10_000_000,
                       help="dead-letter documents longer than this (0: no limit); protects workers' memory "
                            "(a MediaWiki page is measured as wikitext, before it is parsed)")
        g.add_argument("--drop_title", default="", help="regex: skip documents whose title matches")
        g.add_argument("--drop_headings", action="store_true", help="drop wikitext-style '= Heading =' lines")
        add_render_args(parser, "pixelkit rendering")
        g = parser.add_argument_group("pixelkit samples")
        g.add_argument("--encoding", default=DEFAULT_ENCODING, choices=ENCODINGS)
        g.add_argument("--tokenizer", default=None, help="paired token ids from a HF tokenizers JSON or a SentencePiece "
                       "tokenizer.model (LLaMA-style, BOS first)")
        g.add_argument("--min_patches", type=int, default=0, help="skip chunks with fewer text patches")
        g.add_argument("--max_unknown_ratio", type=float, default=DEFAULT_MAX_UNKNOWN_RATIO,
                       help="skip chunks with a larger share of characters the fonts cannot draw (tofu); 1: keep all")
        g.add_argument("--dedup", action="store_true", help="exact dedup of identical chunks")
        g = parser.add_argument_group("pixelkit output")
        g.add_argument("--output", help="output directory (local or a Beam filesystem URL)")
        g.add_argument("--split", default="train")
        g.add_argument("--samples_per_shard", type=int, default=1000)
        g.add_argument("--resume", action="store_true", help="keep shards a previous identical run finished")
        g.add_argument("--overwrite", action="store_true",
                       help="delete another run's shards and manifest in --output first (otherwise refused)")
        g.add_argument("--workers", type=int, default=0,
                       help="DirectRunner: this many worker processes (multi_processing); 0 = Beam's default")

    def render_config(self) -> RenderConfig:
        return render_config(self.get_all_options())
