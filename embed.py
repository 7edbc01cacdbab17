"""Semantic vectors of a file of texts: `python embed.py model_file=model.pt input=FILE output=vectors.npy`."""

from encdec.cli.embed import main

if __name__ == "__main__":
    main()
