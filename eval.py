"""Score a checkpoint: `python eval.py ckpt_path=outputs/.../checkpoints/last.ckpt`."""

from encdec.cli.eval import main

if __name__ == "__main__":
    main()
