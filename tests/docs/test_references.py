"""The repository is self-contained: every document its docs and code point to is in it. A Markdown link
to a file, and any mention of a `.md` file in a document, a comment or a docstring, must name a file of
the repository, never one beside it or on someone's machine; a link to a heading must find it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEXT_SUFFIXES = {".md", ".py", ".sh", ".html", ".txt", ".toml", ".cfg", ".yaml", ".yml", ".js", ".css"}
TEXT_NAMES = {"Makefile", "run"}

URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+")
MARKDOWN_LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
MARKDOWN_FILE = re.compile(r"(?<![\w/.-])((?:\.{1,2}/|/)?[\w./-]*\w\.md)\b")


def repository_files() -> list[Path]:
    """The repository's files as a fresh clone has them, and new ones not yet committed."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [ROOT / name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def text_files() -> list[Path]:
    """The text files, but this one: its examples of what must be caught are dangling on purpose."""
    return [
        f
        for f in repository_files()
        if (f.suffix in TEXT_SUFFIXES or f.name in TEXT_NAMES) and f != Path(__file__).resolve()
    ]


def resolves(reference: str, source: Path, markdown_names: set[str]) -> bool:
    """Whether `reference`, seen in `source`, names a file or folder of the repository: relative to
    `source`'s folder, to the repository's root, or (a bare file name) by its name."""
    target = reference.split("#", 1)[0].split("?", 1)[0]
    if not target:
        return True  # an anchor in the same document
    if target.startswith("/"):
        return False  # an absolute path: a file on some machine
    for base in (source.parent, ROOT):
        candidate = (base / target).resolve()
        if candidate.is_relative_to(ROOT) and candidate.exists():
            return True
    return "/" not in target and target in markdown_names


def anchors(document: Path) -> set[str]:
    """The anchors GitHub gives the document's headings (outside code blocks): lower case, punctuation
    dropped, spaces as hyphens."""
    text = re.sub(r"^```.*?^```", "", document.read_text(encoding="utf-8"), flags=re.MULTILINE | re.DOTALL)
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*$", text, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def missing_anchor(link: str, source: Path) -> bool:
    """Whether a link into a Markdown document names a heading it does not have."""
    target, _, anchor = link.partition("#")
    document = (source.parent / target).resolve() if target else source
    return (
        bool(anchor) and document.suffix == ".md" and document.is_file() and anchor not in anchors(document)
    )


def dangling_references(files: list[Path]) -> list[str]:
    markdown_names = {f.name for f in files if f.suffix == ".md"}
    dangling = []
    for source in files:
        text = URL.sub("", source.read_text(encoding="utf-8", errors="replace"))
        references = set(MARKDOWN_FILE.findall(text))
        if source.suffix == ".md":
            references |= {link for link in MARKDOWN_LINK.findall(text) if not link.startswith("mailto:")}
        dangling += [
            f"{source.relative_to(ROOT)}: {reference}"
            for reference in sorted(references)
            if not resolves(reference, source, markdown_names)
            or (source.suffix == ".md" and missing_anchor(reference, source))
        ]
    return dangling


def test_every_document_the_repository_refers_to_is_in_it() -> None:
    files = text_files()

    assert ROOT / "README.md" in files
    assert ROOT / "docs" / "product.md" in files
    assert dangling_references(files) == []


def test_a_reference_outside_the_repository_is_found() -> None:
    """The check itself: what it must catch, beside what it must let through."""
    document = ROOT / "docs" / "__reference_check__.md"
    lines = [
        "# Words",
        "[product](product.md#promises-we-test), [README](../README.md), [section](#words),",
        "[Stripe](https://docs.stripe.com/api/x.md), `docs/webhooks.md`, webhooks.md, README.md.",
        "[notes](../../shared/PRODUCT.md), the rules of PRODUCT.md, [conventions](/work/shared/CONVENTIONS.md),",
        "[gone](missing.md), [no such heading](product.md#no-such-heading).",
    ]
    document.write_text("\n".join(lines))
    try:
        assert dangling_references([document]) == [
            "docs/__reference_check__.md: ../../shared/PRODUCT.md",
            "docs/__reference_check__.md: /work/shared/CONVENTIONS.md",
            "docs/__reference_check__.md: PRODUCT.md",
            "docs/__reference_check__.md: missing.md",
            "docs/__reference_check__.md: product.md#no-such-heading",
        ]
    finally:
        document.unlink()
