"""MediaWiki XML dumps (``.xml``, ``.xml.bz2`` incl. multistream) -> ``Document | DeadLetter | Skipped``.

Namespace 0 only, redirects skipped, wikitext cleaned by ``readers.wikitext``. Pages are cut from the byte stream
and parsed one by one, so a page that is not well-formed or not valid UTF-8 is one dead letter with its page
number and the pages after it are still read; a truncated stream ends the file with a dead letter after the pages
before the cut (see ``pipeline.readers`` for the reader contract).
"""

from __future__ import annotations

import codecs
import pyexpat
import re
from typing import BinaryIO, Iterator, NamedTuple
from xml.etree import ElementTree as ET

import mwparserfromhell

from ..documents import DeadLetter, Document, Record, Skipped
from .streams import STREAM_ERRORS, Opener, byte_cap, error_detail, open_binary, open_stream, stream_reason
from .wikitext import DEFAULT_LINK_PREFIXES, wikitext_to_text


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


_PAGE, _END_PAGE, _END_ROOT = b"<page>", b"</page>", b"</mediawiki>"
# a page's start tag: <page>, or <page ...> with attributes or a space, as tools other than MediaWiki write them
# (found as b"<page>" only, such a page was part of the header, parsed with it and never read: silently lost)
_PAGE_START = re.compile(rb"<page[>\s]")
_DECLARED = re.compile(rb"""\s*<\?xml[^>]*encoding=["']([A-Za-z0-9._-]+)["']""")


class HugePage(NamedTuple):
    """A page over the byte cap, skipped to its end unparsed: what its first bytes tell, and its size."""
    page_id: str
    title: str
    ns: str
    redirect: bool
    size: int


_HEAD = 1 << 16  # a page's first bytes kept when it is skipped: its title, ns, id and redirect come before its text
_HEAD_FIELDS = {k: re.compile(rb"<%s>([^<]*)</%s>" % (k.encode(), k.encode())) for k in ("title", "ns", "id")}


def _huge_page(head: bytes, size: int) -> HugePage:
    def field(name: str, default: str = "") -> str:
        m = _HEAD_FIELDS[name].search(head)
        return m.group(1).decode("utf-8", "replace").strip() if m else default
    before_text = head.split(b"<revision", 1)[0]
    return HugePage(field("id"), field("title"), field("ns", "0"), b"<redirect" in before_text, size)


def _page_end(buf: bytearray) -> int:
    """Where the page whose start is behind ``buf`` ends in it: just past its ``</page>``, or at the next page's
    start (as ``_blobs`` cuts a page that runs into the next); -1 if neither is in ``buf``."""
    end, nxt = buf.find(_END_PAGE), _PAGE_START.search(buf)
    if nxt is not None and (end < 0 or nxt.start() < end):
        return nxt.start()
    return end + len(_END_PAGE) if end >= 0 else -1


def _blobs(fh: BinaryIO, cap: int = 0) -> Iterator[tuple[str, bytes | HugePage]]:
    """``("header", bytes before the first <page>)`` (``("whole", ...)``: a file without pages), then
    ``("page", b"<page>...</page>")`` for each page, cut
    from the byte stream: each page is parsed on its own, so a broken page costs that page, not the rest of the
    dump. ``<`` in text is always escaped, so a literal ``<page>`` is markup. Fed with ``read1``: a decompressor
    that fails mid-file keeps the data before it. A page left unclosed at the end is a ``("page", ...)`` that
    will not parse; a page that runs into the next ``<page>`` is cut there. A page of more than ``cap`` bytes (0: no
    cap) is ``("huge", HugePage)``, read to its end in pieces and dropped (a 200 MB page was held and parsed whole:
    1.5 GB at the peak)."""
    buf, header, searched, huge = bytearray(), True, 0, None  # huge: [first bytes, size] of a page being skipped
    keep = len(_END_PAGE) - 1  # what a skipped page keeps of its last piece: a tag cut between two pieces
    for chunk in _utf8_chunks(fh):
        buf += chunk
        while True:
            if huge is not None:
                stop = _page_end(buf)
                if stop < 0:
                    if len(buf) > keep:
                        huge[1] += len(buf) - keep
                        del buf[:-keep]
                    break
                yield "huge", _huge_page(huge[0], huge[1] + stop)
                del buf[:stop]
                huge, searched = None, 0
                continue
            found = _PAGE_START.search(buf)
            if found is None:
                break
            start = found.start()
            if header:
                yield "header", bytes(buf[:start])
                header = False
            end = buf.find(_END_PAGE, max(start, searched))  # a long page: only the new bytes are searched
            if end < 0:
                if cap and len(buf) - start > cap:
                    huge = [bytes(buf[start:start + _HEAD]), len(_PAGE)]
                    del buf[:start + len(_PAGE)]
                    continue
                searched = max(0, len(buf) - len(_END_PAGE))
                break
            nxt = _PAGE_START.search(buf, start + len(_PAGE), end)
            stop = nxt.start() if nxt is not None else end + len(_END_PAGE)
            yield "page", bytes(buf[start:stop])
            del buf[:stop]
            searched = 0
    if huge is not None:  # unclosed at the end of the file
        yield "huge", _huge_page(huge[0], huge[1] + len(buf))
        buf = bytearray()
    rest = bytes(buf).strip()
    if header:
        yield "whole", rest
    elif _PAGE_START.match(rest):  # unclosed at the end of the file
        yield "page", rest
    elif rest.removesuffix(_END_ROOT).strip():
        raise ET.ParseError(f"unexpected data after the last page: {rest[:60]!r}")


def _utf8_chunks(fh: BinaryIO) -> Iterator[bytes]:
    """The stream as UTF-8 bytes, in pieces: an export in another encoding (a UTF-16 byte-order mark, or an XML
    declaration naming one) is transcoded, so pages can be cut at ``<page>`` bytes. Ends with b""."""
    read = getattr(fh, "read1", fh.read)
    first = read(1 << 16)
    if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        enc = "utf-16"
    else:
        first = first.removeprefix(codecs.BOM_UTF8)
        declared = _DECLARED.match(first)
        enc = declared.group(1).decode("ascii") if declared else "utf-8"
    if codecs.lookup(enc).name == "utf-8":
        yield first
        while chunk := read(1 << 16):
            yield chunk
    else:
        dec = codecs.getincrementaldecoder(enc)("strict")
        yield dec.decode(first).encode("utf-8")
        while chunk := read(1 << 16):
            yield dec.decode(chunk).encode("utf-8")
        yield dec.decode(b"", final=True).encode("utf-8")
    yield b""


# an entity of the header's internal DTD that each page is parsed with: internal, plain text (no reference to
# another entity, no markup) and at most this long; any other stays undeclared in pages (never read nor nested)
MAX_ENTITY_CHARS = 1000


def _text_entities(text: str) -> str:
    """The header's internal DTD entities that are plain text, as a DOCTYPE to parse each page with ("" if none).
    A page is parsed alone, without the DTD: a page using ``&co;`` declared there was a ``malformed_xml`` dead
    letter ("undefined entity"), its text lost. An external entity (a file, a URL), one that nests others
    (billion laughs) or holds markup stays undefined: that page is still a dead letter."""
    seen, kept = set(), []

    def declared(name, is_parameter, value, base, system_id, public_id, notation):
        if is_parameter or name in seen:  # the first declaration of a name is the one that counts
            return
        seen.add(name)
        if value is not None and system_id is None and notation is None and len(value) <= MAX_ENTITY_CHARS \
                and "&" not in value and "<" not in value:
            literal = value.replace('"', "&#34;").replace("%", "&#37;")
            kept.append(f'<!ENTITY {name} "{literal}">')

    parser = pyexpat.ParserCreate()
    parser.EntityDeclHandler = declared
    try:
        parser.Parse(text, True)  # the header ET has just parsed: the same declarations
    except pyexpat.ExpatError as e:  # not expected (ET, on expat, took it); a header error all the same
        raise ET.ParseError(str(e)) from None
    return f"<!DOCTYPE page [{''.join(kept)}]>" if kept else ""


def _header(raw: bytes, whole: bool = False) -> tuple[str, frozenset[str], str]:
    """The export namespace (``{http://www.mediawiki.org/xml/export-0.N/}``), the wiki's file/category link
    prefixes and the DOCTYPE of its plain-text DTD entities (``_text_entities``), from everything before the first
    page (closed here so it parses; UTF-8 by now, so an XML declaration naming another encoding is dropped).
    ``whole``: the file has no page, so it is parsed as it is (an export of no pages is closed already; one cut
    before its first page does not parse)."""
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", raw.decode("utf-8"))
    text = text if whole else text + _END_ROOT.decode()
    root = ET.fromstring(text)
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    if root.tag != f"{ns}mediawiki":
        raise ET.ParseError(f"not a MediaWiki export: the root element is {root.tag!r}")
    siteinfo = root.find(f"{ns}siteinfo")
    entities = _text_entities(text) if "<!ENTITY" in text else ""
    return ns, DEFAULT_LINK_PREFIXES if siteinfo is None else _site_prefixes(siteinfo, ns), entities


def iter_pages(fh: BinaryIO, cap: int = 0) -> Iterator[tuple[WikiPage | HugePage | Exception, frozenset[str]]]:
    """(page, the wiki's file/category link prefixes) for each ``<page>``; a page that is not valid UTF-8 or not
    well-formed comes as its exception instead (the pages after it still come), one of more than ``cap`` bytes as
    a ``HugePage``, unparsed. A broken header raises."""
    prefixes, entities = DEFAULT_LINK_PREFIXES, ""
    for kind, raw in _blobs(fh, cap):
        if kind == "huge":
            yield raw, prefixes
            continue
        if kind in ("header", "whole"):
            _, prefixes, entities = _header(raw, kind == "whole")
            continue
        try:  # a page parsed alone has no namespace; with the header's plain-text entities
            yield _page(ET.fromstring(entities + raw.decode("utf-8")), ""), prefixes
        except (UnicodeDecodeError, ET.ParseError) as e:
            yield e, prefixes


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


def iter_wikipedia(path: str, source: str, opener: Opener = open_binary, max_doc_chars: int = 0) -> Iterator[Record]:
    """A MediaWiki XML export (``.xml``, ``.xml.bz2`` incl. multistream): ``doc_id`` = page id, ``title`` = title.
    ``max_doc_chars`` (0: none): an article whose wikitext is longer is a ``document_too_large`` dead letter, not
    parsed (parsing holds ~60 bytes per character: a 63 MB page took 4 GB and minutes to be refused afterwards);
    a page of more than 6 bytes per character of it (+1 MiB) is one too (an article; else skipped as a small page
    is), never held whole nor parsed as XML -- so is a history dump's page whose revisions add up to that."""
    pages, cap = 0, byte_cap(max_doc_chars, 6)  # XML's most for a character of wikitext: &quot;
    with open_stream(path, opener) as fh:
        try:
            for page, prefixes in iter_pages(fh, cap):
                pages += 1
                if isinstance(page, HugePage):
                    yield _huge_record(page, source, path, pages, cap, max_doc_chars)
                    continue
                if isinstance(page, Exception):
                    reason = "decode_error" if isinstance(page, UnicodeDecodeError) else "malformed_xml"
                    yield DeadLetter(source, path, f"page {pages}", reason, error_detail(page))
                    continue
                if max_doc_chars and len(page.wikitext) > max_doc_chars and page.ns == "0" and not page.redirect:
                    yield DeadLetter(source, path, f"page {pages} (id {page.page_id})", "document_too_large",
                                     f"{len(page.wikitext):,} characters of wikitext > --max_doc_chars "
                                     f"{max_doc_chars:,} (not parsed)")
                    continue
                try:
                    yield page_record(page, source, prefixes)
                except (mwparserfromhell.parser.ParserError, RecursionError) as e:  # RecursionError: ~1,000 nested
                    # {{ or [[ overflow mwparserfromhell's (Python) builder; that page is lost, not the file
                    yield DeadLetter(source, path, f"page {pages} (id {page.page_id})", "wikitext_error", error_detail(e))
        except ET.ParseError as e:
            yield DeadLetter(source, path, _page_pos(pages), "malformed_xml", error_detail(e))
        except (UnicodeDecodeError, LookupError) as e:  # a non-UTF-8 export that does not decode as it says
            yield DeadLetter(source, path, _page_pos(pages), "decode_error", error_detail(e))
        except STREAM_ERRORS as e:
            yield DeadLetter(source, path, _page_pos(pages), stream_reason(e), error_detail(e))


def _huge_record(page: HugePage, source: str, path: str, pages: int, cap: int, max_doc_chars: int) -> Record:
    if page.ns != "0":
        return Skipped(source, page.page_id, "not_article_namespace")
    if page.redirect:
        return Skipped(source, page.page_id, "redirect")
    return DeadLetter(source, path, f"page {pages} (id {page.page_id})", "document_too_large",
                      f"a page of {page.size:,} bytes > {cap:,} (6 per character of --max_doc_chars "
                      f"{max_doc_chars:,}, +1 MiB): not parsed")


def _page_pos(pages: int) -> str:
    return f"page {pages + 1} (after {pages} complete pages)"
