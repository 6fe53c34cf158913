"""mkdocs hooks: README.md (outside docs/) is the site's landing page, index.md. Links are written for reading
the files where they are (the README points into docs/, pages point back at ../README.md) and are made relative
to the site here."""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.structure.files import File

README = Path(__file__).resolve().parent / "README.md"


def on_files(files, config):  # noqa: ANN001, ANN201 - mkdocs' hook signature
    files.append(File.generated(config, "index.md", abs_src_path=str(README)))
    return files


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ANN001
    if page.file.src_uri == "index.md":
        return re.sub(r"\]\(docs/", "](", markdown)
    return re.sub(r"\]\(\.\./README\.md", "](index.md", markdown)
