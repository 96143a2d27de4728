"""docs/algorithm.md stays the contract the code cites: every section cited in
the tree (`docs/algorithm.md section N`, `sections 5, 10 and 11`,
`algorithm.md §9.2`) exists in it, no citation of the design text or of the
page it replaced is left, and its table of defaults is what the library
does."""
import ctypes
import os
import re

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC = os.path.join(ROOT, "docs", "algorithm.md")
TREES = ["include", "lib", "tests", "bindings", "docs", "examples", "bench", "tools"]
SUFFIXES = (".h", ".c", ".in", ".py", ".md", ".jl", ".build", ".txt")

NUM = r"\d+(?:\.\d+)*"
# one reference ("section 9", "sections 9", "§9.2"), then ", 10", " and §11", ...
LIST = (rf"(?:§\s?|sections?\s+){NUM}"
        rf"(?:(?:\s*,\s*|\s+and\s+)(?:§\s?|sections?\s+)?{NUM})*")
CITATION = re.compile(rf"algorithm\.md[\s(,]*({LIST})")
INTERNAL = re.compile(LIST)
BARE = re.compile(rf"\((\d+\.\d+(?:,\s*\d+\.\d+)*)[),;]")  # "(4.2)", "(9.2, ...)"
HEADING = re.compile(rf"^#{{2,4}}\s+({NUM})\.?\s", re.M)


def doc_text():
    with open(DOC, encoding="utf-8") as f:
        return f.read()


def sections():
    return set(HEADING.findall(doc_text()))


def source_files():
    for top in TREES:
        for folder, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = [d for d in dirs if d not in ("corpus", "__pycache__")]
            for name in files:
                if name.endswith(SUFFIXES):
                    yield os.path.join(folder, name)
    yield os.path.join(ROOT, "README.md")


def joined(path):
    """The file's text with comment line breaks removed, so that a citation
    wrapped over two comment lines reads as one."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    return re.sub(r"\n[ \t]*(?:\*|#|//)?[ \t]*", " ", text)


def citations():
    """(file relative to the root, cited section) for every citation."""
    out = []
    for path in source_files():
        for group in CITATION.findall(joined(path)):
            out += [(os.path.relpath(path, ROOT), n) for n in re.findall(NUM, group)]
    return out


def test_headings_are_numbered_once():
    found = HEADING.findall(doc_text())
    assert len(found) == len(set(found)), "a section number is used twice"
    assert {str(k) for k in range(1, 14)} <= set(found)


def test_every_cited_section_exists():
    have = sections()
    cited = citations()
    files = {f for f, _ in cited}
    # the headers and the oracle must be among the citers, or the pattern is broken
    for must in ("include/mudsc/matcher.h", "include/mudsc/accum.h", "lib/matcher/loop.h",
                 "tests/oracle/mudsc_ref.py"):
        assert must in files, f"{must} no longer cites docs/algorithm.md by section"
    missing = sorted({(f, n) for f, n in cited if n not in have})
    assert not missing, f"cited sections that docs/algorithm.md does not have: {missing}"


def test_internal_references_exist():
    have = sections()
    text = re.sub(r"\s+", " ", doc_text())
    table = re.findall(r"^\|.*\| ([\d., ]+) \|$", doc_text(), re.M)  # "section" cells
    groups = INTERNAL.findall(text) + BARE.findall(text) + table
    cited = {n for group in groups for n in re.findall(NUM, group)}
    assert cited, "the page refers to none of its sections"
    assert not sorted(cited - have), f"docs/algorithm.md refers to {sorted(cited - have)}"


def test_no_citation_of_the_design_text_or_the_old_page():
    stale = []
    for path in source_files():
        if os.path.samefile(path, DOC) or os.path.samefile(path, __file__):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        for word in ("ALGORITHM.md", "algorithm-choices", "choices §"):
            if word in text:
                stale.append((os.path.relpath(path, ROOT), word))
    assert not stale, f"cite docs/algorithm.md instead: {stale}"


def documented_defaults():
    rows = re.findall(r"^\| (`\w+`|S_a eps \(fixed\)) \| ([^|]+) \|", doc_text(), re.M)
    return {name.strip("`"): value.strip() for name, value in rows}


def test_documented_defaults_are_the_library_defaults():
    from mudsc._lib import MatcherOptions, lib

    doc = documented_defaults()
    opts = MatcherOptions()
    lib.mudsc_matcher_options_init(ctypes.byref(opts))
    names = {"method": {"align": 0, "zip": 1}, "similarity": {"Pearson": 0, "cosine": 1},
             "sweep_order": {"random": 0, "graph_first": 1}}
    fields = [f for f in doc if f != "S_a eps (fixed)"]
    assert len(fields) == 12
    for field in fields:
        want = names[field][doc[field]] if field in names else float(doc[field])
        assert getattr(opts, field) == want, (field, doc[field], getattr(opts, field))


def test_documented_activation_eps_is_the_accumulators():
    """R_aa = Sigma_aa / max(Sigma_aa, eps): a feature of variance 1e-8 has
    R_aa = 1e-8 / eps."""
    from mudsc import Accumulator

    eps = float(documented_defaults()["S_a eps (fixed)"])
    x = np.tile([[1e-4], [-1e-4]], (50, 1))  # variance 1e-8
    with Accumulator(2, 1) as acc:
        acc.update(0, x)
        acc.update(1, x)
        assert acc.correlation()[0, 0] == pytest.approx(1e-8 / eps, rel=1e-9)
