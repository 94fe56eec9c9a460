"""MediaWiki XML dumps (``.xml``, ``.xml.bz2`` incl. multistream) -> ``Document | DeadLetter | Skipped``.

Namespace 0 only, redirects skipped, wikitext cleaned by ``pipeline.wikitext``; a broken page or a truncated
stream becomes a dead letter with its page position (see ``pipeline.sources`` for the reader contract).
"""

from __future__ import annotations

from typing import BinaryIO, Iterator, NamedTuple
from xml.etree import ElementTree as ET

import mwparserfromhell

from .documents import DeadLetter, Document, Skipped
from .streams import STREAM_ERRORS as _STREAM_ERRORS
from .streams import Opener, _detail, _stream_reason, open_binary, open_stream
from .wikitext import DEFAULT_LINK_PREFIXES, wikitext_to_text

Record = Document | DeadLetter | Skipped

_LINK_NAMESPACES = ("-2", "6", "14")  # Media, File, Category: their links are not prose

class WikiPage(NamedTuple):
    page_id: str
    title: str
    ns: str
    redirect: bool
    wikitext: str


def _site_prefixes(siteinfo: ET.Element, ns: str) -> frozenset[str]:
    names = {(el.text or "").strip().lower() for el in siteinfo.iter(f"{ns}namespace")
             if el.get("key") in _LINK_NAMESPACES}
    return DEFAULT_LINK_PREFIXES | (names - {""})


def _page(elem: ET.Element, ns: str) -> WikiPage:
    revisions = elem.findall(f"{ns}revision")
    text = revisions[-1].findtext(f"{ns}text") if revisions else ""
    return WikiPage(page_id=(elem.findtext(f"{ns}id") or "").strip(), title=elem.findtext(f"{ns}title") or "",
                    ns=(elem.findtext(f"{ns}ns") or "0").strip(), redirect=elem.find(f"{ns}redirect") is not None,
                    wikitext=text or "")


def _xml_events(fh: BinaryIO) -> Iterator[tuple[str, ET.Element]]:
    """Like ``ET.iterparse`` but fed with ``read1``: a decompressor that fails mid-file keeps the data before it
    (``read(n)`` would drop the part of its n bytes it had already decompressed)."""
    parser, read = ET.XMLPullParser(events=("start", "end")), getattr(fh, "read1", fh.read)
    while chunk := read(1 << 16):
        parser.feed(chunk)
        yield from parser.read_events()
    parser.close()  # ParseError if the document is incomplete
    yield from parser.read_events()


def iter_pages(fh: BinaryIO) -> Iterator[tuple[WikiPage, frozenset[str]]]:
    """(page, the wiki's file/category link prefixes) for each ``<page>``; memory stays flat (elements are cleared).

    The export namespace (``{http://www.mediawiki.org/xml/export-0.N/}``) is taken from the root element.
    """
    root, ns, prefixes = None, "", DEFAULT_LINK_PREFIXES
    for event, elem in _xml_events(fh):
        if root is None:
            root = elem
            ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
            if root.tag != f"{ns}mediawiki":
                raise ET.ParseError(f"not a MediaWiki export: the root element is {root.tag!r}")
        elif event != "end":
            continue
        elif elem.tag == f"{ns}siteinfo":
            prefixes = _site_prefixes(elem, ns)
            root.clear()
        elif elem.tag == f"{ns}page":
            page = _page(elem, ns)
            root.clear()
            yield page, prefixes


def page_record(page: WikiPage, source: str, link_prefixes: frozenset[str] = DEFAULT_LINK_PREFIXES) -> Record:
    """Articles (namespace 0, not redirects, some text left) become Documents; the rest is Skipped with a reason."""
    if page.ns != "0":
        return Skipped(source, page.page_id, "not_article_namespace")
    if page.redirect:
        return Skipped(source, page.page_id, "redirect")
    text = wikitext_to_text(page.wikitext, link_prefixes)
    if not text:
        return Skipped(source, page.page_id, "empty_text")
    return Document(source, page.page_id, text, page.title)


def iter_wikipedia(path: str, source: str, opener: Opener = open_binary) -> Iterator[Record]:
    """A MediaWiki XML export (``.xml``, ``.xml.bz2`` incl. multistream): ``doc_id`` = page id, ``title`` = title."""
    pages = 0
    with open_stream(path, opener) as fh:
        try:
            for page, prefixes in iter_pages(fh):
                pages += 1
                try:
                    yield page_record(page, source, prefixes)
                except mwparserfromhell.parser.ParserError as e:
                    yield DeadLetter(source, path, f"page {pages} (id {page.page_id})", "wikitext_error", _detail(e))
        except ET.ParseError as e:
            yield DeadLetter(source, path, _page_pos(pages), "malformed_xml", _detail(e))
        except _STREAM_ERRORS as e:
            yield DeadLetter(source, path, _page_pos(pages), _stream_reason(e), _detail(e))


def _page_pos(pages: int) -> str:
    return f"page {pages + 1} (after {pages} complete pages)"
