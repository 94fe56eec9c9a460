"""The MediaWiki dump reader (readers/wikidump.py, readers/wikitext.py) on real dumps: the bundled enwiki excerpt and
the /work/shared excerpts (skipped when absent)."""

from __future__ import annotations

import bz2
import re
from collections import Counter

import pytest

from pixelkit.pipeline.documents import DeadLetter, Document, Skipped
from pixelkit.pipeline.readers import iter_documents
from pixelkit.pipeline.readers.wikidump import iter_wikipedia
from pixelkit.pipeline.readers.wikitext import wikitext_to_text

from readerdata import SHARED_DATA, WIKI, kinds, need

ENWIKI_FULL = SHARED_DATA / "wikipedia" / "enwiki-articles-excerpt.xml.bz2"
BGWIKI = SHARED_DATA / "wikipedia" / "bgwiki-articles-excerpt.xml.bz2"
LEFTOVERS = ("{{", "}}", "[[", "]]", "<ref", "{|", "|}", "thumb|", "Category:", "File:", "''")


@pytest.fixture(scope="module")
def enwiki_full() -> list:
    return list(iter_wikipedia(str(need(ENWIKI_FULL)), "enwiki"))


def test_bundled_wiki_excerpt_is_multistream_and_parses():
    data = WIKI.read_bytes()
    assert len(re.findall(rb"BZh91AY&SY", data)) == 10  # header, 8 pages, footer: each its own bz2 stream
    recs = list(iter_documents(str(WIKI), "auto", "enwiki"))
    docs = [r for r in recs if isinstance(r, Document)]
    assert [(d.doc_id, d.title) for d in docs] == [("12", "Anarchism")]
    skipped = [r for r in recs if isinstance(r, Skipped)]
    assert [s.reason for s in skipped] == ["redirect"] * 7
    assert all(s.doc_id.isdigit() for s in skipped) and skipped[-1].doc_id == "20"  # read across all streams
    text = docs[0].text
    assert text.startswith("Anarchism is a political philosophy")
    assert not [bad for bad in LEFTOVERS if bad in text]
    lines = text.splitlines()
    assert "Etymology and terminology" in lines and "Anarcho-syndicalism" in lines  # headings on their own lines
    assert "\n\n\n" not in text and "References" not in lines  # emptied sections (only {{reflist}}) are gone


def test_full_enwiki_counts(enwiki_full):
    found = kinds(enwiki_full)
    assert found == Counter({"Document": 106, "Skipped:redirect": 99, "Skipped:not_article_namespace": 1})
    docs = [r for r in enwiki_full if isinstance(r, Document)]
    assert all(d.doc_id.isdigit() and d.title for d in docs)
    assert len({d.doc_id for d in docs}) == 106
    assert [r.doc_id for r in enwiki_full if getattr(r, "reason", "") == "not_article_namespace"] == ["724"]
    dirty = {d.title: bad for d in docs for bad in LEFTOVERS if bad in d.text}
    assert dirty == {}
    assert sum(len(d.text) for d in docs) > 2_000_000


def test_bgwiki_is_cyrillic():
    recs = list(iter_wikipedia(str(need(BGWIKI)), "bgwiki"))  # this export is UTF-16 (with BOM)
    docs = [r for r in recs if isinstance(r, Document)]
    assert [(d.doc_id, d.title) for d in docs] == [("558", "Григориански календар")]
    assert [(r.doc_id, r.reason) for r in recs if isinstance(r, Skipped)] == \
        [("559", "not_article_namespace"), ("560", "not_article_namespace")]
    letters = [c for c in docs[0].text if c.isalpha()]
    assert sum("\u0400" <= c <= "\u04ff" for c in letters) / len(letters) > 0.9
    assert "Категория" not in docs[0].text and "[[" not in docs[0].text


def test_truncated_bundled_bz2(tmp_path):
    data = WIKI.read_bytes()
    cut = tmp_path / "cut.xml.bz2"
    cut.write_bytes(data[: len(data) // 2])  # the middle falls inside page 2's stream
    recs = list(iter_wikipedia(str(cut), "enwiki"))
    assert recs[:-1] == [Skipped("enwiki", "10", "redirect")]
    assert recs[-1].reason == "truncated_file" and recs[-1].position.startswith("page 2 ")
    assert recs[-1].file == str(cut) and "EOFError" in recs[-1].detail


def test_truncated_full_bz2_keeps_the_pages_before(tmp_path, enwiki_full):
    data = ENWIKI_FULL.read_bytes()
    cut = tmp_path / "enwiki-cut.xml.bz2"
    cut.write_bytes(data[: len(data) // 2])
    recs = list(iter_wikipedia(str(cut), "enwiki"))
    *before, last = recs
    assert isinstance(last, DeadLetter) and last.reason == "truncated_file"
    assert 20 < len(before) < len(enwiki_full) and before == enwiki_full[: len(before)]
    assert last.position.startswith(f"page {len(before) + 1} ")


def test_a_broken_page_costs_that_page_not_the_rest_of_the_dump(tmp_path):
    xml = bz2.decompress(WIKI.read_bytes())
    clean = list(iter_wikipedia(str(WIKI), "enwiki"))
    ends = [m.start() for m in re.finditer(b"</page>", xml)]
    assert len(clean) == len(ends) > 4
    bad = tmp_path / "bad.xml"
    bad.write_bytes(xml[:ends[2]] + b"</pgae>" + xml[ends[2] + 7:])  # the 3rd page does not close
    recs = list(iter_documents(str(bad), "auto", "enwiki"))
    assert (recs[2].position, recs[2].reason) == ("page 3", "malformed_xml")
    assert recs[:2] + recs[3:] == clean[:2] + clean[3:]  # every other page, before and after
    # one invalid UTF-8 byte inside the 4th page's text: that page is a decode_error, the rest are read
    text_at = xml.index(b"</text>", ends[2]) - 5
    (tmp_path / "bytes.xml").write_bytes(xml[:text_at] + b"\xff" + xml[text_at:])
    recs = list(iter_wikipedia(str(tmp_path / "bytes.xml"), "enwiki"))
    assert (recs[3].position, recs[3].reason) == ("page 4", "decode_error") and "0xff" in recs[3].detail
    assert recs[:3] + recs[4:] == clean[:3] + clean[4:]
    # a page left open at the very end of an uncompressed file
    cut = xml[: ends[-1] - 50]
    (tmp_path / "cut.xml").write_bytes(cut)
    recs = list(iter_wikipedia(str(tmp_path / "cut.xml"), "enwiki"))
    assert recs[:-1] == clean[:-1] and (recs[-1].position, recs[-1].reason) == (f"page {len(clean)}", "malformed_xml")



def test_an_export_without_pages_is_empty_and_one_cut_before_its_first_page_is_not(tmp_path):
    """The header was always closed with ``</mediawiki>`` before parsing, so an export of no pages (closed already)
    failed as malformed_xml, while one cut before its first page parsed, silently, as a file of no pages."""
    xml = bz2.decompress(WIKI.read_bytes())
    header = xml[: xml.index(b"<page>")]
    (tmp_path / "none.xml").write_bytes(header + b"</mediawiki>\n")
    assert list(iter_wikipedia(str(tmp_path / "none.xml"), "enwiki")) == []
    (tmp_path / "cut.xml").write_bytes(header)
    [dead] = iter_wikipedia(str(tmp_path / "cut.xml"), "enwiki")
    assert (dead.reason, dead.position) == ("malformed_xml", "page 1 (after 0 complete pages)"), dead


def test_wikitext_to_text_markup():
    text = wikitext_to_text("'''Bold''' {{Infobox|x=1}} word<ref>cite</ref> ([[Kategorie|k]]).\n\n"
                            "== Life ==\n[[Файл:X.png|thumb|cap [[a]]]]Born [[Sofia|in Sofia]].\n"
                            "{|\n| cell\n|}\n== References ==\n{{reflist}}\n[[Категория:Y]]",
                            frozenset({"файл", "категория"}))
    assert text == "Bold word (k).\n\nLife\nBorn in Sofia."



def test_interlanguage_links_are_not_text(enwiki_full):
    """[[bg:Аграрни науки]] at the end of an article is an interlanguage link, shown by MediaWiki in the sidebar:
    the real "Agricultural science" page (572) ended with 14 lines "be-x-old:Аграномія", "bg:Аграрни науки" ...
    in 12 scripts, and "Allah" (740) with "te:అల్లాహ్". A labelled link, one with a leading colon and a title with a
    capital or a space before its colon stay text."""
    docs = {d.doc_id: d.text for d in enwiki_full if isinstance(d, Document)}
    assert docs["572"].endswith("Department of Entomology Plant Pathology and Weed Science")
    language_line = re.compile(r"[a-z]{2,3}(-[a-z]+)*:[^/]")  # not "http://..."
    assert not [(k, line) for k, t in docs.items() for line in t.splitlines() if language_line.match(line)]
    text = wikitext_to_text("Science.\n\n[[be-x-old:Аграномія]]\n[[bg:Аграрни науки]]\n[[th:เกษตรศาสตร์]]\n"
                            "See [[de:Agronomie|the German article]], [[:fr:Agronomie]] and "
                            "[[Ys: The Vanished Omens]].")
    assert text == "Science.\n\nSee the German article, :fr:Agronomie and Ys: The Vanished Omens."


def test_wikitext_nested_too_deep_costs_that_page(tmp_path):
    """~1,000 nested ``{{`` overflow mwparserfromhell's Python builder (RecursionError): it used to end the file
    and, in the Beam job, the job; now that page is a wikitext_error dead letter and the rest are read."""
    xml = bz2.decompress(WIKI.read_bytes())
    clean = list(iter_wikipedia(str(WIKI), "enwiki"))
    at = xml.index(b"<text", xml.index(b"<page>", xml.index(b"<page>") + 1))  # the 2nd page's text
    at = xml.index(b">", at) + 1
    (tmp_path / "deep.xml").write_bytes(xml[:at] + b"{{" * 5000 + b"deep" + b"}}" * 5000 + xml[at:])
    recs = list(iter_wikipedia(str(tmp_path / "deep.xml"), "enwiki"))
    assert (recs[1].reason, recs[1].position) == ("wikitext_error", f"page 2 (id {clean[1].doc_id})")
    assert "RecursionError" in recs[1].detail and recs[:1] + recs[2:] == clean[:1] + clean[2:]
