"""Index a collection of passages with a trained retriever: `python index.py retriever=retriever.pt passages=FILE`."""

from encdec.cli.search import index_main

if __name__ == "__main__":
    index_main()
