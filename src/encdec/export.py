"""`python -m encdec.export ckpt_path=outputs/<run>/checkpoints/last.ckpt out=model.pt`.

Writes one file with the network's weights, the tokenizer and the resolved training config (no
trainer state), loadable on any device with `encdec.load("model.pt")`. The command lives in
encdec.cli.export; the file format in encdec.build (`write_model_file` / `load_model_file`).
"""

from encdec.cli.export import main

if __name__ == "__main__":
    main()
