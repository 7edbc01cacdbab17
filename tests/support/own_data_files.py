"""Users' own corpora, made from the shared real data: what docs/own-data.md's commands read."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import Any

MULTI30K_SPLITS = {"train": "train", "val": "val", "test": "test_2016_flickr"}


def multi30k(data_dir: Path, split: str, lang: str) -> list[str]:
    path = data_dir / "multi30k" / f"{split}.{lang}.gz"
    return gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()


def write_table(path: Path, header: list[str] | None, rows: list) -> Path:
    """A TSV or CSV file (by its suffix), quoted as Python's csv module writes it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter="\t" if path.suffix == ".tsv" else ",")
        if header:
            writer.writerow(header)
        writer.writerows(rows)
    return path


def multi30k_tables(data_dir: Path, out: Path, src: str = "en", tgt: str = "fr") -> None:
    """out/multi30k_{src}{tgt}/{train,val,test}.{tsv,csv,jsonl}: the TSV with a header (columns
    named by language), the CSV without (columns 0 and 1), JSON lines with the pair nested as
    {"translation": {src: ..., tgt: ...}}."""
    folder = out / f"multi30k_{src}{tgt}"
    for stage, split in MULTI30K_SPLITS.items():
        pairs = list(
            zip(multi30k(data_dir, split, src), multi30k(data_dir, split, tgt), strict=True)
        )
        write_table(folder / f"{stage}.tsv", [src, tgt], pairs)
        write_table(folder / f"{stage}.csv", None, pairs)
        with (folder / f"{stage}.jsonl").open("w", encoding="utf-8") as f:
            for s, t in pairs:
                f.write(json.dumps({"translation": {src: s, tgt: t}}, ensure_ascii=False) + "\n")


def dialogsum_tables(data_dir: Path, out: Path) -> None:
    """out/dialogsum_csv/{train,validation,test}.csv (dialogue, summary); the test split with
    one row per reference, as the hub copy lists it."""
    folder = out / "dialogsum_csv"
    for split in ("train", "validation", "test"):
        rows = []
        for line in (data_dir / "dialogsum" / f"{split}.jsonl").open(encoding="utf-8"):
            row = json.loads(line)
            for ref in row.get("references") or [row["summary"]]:
                rows.append((row["document"], ref))
        write_table(folder / f"{split}.csv", ["dialogue", "summary"], rows)


def dialogsum_hub_folder(data_dir: Path, out: Path, limit: int | None = None) -> Path:
    """knkarthick/dialogsum's layout as local files: fields dialogue / summary, the test split
    one row per reference (load_dataset(folder) reads it as it reads the hub copy)."""
    out.mkdir(parents=True, exist_ok=True)
    for split in ("train", "validation", "test"):
        lines = (data_dir / "dialogsum" / f"{split}.jsonl").read_text(encoding="utf-8")
        with (out / f"{split}.jsonl").open("w", encoding="utf-8") as f:
            for line in lines.splitlines()[:limit]:
                row = json.loads(line)
                for ref in row.get("references") or [row["summary"]]:
                    hub_row = {"id": row["id"], "dialogue": row["document"], "summary": ref}
                    f.write(json.dumps(hub_row) + "\n")
    return out


def multi30k_saved(data_dir: Path, out: Path, src: str = "en", tgt: str = "de") -> Path:
    """A DatasetDict written by save_to_disk (splits train / validation / test), the pairs as
    nested translation dicts, as wmt16 has them."""
    import datasets

    splits = {}
    for stage, split in MULTI30K_SPLITS.items():
        rows = [
            {src: s, tgt: t}
            for s, t in zip(
                multi30k(data_dir, split, src), multi30k(data_dir, split, tgt), strict=True
            )
        ]
        splits["validation" if stage == "val" else stage] = datasets.Dataset.from_dict(
            {"translation": rows}
        )
    path = out / f"multi30k_{src}{tgt}_saved"
    datasets.DatasetDict(splits).save_to_disk(str(path))
    return path


def preset(name: str, data_dir: Path, cache_dir: Path, **options: Any) -> Any:
    """The datamodule conf/data/<name>.yaml builds (multi30k, dialogsum, squad), its data folder
    under `data_dir`, with `options` merged over the preset's (e.g. {"source": {"src_lang": "fr"}})."""
    from omegaconf import OmegaConf

    from encdec import build

    node = OmegaConf.load(Path(__file__).parents[2] / "conf" / "data" / f"{name}.yaml")
    local = {"data_dir": str(data_dir / name), "cache_dir": str(cache_dir), "seed": 0}
    if "copy_oov" in node:
        local["copy_oov"] = False
    node = OmegaConf.merge(node, local, options)
    return build.build_datamodule(node)
