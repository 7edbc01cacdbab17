"""Serve a model over HTTP with a web page: `python serve.py ckpt_path=... [port=8000]`."""

from encdec.cli.serve import main

if __name__ == "__main__":
    main()
