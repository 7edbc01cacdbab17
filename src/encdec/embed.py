"""`python -m encdec.embed model_file=model.pt input=texts.txt output=vectors.npy`.

One semantic vector per line of a file of texts (docs/encoder.md#semantic-vectors); the command
lives in encdec.cli.embed, the vectors in encdec.inference.encoding.
"""

from encdec.cli.embed import main

if __name__ == "__main__":
    main()
