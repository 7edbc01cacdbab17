"""Questions with no context, answered from a collection: `python ask.py passages=FILE question="..." [reader=reader.pt]`."""

from encdec.cli.search import ask_main

if __name__ == "__main__":
    ask_main()
