"""Small Chinese-English and Japanese-English parallel corpora, generated from phrase tables.

Hand-written phrases combined (subject x time x verb x object), so the tests need no download:
864 Chinese and 648 Japanese sentences with their English translations, deterministic order.
`split_pairs` deals them into train / val / test; `write_gz_pairs` lays a corpus out as the
`{split}.{lang}.gz` files the translation DataModule reads.
"""

from __future__ import annotations

import gzip
import itertools
import random
from pathlib import Path

ZH_SUBJECTS = [
    ("我", "I"),
    ("你", "You"),
    ("他", "He"),
    ("她", "She"),
    ("我们", "We"),
    ("他们", "They"),
    ("老师", "The teacher"),
    ("我的朋友", "My friend"),
]
ZH_TIMES = [("昨天", "yesterday"), ("上周", "last week"), ("今天早上", "this morning")]
ZH_VERBS = [
    ("买了", "bought"),
    ("看到了", "saw"),
    ("找到了", "found"),
    ("卖了", "sold"),
    ("画了", "drew"),
    ("带来了", "brought"),
]
ZH_OBJECTS = [
    ("一本书", "a book"),
    ("一个苹果", "an apple"),
    ("一辆车", "a car"),
    ("一只猫", "a cat"),
    ("一封信", "a letter"),
    ("一张桌子", "a table"),
]

JA_SUBJECTS = [
    ("私", "I"),
    ("あなた", "You"),
    ("彼", "He"),
    ("彼女", "She"),
    ("私たち", "We"),
    ("先生", "The teacher"),
]
JA_TIMES = [("昨日", "yesterday"), ("先週", "last week"), ("今朝", "this morning")]
JA_VERBS = [
    ("買いました", "bought"),
    ("見ました", "saw"),
    ("見つけました", "found"),
    ("売りました", "sold"),
    ("描きました", "drew"),
    ("持ってきました", "brought"),
]
JA_OBJECTS = [
    ("本", "a book"),
    ("りんご", "an apple"),
    ("車", "a car"),
    ("猫", "a cat"),
    ("手紙", "a letter"),
    ("机", "a table"),
]

#: Mixed-script lines a tokenizer must also give back exactly: Latin names and digits inside
#: Chinese / Japanese, full-width punctuation, spaces (single and double) between scripts.
MIXED = [
    "我在 New York 住了 3 年。",
    "她说：“你好！”然后走了。",
    "東京タワーは 333 メートルです。",
    "我们用 PyTorch 训练模型，BLEU 是 25.3。",
    "「こんにちは」と彼は言った。",
    "他买了  两本书",
    "iPhone 15 很贵吗？",
    "ｶﾀｶﾅ と カタカナ、全角ＡＢＣ。",
    "𠀀𠀁 are rare ideographs.",
    "Hello, 世界!",
]


def chinese_english() -> list[tuple[str, str]]:
    """(Chinese, English) pairs: 8 subjects x 3 times x 6 verbs x 6 objects = 864."""
    return [
        (f"{s}{t}{v}{o}。", f"{se} {ve} {oe} {te}.")
        for (s, se), (t, te), (v, ve), (o, oe) in itertools.product(
            ZH_SUBJECTS, ZH_TIMES, ZH_VERBS, ZH_OBJECTS
        )
    ]


def japanese_english() -> list[tuple[str, str]]:
    """(Japanese, English) pairs: 6 subjects x 3 times x 6 verbs x 6 objects = 648."""
    return [
        (f"{s}は{t}{o}を{v}。", f"{se} {ve} {oe} {te}.")
        for (s, se), (t, te), (v, ve), (o, oe) in itertools.product(
            JA_SUBJECTS, JA_TIMES, JA_VERBS, JA_OBJECTS
        )
    ]


def split_pairs(
    pairs: list[tuple[str, str]], held_out: int = 40, seed: int = 0
) -> dict[str, list[tuple[str, str]]]:
    """Shuffled (fixed seed) into train and `held_out` pairs each of val and test."""
    pairs = list(pairs)
    random.Random(seed).shuffle(pairs)
    return {
        "val": pairs[:held_out],
        "test": pairs[held_out : 2 * held_out],
        "train": pairs[2 * held_out :],
    }


def write_gz_pairs(
    folder: Path, splits: dict[str, list[tuple[str, str]]], src: str, tgt: str
) -> Path:
    """`<folder>/<split>.<src>.gz` and `.<tgt>.gz`, one sentence a line; returns `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, pairs in splits.items():
        for lang, side in ((src, 0), (tgt, 1)):
            with gzip.open(folder / f"{split}.{lang}.gz", "wt", encoding="utf-8") as f:
                f.writelines(p[side] + "\n" for p in pairs)
    return folder
