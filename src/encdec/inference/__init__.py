"""Using a trained model: the input rules (`inputs`), the task kinds (`kinds`), one inference
object per task (`translator.Translator`, `answering.QuestionAnswerer`) behind one interface
(`predictor.Predictor`), and `load`, which `encdec.load` is.

Kept light: importing this package imports nothing heavy (`encdec.build` imports `kinds`).
"""
