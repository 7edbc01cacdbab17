"""Translate with a checkpoint: `python predict.py ckpt_path=... input=FILE` (stdin if no input)."""

from encdec.cli.predict import main

if __name__ == "__main__":
    main()
