"""Hostile MediaWiki exports through the dump reader and the whole ``pixel-render run`` job (Beam's local runner):
``<page>`` tags with attributes, a page too large to parse, entities declared in a DTD (internal, external, nested),
CDATA sections and XML comments in a page's text.

Built from the bundled real enwiki excerpt (CC BY-SA, sample_data/README.md): its pages are cut out and edited.
"""

from __future__ import annotations

import bz2
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from pixelkit.pipeline.documents import DeadLetter
from pixelkit.pipeline.readers.wikidump import iter_wikipedia

from readerdata import WIKI

ROOT = Path(__file__).resolve().parents[1]


def _parts() -> tuple[bytes, list[bytes], bytes]:
    """The bundled dump as (header, pages, footer)."""
    xml = bz2.decompress(WIKI.read_bytes())
    starts = [m.start() for m in re.finditer(rb"<page>", xml)]
    end = xml.rindex(b"</page>") + len(b"</page>")
    pages = [xml[a:b] for a, b in zip(starts, starts[1:] + [end])]
    return xml[: starts[0]], pages, xml[end:]


def _run_job(inputs: list[str], out: Path, *extra: str) -> dict:
    p = subprocess.run([sys.executable, "-m", "pixelkit.pipeline.cli", "run", *(f"--input={i}" for i in inputs),
                        f"--output={out}", "--max_patches=64", *extra], cwd=ROOT, capture_output=True, text=True,
                       timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr[-3000:]
    counts = json.loads((out / "manifest.json").read_text())["counts"]
    outcomes = sum(v for k, v in counts.items() if k.startswith(("skipped_", "dead_"))) + counts["documents_written"]
    assert counts["records_read"] == outcomes, counts
    return counts


def test_page_tags_with_attributes_or_a_space_are_pages(tmp_path):
    """``<page>`` was found as those bytes only: ``<page id="1">`` (or ``<page >``) before the first plain one was
    parsed as part of the header and its page never read, without a record; later ones were cut off silently."""
    header, pages, footer = _parts()
    clean = list(iter_wikipedia(str(WIKI), "enwiki"))
    edited = [pages[0].replace(b"<page>", b'<page id="first">', 1), pages[1],
              pages[2].replace(b"<page>", b"<page >", 1), *pages[3:]]
    (tmp_path / "attrs.xml").write_bytes(header + b"".join(edited) + footer)
    assert list(iter_wikipedia(str(tmp_path / "attrs.xml"), "enwiki")) == clean
    # a tag that only starts with "page" is not a page
    (tmp_path / "pages.xml").write_bytes(header + b"".join(pages).replace(b"<siteinfo>", b"<pagesx/><siteinfo>")
                                         + footer)
    assert list(iter_wikipedia(str(tmp_path / "pages.xml"), "enwiki")) == clean


def _huge_dump(tmp_path: Path, chars: int) -> tuple[Path, str]:
    """The bundled dump with one more article: the Anarchism page's wikitext repeated to over ``chars``."""
    header, pages, footer = _parts()
    article = next(p for p in pages if b"<title>Anarchism</title>" in p)
    wikitext = article[article.index(b"<text"):article.index(b"</text>")]
    wikitext = wikitext[wikitext.index(b">") + 1:]
    body = wikitext * (chars // len(wikitext) + 1)
    huge = re.sub(rb"<id>12</id>", b"<id>999</id>", article, count=1).replace(wikitext, body)
    path = tmp_path / "huge.xml"
    path.write_bytes(header + b"".join(pages) + huge + footer)
    return path, f"page {len(pages) + 1} (id 999)"


def test_a_page_over_max_doc_chars_is_refused_before_its_wikitext_is_parsed(tmp_path):
    """A page is measured as wikitext, before mwparserfromhell holds ~60 bytes per character of it (a 63 MB page
    took 4 GB): it is a ``document_too_large`` dead letter naming the page. The job's counts add up."""
    path, where = _huge_dump(tmp_path, 300_000)
    recs = list(iter_wikipedia(str(path), "enwiki", max_doc_chars=200_000))
    dead = [r for r in recs if isinstance(r, DeadLetter)]
    assert [(d.position, d.reason) for d in dead] == [(where, "document_too_large")]
    assert "characters of wikitext > --max_doc_chars 200,000 (not parsed)" in dead[0].detail
    assert recs[:-1] == list(iter_wikipedia(str(WIKI), "enwiki"))  # the pages before it are read as ever
    counts = _run_job([f"enwiki={path}"], tmp_path / "out", "--max_doc_chars=200000")
    assert counts["dead_document_too_large"] == 1 and counts["documents_written"] == 1, counts
    [letter] = [json.loads(x) for x in (tmp_path / "out" / "dead_letters.jsonl").read_text().splitlines()]
    assert (letter["position"], letter["reason"]) == (where, "document_too_large")


def test_dtd_entities_never_expand_nor_read_a_file(tmp_path):
    """Measured as already right, kept so: an entity declared in an internal DTD -- one naming a local file (XXE),
    a URL, or nesting to billions of characters -- is not expanded in a page (each page is parsed with the DTD's
    plain-text entities only: that page is a ``malformed_xml`` dead letter), and in the header, expat's
    amplification limit stops the nesting and an external entity is undefined (the file is one dead letter). The
    file is never read."""
    header, pages, footer = _parts()
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-LOCAL-FILE")
    laughs = "".join(f'<!ENTITY l{i + 1} "{f"&l{i};" * 10}">' for i in range(9))
    dtd = (f'<!DOCTYPE mediawiki [<!ENTITY x SYSTEM "file://{secret}"><!ENTITY n SYSTEM "http://127.0.0.1:9/x">'
           f'<!ENTITY l0 "lol">{laughs}]>\n').encode()
    first = header.index(b"<mediawiki")
    bodies = [pages[0].replace(b"</text>", ent + b"</text>", 1) for ent in (b"&x;", b"&n;", b"&l9;")]
    (tmp_path / "pages.xml").write_bytes(header[:first] + dtd + header[first:] + b"".join(bodies) + footer)
    recs = list(iter_wikipedia(str(tmp_path / "pages.xml"), "enwiki"))
    assert [(r.position, r.reason) for r in recs] == [(f"page {i}", "malformed_xml") for i in (1, 2, 3)]
    assert all("undefined entity" in r.detail for r in recs)
    for ent, why in ((b"&x;", "undefined entity &x;"), (b"&l9;", "amplification")):
        (tmp_path / "head.xml").write_bytes(header[:first] + dtd + header[first:].replace(
            b"<sitename>", b"<sitename>" + ent, 1) + pages[0] + footer)
        [dead] = iter_wikipedia(str(tmp_path / "head.xml"), "enwiki")
        assert dead.reason == "malformed_xml" and why in dead.detail and "SECRET" not in dead.detail, dead
    assert not any("SECRET" in r.detail for r in recs)


def test_plain_text_dtd_entities_expand_in_pages_and_others_stay_dead_letters(tmp_path):
    """A page using an entity the export's internal DTD declares (``<!ENTITY phil "...">``, well-formed XML) was a
    ``malformed_xml`` dead letter, "undefined entity", its text lost: each page is parsed without the DTD. Now the
    DTD's plain-text entities (internal, no other entity, no markup, <= 1,000 characters) expand in every page; one
    holding markup or nesting another stays undefined there: that page alone is a dead letter, counted."""
    header, pages, footer = _parts()
    dtd = (b'<!DOCTYPE mediawiki [<!ENTITY phil "political &#34;philosophy&#34; at 100&#37;">'
           b'<!ENTITY mark "<b>x</b>"><!ENTITY nest "&phil; again"><!ENTITY phil "redeclared: ignored">]>\n')
    first = header.index(b"<mediawiki")
    anarchism = pages[1]
    body = [anarchism.replace(b"'''Anarchism''' is a", b"'''Anarchism''' is a &phil; --", 1),
            anarchism.replace(b"'''Anarchism''' is a", b"'''Anarchism''' is a &mark;", 1),
            anarchism.replace(b"'''Anarchism''' is a", b"'''Anarchism''' is a &nest;", 1), pages[2]]
    (tmp_path / "dtd.xml").write_bytes(header[:first] + dtd + header[first:] + b"".join(body) + footer)
    doc, mark, nest, redirect = iter_wikipedia(str(tmp_path / "dtd.xml"), "enwiki")
    assert 'Anarchism is a political "philosophy" at 100% -- political philosophy' in doc.text, doc.text[:200]
    assert (mark.position, mark.reason, nest.position, nest.reason) == ("page 2", "malformed_xml", "page 3",
                                                                        "malformed_xml")
    assert "undefined entity" in mark.detail and "undefined entity" in nest.detail
    assert redirect.reason == "redirect"


def test_cdata_and_xml_comments_in_a_page_keep_its_text(tmp_path):
    """Measured as already right, kept so: a page's text in a CDATA section (as tools other than MediaWiki write
    it) is its text; an XML comment inside ``<text>`` is not text, the words either side are kept. A CDATA holding
    ``</page>`` cuts the page there (pages are cut at that markup before parsing): that page alone is a
    ``malformed_xml`` dead letter, counted, and the pages after it are read."""
    from xml.sax.saxutils import unescape

    header, pages, footer = _parts()
    anarchism = pages[1]
    start = anarchism.index(b">", anarchism.index(b"<text")) + 1
    end = anarchism.index(b"</text>")
    raw = unescape(anarchism[start:end].decode(), {"&quot;": '"'}).encode()
    cdata = anarchism[:start] + b"<![CDATA[" + raw + b"]]>" + anarchism[end:]
    commented = anarchism.replace(b"'''Anarchism''' is a ", b"'''Anarchism''' is a <!-- tool note -->", 1)
    cut = anarchism[:start] + b"<![CDATA[" + raw[:40] + b"</page>" + raw[40:] + b"]]>" + anarchism[end:]
    (tmp_path / "c.xml").write_bytes(header + cdata + commented + cut + pages[2] + footer)
    [clean] = [r for r in iter_wikipedia(str(WIKI), "enwiki") if r.doc_id == "12"]
    a, b, dead, redirect = iter_wikipedia(str(tmp_path / "c.xml"), "enwiki")
    assert a == clean and b == clean
    assert (dead.position, dead.reason, redirect.reason) == ("page 3", "malformed_xml", "redirect")


def test_a_page_over_the_byte_cap_is_skipped_to_its_end_never_held_whole(tmp_path):
    """A page of more than 6 bytes per character of --max_doc_chars (+1 MiB) is not held nor parsed as XML (a 200 MB
    page took 1.5 GB to be refused): an article is a ``document_too_large`` dead letter naming it, a talk page is
    skipped as any talk page is, and the pages after them are read as ever."""
    import tracemalloc

    header, pages, footer = _parts()
    big, _ = _huge_dump(tmp_path, 8_000_000)
    huge = big.read_bytes()[len(header) + sum(map(len, pages)):-len(footer) or None]
    talk = re.sub(rb"<ns>0</ns>", b"<ns>1</ns>", huge.replace(b"<id>999</id>", b"<id>998</id>", 1), count=1)
    path = tmp_path / "two-huge.xml"
    path.write_bytes(header + pages[0] + huge + talk + b"".join(pages[1:]) + footer)
    tracemalloc.start()
    try:
        recs = list(iter_wikipedia(str(path), "enwiki", max_doc_chars=200_000))  # a cap of 2.2 MB
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    clean = list(iter_wikipedia(str(WIKI), "enwiki"))
    assert recs[:1] + recs[3:] == clean
    assert (recs[1].position, recs[1].reason) == ("page 2 (id 999)", "document_too_large")
    assert "not parsed" in recs[1].detail and len(huge) > 8_000_000
    assert (recs[2].doc_id, recs[2].reason) == ("998", "not_article_namespace")
    assert peak < 6 << 20  # each 8 MB page was held, decoded and parsed: > 24 MB
