"""Hostile MediaWiki exports through the dump reader: ``<page>`` tags with attributes, entities declared in a
DTD (internal, external, nested).

Built from the bundled real enwiki excerpt (CC BY-SA, sample_data/README.md): its pages are cut out and edited.
"""

from __future__ import annotations

import bz2
import re

from pixelkit.pipeline.readers.wikidump import iter_wikipedia

from readerdata import WIKI


def _parts() -> tuple[bytes, list[bytes], bytes]:
    """The bundled dump as (header, pages, footer)."""
    xml = bz2.decompress(WIKI.read_bytes())
    starts = [m.start() for m in re.finditer(rb"<page>", xml)]
    end = xml.rindex(b"</page>") + len(b"</page>")
    pages = [xml[a:b] for a, b in zip(starts, starts[1:] + [end])]
    return xml[: starts[0]], pages, xml[end:]


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


def test_dtd_entities_never_expand_nor_read_a_file(tmp_path):
    """Measured as already right, kept so: an entity declared in an internal DTD -- one naming a local file (XXE),
    a URL, or nesting to billions of characters -- is not expanded in a page (each page is parsed alone, without
    the DTD: that page is a ``malformed_xml`` dead letter), and in the header, expat's amplification limit stops
    the nesting and an external entity is undefined (the file is one dead letter). The file is never read."""
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
