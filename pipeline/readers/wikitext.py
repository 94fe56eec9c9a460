"""MediaWiki wikitext -> plain text (mwparserfromhell, then a clean-up pass for what it leaves unparsed).

Pure functions; used by the Wikipedia dump reader (wikidump.py).
"""

from __future__ import annotations

import re

import mwparserfromhell
from mwparserfromhell.smart_list import SmartList
from mwparserfromhell.nodes import Argument, Comment, ExternalLink, Heading, Tag, Template, Text, Wikilink
from mwparserfromhell.wikicode import Wikicode

_DROP_TAGS = frozenset({"ref", "references", "table", "gallery", "math", "chem", "ce", "hiero", "imagemap", "timeline",
                        "score", "graph", "templatedata", "inputbox", "categorytree", "syntaxhighlight", "source",
                        "mapframe", "maplink", "noinclude", "includeonly"})
DEFAULT_LINK_PREFIXES = frozenset({"media", "file", "image", "category"})
_MAGIC_WORD = re.compile(r"__[A-Z]+__")
_EMPTY_PARENS = re.compile(r"\(\s*(?:[,;:.\u2013\u2014-]\s*)*\)")  # "( ; )" left behind by removed templates
_PAREN_PUNCT = re.compile(r"(?<=\()\s*(?:[,;:]\s*)+|(?:\s*[,;:])+\s*(?=\))")  # "(;, Akhilleus, )" -> "(Akhilleus)"
_SPACES = re.compile(r"[ \t]+")
_SPACE_BEFORE = re.compile(r" +([,.])")
_BLANK_RUNS = re.compile(r"\n{3,}")
_RESIDUAL_REF = re.compile(r"<ref\b[^>]*?/>|<ref\b[^>]*>.*?</ref\s*>", re.S | re.I)
_RESIDUAL_TEMPLATE = re.compile(r"\{\{[^{}]*\}\}")
_RESIDUAL_LINK = re.compile(r"\[\[([^\[\]]*)\]\]")
_RESIDUAL_TAG = re.compile(r"</?(?:ref|references|blockquote|div|span|small|big|center|poem|nowiki|sup|sub|abbr|code|"
                           r"font|s|u|i|b|onlyinclude)\b[^>]*>", re.I)
_POSSESSIVE = re.compile(r"'''(?=s\b)")  # ''Iliad'''s: italics closed, then an apostrophe
_RESIDUAL_MARKUP = re.compile(r"'{2,}|\[\[|\]\]|\{\{|\}\}")
_CHILD_CODE = {Tag: "contents", Wikilink: "text", ExternalLink: "title"}  # wikicode inside a node
_HEADING_LINE = re.compile(r"^\s*(={1,6})(.+?)\1\s*$")
# An interlanguage link ([[de:Agronomie]], [[be-x-old:...]], no leading colon, no label) is shown by MediaWiki in the
# sidebar, not in the text: a language code's prefix, lower case as wikis write them (a main-namespace title with a
# colon, "Ys: The Vanished Omens", has a capital or a space)
_LANGUAGE_LINK = re.compile(r"[a-z]{2,3}(?:-[a-z]+)*:[^:|]")


def _is_junk(node, prefixes: frozenset[str]) -> bool:
    if isinstance(node, (Template, Comment, Argument)):
        return True
    if isinstance(node, Tag):
        return str(node.tag).strip().lower() in _DROP_TAGS
    if isinstance(node, Wikilink):
        return _dropped_link(str(node.title).strip(), node.text is not None, prefixes)
    return False


def _dropped_link(target: str, labelled: bool, prefixes: frozenset[str]) -> bool:
    """A link that is not prose: to a file or category (``prefixes``), or to another language's article."""
    if ":" not in target or target.startswith(":"):
        return False
    return target.split(":", 1)[0].strip().replace("_", " ").lower() in prefixes or \
        (not labelled and _LANGUAGE_LINK.match(target) is not None)


def _prune(code: Wikicode, prefixes: frozenset[str]) -> None:
    """Drop templates, refs, tables, file/category links ... at any depth; ``<br>`` becomes a newline, a heading a
    plain ``== title ==`` line. Each node list is rebuilt once: deleting nodes one by one (``del code.nodes[i]``)
    moved the rest of the list each time, so a page of a million templates never finished."""
    kept = []
    for node in code.nodes:
        if _is_junk(node, prefixes):
            continue
        if isinstance(node, Tag) and str(node.tag).strip().lower() == "br":
            node = Text("\n")
        elif isinstance(node, Heading):
            _prune(node.title, prefixes)
            marks = "=" * node.level
            node = Text(f"\n{marks} {node.title.strip_code().strip()} {marks}\n")
        else:
            attr = next((a for t, a in _CHILD_CODE.items() if isinstance(node, t)), None)
            child = getattr(node, attr) if attr else None
            if child is not None:
                _prune(child, prefixes)
        kept.append(node)
    if len(kept) != len(code.nodes) or any(a is not b for a, b in zip(kept, code.nodes)):
        code.nodes = SmartList(kept)


def _repeat(pattern: re.Pattern, repl, text: str) -> str:
    """``pattern.sub`` until nothing changes (innermost first, for nested braces and brackets)."""
    n = 1
    while n:
        text, n = pattern.subn(repl, text)
    return text


def _drop_table_lines(text: str) -> str:
    out, depth = [], 0
    for line in text.split("\n"):
        stripped = line.lstrip()
        if stripped.startswith("{|"):
            depth += 1
        elif depth and stripped.startswith("|}"):
            depth -= 1
        elif not depth:
            out.append(line)
    return "\n".join(out)


def _link_text(inner: str, prefixes: frozenset[str]) -> str:
    target, bar, label = inner.partition("|")
    if _dropped_link(target.strip(), bool(bar), prefixes):
        return ""
    return label.rsplit("|", 1)[-1] if label else target


def _residue(text: str, prefixes: frozenset[str]) -> str:
    """Markup the parser kept as text (it gives up on a span with unbalanced quotes/brackets), removed by pattern."""
    if not any(m in text for m in ("{{", "[[", "<", "{|", "''")):
        return text
    text = _repeat(_RESIDUAL_TEMPLATE, "", _RESIDUAL_REF.sub("", text))
    if "{|" in text:
        text = _drop_table_lines(text)
    text = _repeat(_RESIDUAL_LINK, lambda m: _link_text(m.group(1), prefixes), text)
    return _RESIDUAL_MARKUP.sub("", _RESIDUAL_TAG.sub("", _POSSESSIVE.sub("'", text)))


def _clean(text: str) -> str:
    lines = []
    for line in text.split("\n"):
        line = _PAREN_PUNCT.sub("", _EMPTY_PARENS.sub("", _MAGIC_WORD.sub("", line)))
        lines.append(_SPACE_BEFORE.sub(r"\1", _SPACES.sub(" ", line)).strip())
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


def _kept_sections(sections: list[tuple[int, str, str]]) -> list[bool]:
    """A section is kept if it has text or a kept subsection (so "References" over a removed {{reflist}} goes)."""
    keep = [False] * len(sections)
    for i in reversed(range(len(sections))):
        level, _, body = sections[i]
        j = i + 1
        keep[i] = bool(body)
        while not keep[i] and j < len(sections) and sections[j][0] > level:
            keep[i], j = keep[j], j + 1
    return keep


def _sections(text: str) -> list[tuple[int, str, str]]:
    """(level, heading, body) from text whose headings are still ``== x ==`` lines (level 0: the lead)."""
    sections, level, title, body = [], 0, "", []
    for line in text.split("\n"):
        m = _HEADING_LINE.match(line)
        if m:
            sections.append((level, title, _clean("\n".join(body))))
            level, title, body = len(m.group(1)), _clean(m.group(2)), []
        else:
            body.append(line)
    sections.append((level, title, _clean("\n".join(body))))
    return sections


def wikitext_to_text(wikitext: str, link_prefixes: frozenset[str] = DEFAULT_LINK_PREFIXES) -> str:
    """Plain text: headings on their own lines, paragraphs separated by one blank line, no markup left.

    ``link_prefixes``: lower-case namespace names whose links are dropped (File, Category ... in the wiki's language).
    Headings stay ``== x ==`` lines until the end, so that those the parser kept as text are found as well.
    """
    code = mwparserfromhell.parse(wikitext)
    _prune(code, link_prefixes)
    sections = _sections(_residue(code.strip_code(normalize=True, collapse=False), link_prefixes))
    blocks = ("\n".join(filter(None, (title, body)))
              for (_, title, body), keep in zip(sections, _kept_sections(sections)) if keep)
    return "\n\n".join(b for b in blocks if b)
