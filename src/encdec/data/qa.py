"""The extractive-QA datamodule (SQuAD and a user's question files): any question source ->
batches of passages and questions.

source (encdec.data.sources: QAFiles, optionally with a hub fallback, or Hub) -> rows in the
hub's `squad` layout (Arrow cache) -> lower-cased word tokenizer with character offsets ->
token-id, feature and answer-span columns (cached Arrow) -> length-bucketed batches -> QABatch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import datasets
from tokenizers import Tokenizer

from encdec.data.arrow import QA_SCHEMA
from encdec.data.base import BucketedDataModule, Source, positive
from encdec.data.sources import SplitSpec
from encdec.data.squad import FEATURES, QABatch, QADataset, check_features, encode_qa
from encdec.data.tokenization import TokenizerSettings, fingerprint, special_ids
from encdec.errors import ConfigError, DataError
from encdec.files import file_lock

log = logging.getLogger(__name__)

LONG_PASSAGES = ("window", "truncate")


class QADataModule(BucketedDataModule):
    """Questions of each split (`data.source`; test defaults to val's split, as SQuAD's test set
    is hidden) -> bucketed batches.

    Training passages longer than `max_passage_len` tokens are cut to one window holding the
    answer (`long_passages=window`) or to their start (`truncate`: questions whose answer lies
    beyond are dropped and counted). Evaluation questions are never dropped; their passages are
    whole unless `eval_max_passage_len` is set. `word_chars` > 0 adds each word's first
    `word_chars` character ids for a character-level word encoder (BiDAF: 16; 0: none).
    """

    TOKENIZER_KINDS = ("lower_word",)

    def __init__(
        self,
        source: Source,
        data_dir: str,
        splits: Mapping[str, SplitSpec | None] | None = None,
        tokenizer: Mapping[str, Any] | TokenizerSettings | None = None,
        cache_dir: str = ".cache",
        max_tokens: int = 4000,
        max_passage_len: int | None = 300,
        window_stride: int = 128,
        long_passages: str = "window",
        eval_max_passage_len: int | None = None,
        max_question_len: int = 64,
        features: Sequence[str] = FEATURES,
        word_chars: int = 0,
        limit_train: int | None = None,
        limit_eval: int | None = None,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        splits = dict(splits or {})
        missing = [stage for stage in ("train", "val") if not splits.get(stage)]
        if missing:
            raise ConfigError(
                f"data.splits.{missing[0]} is not set: name the {missing[0]} split's file "
                f"(data.splits.{missing[0]}=<path or URL>); data.splits.test defaults to val's."
            )
        if long_passages not in LONG_PASSAGES:
            raise ConfigError(
                f"data.long_passages={long_passages!r}: choose one of {', '.join(LONG_PASSAGES)}."
            )
        if max_passage_len is not None and not 0 < window_stride <= max_passage_len:
            raise ConfigError(
                f"data.window_stride={window_stride} must be between 1 and data.max_passage_len="
                f"{max_passage_len}, so that windows overlap and every answer fits in one."
            )
        positive(null=True, limit_train=limit_train, limit_eval=limit_eval)
        if isinstance(word_chars, bool) or not isinstance(word_chars, int) or word_chars < 0:
            raise ConfigError(
                f"data.word_chars={word_chars!r}: give the characters kept of each word for the "
                f"character-level word encoder (e.g. 16, as BiDAF), or 0 for none."
            )
        self.word_chars = word_chars
        self.features = check_features(features)
        splits["test"] = splits.get("test") or splits["val"]
        super().__init__(
            source,
            data_dir,
            {stage: splits[stage] for stage in ("train", "val", "test")},
            tokenizer,
            TokenizerSettings("lower_word", 30000, 1),
            cache_dir,
            max_tokens,
            num_workers,
            seed,
        )
        self.max_passage_len, self.window_stride = max_passage_len, window_stride
        self.long_passages, self.eval_max_passage_len = long_passages, eval_max_passage_len
        self.max_question_len = max_question_len
        self.limit_train, self.limit_eval = limit_train, limit_eval
        self._raw: dict[str, datasets.Dataset] = {}

    def split(self, stage: str) -> datasets.Dataset:
        """A stage's questions (squad layout), its first `limit_train` / `limit_eval` only."""
        if stage not in self._raw:
            ds = self.read(self.splits[stage], QA_SCHEMA)
            if not len(ds):
                raise DataError(f"The {stage} split ({self.splits[stage]}) has no questions.")
            limit = self.limit_train if stage == "train" else self.limit_eval
            self._raw[stage] = ds.select(range(min(limit, len(ds)))) if limit else ds
        return self._raw[stage]

    def prepare_data(self) -> None:
        for stage in self.splits:
            self.split(stage)  # read (and download) now: a bad file fails before training
        self._load_tokenizer()

    def training_texts(self) -> list[str]:
        """Each training passage once, then every training question."""
        train = self.split("train")
        contexts, questions = (train.data.column(c).to_pylist() for c in ("context", "question"))
        return sorted(set(contexts)) + questions

    def encode_settings(self, stage: str) -> dict[str, Any]:
        if stage == "train":
            return {
                "max_passage_len": self.max_passage_len,
                "window_stride": self.window_stride,
                "long_passages": self.long_passages,
                "max_question_len": self.max_question_len,
                "train": True,
                **self.feature_settings(),
            }
        return {
            "max_passage_len": self.eval_max_passage_len,
            "max_question_len": self.max_question_len,
            **self.feature_settings(),
        }

    def feature_settings(self) -> dict[str, Any]:
        """The features and character ids, when not the defaults (so the default's cache keys
        stay as they were)."""
        chosen: dict[str, Any] = {} if self.features == FEATURES else {"features": self.features}
        return chosen | ({"word_chars": self.word_chars} if self.word_chars else {})

    def training_questions(self) -> list[str]:
        """Every training question (DrQA tunes the embeddings of their most frequent words)."""
        return self.split("train").data.column("question").to_pylist()

    def encode(self, stage: str, tok: Tokenizer) -> QADataset:
        """Encode one split once into Arrow columns, cached by content (rows, vocabulary,
        settings); a test split that is val's is val's encoding."""
        for other, done in self.datasets.items():
            if "train" not in (stage, other) and self.splits[other] == self.splits[stage]:
                assert isinstance(done, QADataset)
                return done
        raw = self.split(stage)
        settings = self.encode_settings(stage)
        key = fingerprint([raw._fingerprint, tok.to_str()], stage=stage, **settings)
        cache = self.cache_file("datasets", f"squad-{stage}-{key}.arrow")

        def encode(rows: dict[str, list]) -> dict[str, list]:
            return encode_qa(tok, rows["context"], rows["question"], rows["answers"], **settings)

        with file_lock(cache):  # one process encodes a split (DDP ranks); the others load it
            ds = raw.map(encode, batched=True, cache_file_name=str(cache), new_fingerprint=key)
        data = QADataset(
            ds,
            with_text=stage != "train",
            pad_id=special_ids(tok)["pad"],
            features=self.features,
            word_chars=self.word_chars,
        )
        dropped = len(ds) - len(data)
        if dropped:
            log.warning(
                "%s: dropped %d of %d questions whose answer is not within a %s-token passage "
                "window (data.max_passage_len, data.long_passages=%s)",
                stage,
                dropped,
                len(ds),
                self.max_passage_len,
                self.long_passages,
            )
        if len(data) == 0:
            raise DataError(f"The {stage} split ({self.splits[stage]}) has no usable questions.")
        return data

    def collate_fn(self, stage: str) -> Callable[[list[int]], QABatch]:
        dataset = self.datasets[stage]
        assert isinstance(dataset, QADataset)
        return dataset.collate
