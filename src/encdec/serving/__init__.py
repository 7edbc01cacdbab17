"""Serving a trained model over HTTP: LitServe APIs (api), request rules (schemas), the server
with its web page (app). `python serve.py ckpt_path=...` starts it (docs/serving.md)."""
