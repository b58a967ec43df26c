"""Question answering over your documents: index the paragraphs of a folder of text files, then retrieve the
passages that answer a question.

    python examples/qa_over_documents.py [--docs examples/docs] "When was Python first released?"
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator
from pathlib import Path

import sentvec
from sentvec.search.index import Index


def passages(folder: Path) -> Iterator[dict]:
    """One document per paragraph (blank-line separated) of each .txt file."""
    for path in sorted(folder.glob("*.txt")):
        paragraphs = [p.strip() for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()]
        for i, text in enumerate(paragraphs):
            yield {"id": f"{path.stem}#{i}", "text": text, "metadata": {"file": path.name, "paragraph": i}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("question", nargs="+")
    parser.add_argument("--docs", type=Path, default=Path(__file__).parent / "docs")
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("-k", type=int, default=2)
    args = parser.parse_args()

    model = sentvec.load(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        index = Index.create(Path(tmp) / "index", model)
        index.add(passages(args.docs))
        for question in args.question:
            print(f"Q: {question}")
            for hit in index.search(question, k=args.k):
                print(f"  {hit.score:.3f}  [{hit.metadata['file']} ¶{hit.metadata['paragraph']}]  {hit.text}")
        index.close()


if __name__ == "__main__":
    main()
