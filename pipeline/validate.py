"""Every ``pixel-render`` setting is checked before any work starts: one line per problem, naming the flag and the
fix. ``pixel-render`` prints them and exits with code 2; ``main.run`` raises ``SettingsError``.

    problems = check_run_options(opts.get_all_options(), opts)      # [] when the run can start
    problems = check_render_config(cfg, "--max_patches")            # fonts that load, a strip cairo can draw
"""

from __future__ import annotations

import difflib
import functools
import math
import os
import re
import struct
import tempfile
from pathlib import Path
from typing import Any, Callable

from pixelkit.schemas.codec import MAX_PIXEL_BYTES
from pixelkit.schemas.files import name_too_long
from .render import RenderConfig

MAX_WORKERS = 4 * (os.cpu_count() or 1)  # --workers: local processes; 10,000 of them exhausted the machine
MAX_STRIP_WIDTH = 32767  # cairo's largest image surface (CAIRO_STATUS_INVALID_SIZE beyond); pygame's strips too


class SettingsError(ValueError):
    """Settings that cannot work. ``str()`` is one line per problem, each naming the flag and its fix."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _regex(v: str) -> bool:
    try:
        re.compile(v)
    except re.error:
        return False
    return True


# (option, test of a value that is set, what the value must be -- with the fix). None means "not given": fine.
RULES: tuple[tuple[str, Callable[[Any], bool], str], ...] = (
    ("samples_per_shard", lambda v: v >= 1, "must be >= 1 (samples per tar shard; default 1000)"),
    ("max_unknown_ratio", lambda v: _number(v) and 0 <= v <= 1,
     "must be in [0, 1]: the share of a chunk's characters that may be tofu (1 keeps every chunk)"),
    ("min_patches", lambda v: v >= 0, "must be >= 0 (0 keeps every chunk; PIXEL used 22)"),
    ("max_doc_chars", lambda v: v >= 0, "must be >= 0 (0: no limit)"),
    ("workers", lambda v: 0 <= v <= MAX_WORKERS,
     f"must be in 0..{MAX_WORKERS} (0: Beam's default; each is a local process, at most 4 per core of this "
     f"machine's {os.cpu_count()}); for more, a cluster runner (--runner dask)"),
    ("direct_num_workers", lambda v: 0 <= v <= MAX_WORKERS,  # Beam's own flag for --workers: the same limit
     f"must be in 0..{MAX_WORKERS} (the local runner's workers, 0: one per core; at most 4 per core of this "
     f"machine's {os.cpu_count()}); --workers N says the same; for more, a cluster runner (--runner dask)"),
    ("font_size", lambda v: _number(v) and 0 < v <= 1000, "must be a size in points, > 0 (PIXEL: 8)"),
    ("dpi", lambda v: 0 < v <= 10_000, "must be > 0 (PIXEL: 120)"),
    ("pixels_per_patch", lambda v: 4 <= v <= 1024, "must be in 4..1024 pixels (PIXEL: 16, PIXAR: 8)"),
    ("max_patches", lambda v: v >= 2, "must be >= 2 (PIXEL: 529)"),
    ("split", lambda v: re.fullmatch(r"[A-Za-z0-9_]+", v) is not None, "must be letters, digits or _ (e.g. train)"),
    ("text_field", bool, "must name a field (default: text)"),
    ("id_field", bool, "must name a field (default: id)"),
    ("drop_title", _regex, "is not a valid regular expression"),
)


# pixel-render text/pair/words/qa (how the PNG is shown) and tokenizer train
VIEW_RULES: tuple[tuple[str, Callable[[Any], bool], str], ...] = (
    ("scale", lambda v: 1 <= v <= 64, "must be in 1..64 (nearest-neighbour zoom)"),
    ("wrap", lambda v: v >= 0, "must be >= 0 (patches per row; 0: one row)"),
    ("stride", lambda v: v >= 0, "must be >= 0 (context tokens shared by QA windows)"),
    ("vocab_size", lambda v: v >= 257, "must be >= 257 (256 bytes + <|endoftext|>; smaller sizes silently give 257)"),
)

RUN_FLAGS = {k: f"--{k}" for k, _, _ in RULES} | {"pixels_per_patch": "--patch", "font_file": "--font"}
CLI_FLAGS = {k: v.replace("_", "-") for k, v in RUN_FLAGS.items()} | {k: f"--{k.replace('_', '-')}" for k, _, _ in
                                                                       VIEW_RULES}  # pixel-render text/pair/words/qa spell them so


def check_rules(o: dict[str, Any], rules=RULES, flag: Callable[[str], str] = RUN_FLAGS.get) -> list[str]:
    """One line per rule a given value breaks (values left at None are not checked)."""
    return [f"{flag(key)} {o[key]!r} {msg}" for key, ok, msg in rules if o.get(key) is not None and not ok(o[key])]


@functools.lru_cache(maxsize=32)
def font_problem(path: str) -> str | None:
    """Why ``path`` is not a font file the renderers can load (None if it is one)."""
    from fontTools.ttLib import TTLibError

    p = Path(path)
    if p.is_dir():  # it said "does not exist"
        return "is a directory, not a font file"
    if not p.is_file():
        return "does not exist"
    try:
        font = _open_font(path)
        font["cmap"], font["head"]  # noqa: B018  (parsing these tables is the check)
    except (TTLibError, OSError, struct.error, KeyError, ValueError, AssertionError, IndexError) as e:
        return f"is not a TrueType/OpenType font ({type(e).__name__}: {str(e)[:80]})"
    return None


def check_render_config(cfg: RenderConfig, patches_flag: str = "--max_patches", shards: bool = True) -> list[str]:
    """A RenderConfig that constructed fine can still fail in every worker: fonts that are not fonts, a strip wider
    than cairo can allocate (``shards``: or larger than a shard sample may be). Checked here, in the main process."""
    problems = []
    if cfg.width > MAX_STRIP_WIDTH:
        problems.append(f"{patches_flag} {cfg.max_patches} x {cfg.pixels_per_patch} px = {cfg.width:,} px: a strip "
                        f"can be at most {MAX_STRIP_WIDTH:,} px wide; use {patches_flag} "
                        f"<= {MAX_STRIP_WIDTH // cfg.pixels_per_patch}")
    elif shards and (size := cfg.height * cfg.width * cfg.channels) > MAX_PIXEL_BYTES:  # workers: a ValueError each
        problems.append(f"{patches_flag} {cfg.max_patches} of {cfg.pixels_per_patch} px {cfg.mode} patches is {size:,} "
                        f"bytes a strip, over the shard format's {MAX_PIXEL_BYTES:,}; use {patches_flag} <= "
                        f"{MAX_PIXEL_BYTES // (cfg.height * cfg.pixels_per_patch * cfg.channels)} (or a smaller --patch)")
    em = cfg.font_size * cfg.dpi / 72  # the font's size in pixels; under 1 px Pango drew blank strips (samples "ok")
    if not 1 <= em <= MAX_STRIP_WIDTH:
        problems.append(f"--font_size {cfg.font_size:g} at --dpi {cfg.dpi} is {em:,.{0 if em > 1 else 3}f} px per em: " + (
            f"a glyph can be at most {MAX_STRIP_WIDTH:,} px (cairo's largest surface)" if em > 1 else "a glyph under "
            f"1 px draws nothing") + f"; PIXEL draws 8 pt at 120 dpi ({8 * 120 / 72:.0f} px) into {16} px patches")
    files = cfg.font_files()
    if cfg.fallback_fonts_dir and not any(Path(f).parent == Path(cfg.fallback_fonts_dir) for f in files):
        problems.append(f"--fallback_fonts_dir {cfg.fallback_fonts_dir} holds no .ttf/.otf/.ttc file, so it would add "
                        "no font; give a directory of font files, or leave the flag out")
    for path in files:
        why = font_problem(str(path))
        if why:
            problems.append(f"--font {path} {why}; give a .ttf/.otf file (a name in fonts/ or a path)")
    if cfg.backend == "pygame" and not problems:  # what pygame.freetype cannot draw failed in every worker
        from .render.pygame import draw_problem
        problems += [why] if (why := draw_problem(cfg)) else []
    return problems


def _open_font(path: str):
    from fontTools.ttLib import TTCollection, TTFont

    with open(path, "rb") as fh:
        tag = fh.read(4)
    return TTCollection(path).fonts[0] if tag == b"ttcf" else TTFont(path, lazy=True)


def render_config_or_problems(make: Callable[[], RenderConfig]) -> tuple[RenderConfig | None, list[str]]:
    try:
        cfg = make()
    except FileNotFoundError as e:
        if "fallback_fonts_dir" in str(e):
            return None, [f"--fallback_fonts_dir: {e}; give a directory of .ttf/.otf files"]
        return None, [f"--font: {e}; give a .ttf/.otf file in fonts/ or a path"]
    except (ValueError, KeyError) as e:
        return None, [f"render settings: {e}"]
    return cfg, []


def _writable_parent(p: Path, flag: str, given: str) -> str | None:
    parent = next(d for d in (p, *p.parents) if d.exists())
    if not parent.is_dir():
        return f"{flag} {given}: {parent} is a file, so no directory can be made there; give another path"
    try:  # made, not os.access: root passed that for /proc, then a FileNotFoundError traceback after the check
        os.rmdir(tempfile.mkdtemp(prefix=".pixelkit-probe-", dir=parent))
    except OSError as e:
        return f"{flag} {given}: no directory can be made in {parent} ({e.strerror}); give another path"
    return None


def _output_problem(out: str) -> str | None:
    from .sink import is_local

    if not is_local(out):  # s3://, gs://: everything goes through Beam's FileSystems (pipeline/storage.py)
        return _remote_problem(out, "--output")
    p = Path(out.removeprefix("file://"))
    if (why := name_too_long(p, "--output")) or (p.exists() and not p.is_dir()):
        return why or f"--output {out} is a file; give a directory (it will hold the shards)"
    return _writable_parent(p, "--output", out)


def _remote_problem(url: str, flag: str) -> str | None:
    """Why Beam cannot reach ``url``'s filesystem here (its scheme unknown, or the client library not installed)."""
    from apache_beam.io.filesystems import FileSystems

    try:
        FileSystems.get_filesystem(url)
    except ValueError as e:
        return f"{flag} {url}: {e}"
    import importlib.util

    need = {"s3": ("boto3", "pixelkit[s3]"), "gs": ("google.cloud.storage", "apache-beam[gcp]")}
    module, extra = need.get(url.split("://", 1)[0], (None, ""))
    try:
        found = module is None or importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        found = False
    if not found:
        return f"{flag} {url}: Beam's filesystem for it needs {module}; pip install '{extra}'"
    if url.startswith("s3://"):  # endpoint, credentials, bucket and access, in seconds (Beam retries for minutes)
        from .s3check import s3_problem

        return s3_problem(url, flag, write=flag == "--output")
    return None


def out_file_problem(out: str, flag: str = "--out", example: str = "render.png") -> str | None:
    """Why a file cannot be written at ``out`` (its missing folders are made; a file in the way is not)."""
    p = Path(out)
    if p.is_dir():
        return f"{flag} {out} is a directory; give a file name, e.g. {p / example}"
    return _writable_parent(p.parent, flag, out)


def out_dir_problem(out: str, flag: str = "--out") -> str | None:
    """Why a directory cannot be made (or written into) at ``out``."""
    p = Path(out)
    if (why := name_too_long(p, flag)) or (p.exists() and not p.is_dir()):  # too long: exists() raised OSError
        return why or f"{flag} {out} is a file; give a directory"
    return _writable_parent(p, flag, out)


def _input_problems(specs: list[str], fmt: str) -> list[str]:
    from .documents import no_surrogates
    from .runconfig import parse_input
    from .readers import detect_format
    from .sources import match_files

    problems = []
    matched: list[tuple[str, list[str]]] = []
    for spec in specs:
        source, pattern = parse_input(spec)
        if not source.strip():  # "=path": an empty source name, a blank row in the summary and the card, and counts
            # (``chars_rendered:``) that name no source
            problems.append(f"--input {spec}: the source name before '=' is empty; give source=pattern (or the bare "
                            "pattern: the source is then the file name's stem)")
            continue
        if no_surrogates(source) != source:
            problems.append(f"--input {no_surrogates(spec)}: the source name is not valid UTF-8; give source=pattern")
            continue
        if pattern.startswith("s3://") and (why := _remote_problem(pattern, "--input")):
            problems.append(why)
            continue
        try:
            files = match_files([pattern])
        except ValueError as e:  # nothing matches, or no filesystem for the scheme (gs:// without beam[gcp])
            fix = "check the path (quote patterns with *)" if "no file matches" in str(e) else "install its filesystem"
            problems.append(f"--input {spec}: {str(e).split(' Path specified')[0][:200]}; {fix}")
            continue
        if problem := special_input_problem(spec, pattern):
            problems.append(problem)
            continue
        matched.append((spec, files))
        if fmt == "auto":
            for f in files:
                try:
                    detect_format(f)
                except ValueError:
                    problems.append(f"--input {spec}: cannot tell the format of {f} from its suffix; pass --format")
                    break
    return problems + duplicate_input_problems(matched, fmt)


def special_input_problem(spec: str, pattern: str) -> str | None:
    """The refusal of an --input that names (not globs) a FIFO, socket or device: reading it would block (``run`` and
    ``task`` alike; a glob's match is skipped by the readers instead)."""
    from .readers.streams import special_file

    if any(ch in pattern for ch in "*?[") or not (what := special_file(pattern)):
        return None
    return (f"--input {spec}: {pattern} is {what}, not a regular file: reading it would wait for a writer (or never "
            "end); give a file (a pipe's contents: save them to one first)")


def _file_identity(path: str) -> object:
    """The same file whatever the path (symlinks, hard links, ./ and ../): device + inode; a URL is itself."""
    if "://" in path and not path.startswith("file://"):
        return path
    try:
        st = os.stat(path.removeprefix("file://"))
    except (OSError, ValueError):
        return os.path.realpath(path)
    return (st.st_dev, st.st_ino)


def duplicate_input_problems(matched: list[tuple[str, list[str]]], fmt: str) -> list[str]:
    """One line per pair of --input values that would read the same file (twice: a repeated value, a file and a
    book directory holding it, a symlink or hard link to it, overlapping patterns), naming one such file."""
    from .readers.books import book_files

    seen: dict[object, tuple[str, str]] = {}  # file identity -> (the --input that reads it first, its path)
    clashes: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for spec, files in matched:
        for f in files:
            local_dir = "://" not in f and os.path.isdir(f) and fmt in ("auto", "books")
            for member in book_files(f) if local_dir else [f]:
                key = _file_identity(member)
                if key in seen:
                    first_spec, first_path = seen[key]
                    clashes.setdefault((spec, first_spec), []).append((member, first_path))
                else:
                    seen[key] = (spec, member)
    out = []
    for (spec, first_spec), pairs in clashes.items():
        member, first = pairs[0]
        same = member if member == first else f"{member} (the same file as {first})"
        where = f"--input {first_spec} reads it too" if spec != first_spec else "this pattern matches it twice" if [
            s for s, _ in matched].count(spec) == 1 else "the same --input is given twice"  # (was: "matches it twice")
        more = f" and {len(pairs) - 1} more file(s)" if len(pairs) > 1 else ""
        out.append(f"--input {spec}: {same}{more} would be read twice ({where}); give each file once")
    return out


def output_problems(o: dict[str, Any], holds: str, example: str) -> list[str]:
    """``--output`` (given, a directory that can be made or reached) and ``--resume``/``--overwrite`` (not both):
    the checks ``pixel-render run`` and ``pixel-render task`` share; ``holds``/``example`` word the first message."""
    problems = []
    if not o.get("output"):
        problems.append(f"--output is required: the directory for {holds}, e.g. --output {example}")
    elif why := _output_problem(o["output"]):
        problems.append(why)
    if o.get("resume") and o.get("overwrite"):
        problems.append("--resume and --overwrite contradict each other; give one")
    return problems


def check_run_options(o: dict[str, Any], render_config: Callable[[], RenderConfig]) -> list[str]:
    """Every problem with a ``pixel-render run`` option set, in flag order; [] when the run can start."""
    problems = check_rules(o)
    if not o.get("input"):
        problems.append("--input is required: [source=]file pattern, e.g. --input books=books/*.txt")
    else:
        problems += _input_problems(o["input"], o["format"])
    problems += output_problems(o, "the shards", "out/mix")
    if o.get("tokenizer"):
        problems += _tokenizer_problems(o["tokenizer"])
    if not any(p.startswith(("--font", "--patch", "--max_patches", "--dpi", "--font_size")) for p in problems):
        cfg, bad = render_config_or_problems(render_config)
        problems += bad or check_render_config(cfg)
        if cfg is not None and (o.get("min_patches") or 0) >= cfg.max_patches:
            problems.append(f"--min_patches {o['min_patches']} can never be met: a strip holds at most "
                            f"{cfg.max_patches - 1} text patches (+ EOS); every chunk would be skipped")
    return problems


def _tokenizer_problems(path: str) -> list[str]:
    """The tokenizer loads as the run will load it (``tokenizer.load``: a tokenizers JSON or a SentencePiece
    model; only JSON passed here before, so a SentencePiece ``tokenizer.model`` was refused)."""
    if Path(path).is_dir():
        return [f"--tokenizer {path} is a directory; give its tokenizer.json or tokenizer.model file"]
    if not Path(path).is_file():
        return [f"--tokenizer {path} does not exist; give a tokenizer.json (pixel-render tokenizer train)"]
    from .tokenizer import load

    try:
        load(path)
    except ValueError as e:  # neither kind (load names both)
        return [str(e)[:300]]
    except Exception as e:  # noqa: BLE001  (tokenizers raises a bare Exception for every parse error)
        return [f"--tokenizer {path} is not a tokenizers JSON file ({str(e)[:80]})"]
    return []


def _all_options_parser(**kwargs):
    from apache_beam.options.pipeline_options import PipelineOptions, _BeamArgumentParser

    parser = _BeamArgumentParser(allow_abbrev=False, **kwargs)
    for cls in {str(c): c for c in PipelineOptions.__subclasses__()}.values():
        cls._add_argparse_args(parser)  # what PipelineOptions.get_all_options parses with
    return parser


def unparsable_flags(argv: list[str]) -> list[str]:
    """A flag the option parser cannot take (a value outside its choices, ``--format nope``; not a number; no
    value), as one line naming the flag and what it takes: Beam's parse printed its whole usage block and exited.
    Check before ``PipelineOptions.get_all_options`` (argparse stops at the first such flag)."""
    import argparse

    try:
        _all_options_parser(exit_on_error=False).parse_known_args(argv)
    except argparse.ArgumentError as e:
        return [f"{e.argument_name}: {e.message}" if e.argument_name else e.message]
    return []


def unknown_flags(argv: list[str]) -> list[str]:
    """Arguments no Beam or pixelkit option takes (Beam itself only warns and drops them: a typo'd flag would be
    silently ignored)."""
    parser = _all_options_parser()
    _, unknown = parser.parse_known_args(argv)
    known = [opt for action in parser._actions for opt in action.option_strings]
    out, after_flag = [], False
    for arg in unknown:
        if after_flag and not arg.startswith("-"):  # the value of the unknown flag before it
            after_flag = False
            continue
        name, after_flag = arg.split("=", 1)[0], arg.startswith("--") and "=" not in arg
        close = difflib.get_close_matches(name, known, n=1) if name.startswith("--") else []
        out.append(f"{name}: unknown option" + (f"; did you mean {close[0]}?" if close else
                                                 "; see pixel-render run --help"))
    return out
