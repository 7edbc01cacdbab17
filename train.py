"""Train a model: `python train.py task=translation` (see conf/train.yaml for every option)."""

from encdec.cli.train import main

if __name__ == "__main__":
    main()
