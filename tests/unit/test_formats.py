"""Model folder formats and load errors: every failure names the file (or what was looked for)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from _tiny_model import HIDDEN, SENTENCES, token_embeddings

import sentvec
from sentvec.errors import ModelFormatError, ModelNotFoundError, SentvecError, UnknownModuleError
from sentvec.formats import EncoderConfig, ModuleKind, read_encoder_config, read_layout, read_transformer_config
from sentvec.similarity import SimilarityFunction


def _load(folder: Path, **kwargs: object) -> sentvec.SentenceEncoder:
    return sentvec.load(str(folder), device="cpu", **kwargs)


def _edit_json(path: Path, edit) -> None:
    data = json.loads(path.read_text())
    path.write_text(json.dumps(edit(data)))


class TestLayout:
    def test_sentence_transformers_layout(self, model_dir):
        layout = read_layout(model_dir)
        assert layout.layout == "sentence-transformers"
        assert [m.kind for m in layout.modules] == [ModuleKind.TRANSFORMER, ModuleKind.POOLING, ModuleKind.NORMALIZE]
        assert layout.module_dir(layout.modules[0]) == model_dir
        assert layout.module_dir(layout.modules[1]) == model_dir / "1_Pooling"
        assert layout.config.prompts == {"query": "query: "}

    def test_plain_huggingface_layout(self, make_model):
        folder = make_model(plain_hf=True)
        layout = read_layout(folder)
        assert layout.layout == "huggingface"
        assert [m.kind for m in layout.modules] == [ModuleKind.TRANSFORMER, ModuleKind.POOLING]
        assert layout.config == EncoderConfig()
        # without sentence_bert_config.json the length comes from config.json (max_position_embeddings=64)
        assert read_transformer_config(folder).max_seq_length == 64

    @pytest.mark.parametrize("prefix", ["sentence_transformers.sentence_transformer.modules", "sentvec.modules"])
    def test_other_module_type_prefixes(self, make_model, prefix):
        folder = make_model()
        _edit_json(
            folder / "modules.json",
            lambda mods: [{**m, "type": prefix + "." + m["type"].rsplit(".", 1)[1]} for m in mods],
        )
        assert [m.kind for m in read_layout(folder).modules] == [
            ModuleKind.TRANSFORMER,
            ModuleKind.POOLING,
            ModuleKind.NORMALIZE,
        ]

    def test_sentence_transformers_6x_module_types(self, make_model):
        # the exact strings sentence-transformers 6.2's save() writes (tests/integration checks them against it)
        written = {
            "Transformer": "sentence_transformers.base.modules.transformer.Transformer",
            "Pooling": "sentence_transformers.sentence_transformer.modules.pooling.Pooling",
            "Dense": "sentence_transformers.base.modules.dense.Dense",
            "Normalize": "sentence_transformers.base.modules.normalize.Normalize",
        }
        folder = make_model(dense=True)
        _edit_json(
            folder / "modules.json", lambda mods: [{**m, "type": written[m["type"].rsplit(".", 1)[1]]} for m in mods]
        )
        kinds = [m.kind for m in read_layout(folder).modules]
        assert kinds == [ModuleKind.TRANSFORMER, ModuleKind.POOLING, ModuleKind.DENSE, ModuleKind.NORMALIZE]

    def test_max_seq_length_from_tokenizer_config(self, make_model):
        # 6.x writes no max_seq_length: the tokenizer's model_max_length, capped at max_position_embeddings, applies
        folder = make_model()
        _edit_json(
            folder / "sentence_bert_config.json", lambda c: {k: v for k, v in c.items() if k != "max_seq_length"}
        )
        positions = json.loads((folder / "config.json").read_text())["max_position_embeddings"]
        (folder / "tokenizer_config.json").write_text(json.dumps({"model_max_length": positions - 3}))
        assert read_transformer_config(folder).max_seq_length == positions - 3
        (folder / "tokenizer_config.json").write_text(json.dumps({"model_max_length": positions + 100}))
        assert read_transformer_config(folder).max_seq_length == positions
        (folder / "tokenizer_config.json").write_text(json.dumps({"model_max_length": int(1e30)}))
        assert read_transformer_config(folder).max_seq_length == min(positions, 512)

    def test_not_a_model_folder_lists_layouts(self, tmp_path):
        with pytest.raises(ModelFormatError) as exc:
            read_layout(tmp_path)
        assert "modules.json" in str(exc.value)
        assert "config.json" in str(exc.value)

    def test_encoder_config_round_trip(self, tmp_path):
        config = EncoderConfig(
            prompts={"q": "q: ", "d": ""}, default_prompt_name="q", similarity_fn=SimilarityFunction.DOT
        )
        (tmp_path / "config_sentence_transformers.json").write_text(json.dumps(config.to_json()))
        assert read_encoder_config(tmp_path) == config

    def test_default_prompt_must_be_a_prompt(self, tmp_path):
        data = {"prompts": {"query": "q: "}, "default_prompt_name": "passage"}
        (tmp_path / "config_sentence_transformers.json").write_text(json.dumps(data))
        with pytest.raises(ModelFormatError, match="passage") as exc:
            read_encoder_config(tmp_path)
        assert "config_sentence_transformers.json" in str(exc.value)


class TestModuleErrors:
    def test_unknown_module_type(self, make_model):
        folder = make_model()
        bad = "sentence_transformers.models.WeightedLayerPooling"
        _edit_json(folder / "modules.json", lambda mods: [mods[0], {**mods[1], "type": bad}, *mods[2:]])
        with pytest.raises(UnknownModuleError) as exc:
            _load(folder)
        message = str(exc.value)
        assert bad in message
        for kind in ("Transformer", "Pooling", "Dense", "Normalize"):
            assert kind in message
        assert "modules.json" in message
        assert isinstance(exc.value, ModelFormatError)

    def test_module_code_is_never_imported(self, make_model, tmp_path, monkeypatch):
        # A dotted path pointing at importable code must be rejected, not imported.
        (tmp_path / "evil_module_for_sentvec_test.py").write_text("raise SystemExit('imported!')\n")
        monkeypatch.syspath_prepend(str(tmp_path))
        folder = make_model()
        _edit_json(
            folder / "modules.json",
            lambda mods: [*mods, {"idx": 9, "path": "", "type": "evil_module_for_sentvec_test.X"}],
        )
        with pytest.raises(UnknownModuleError, match="evil_module_for_sentvec_test"):
            _load(folder)

    def test_first_module_must_be_transformer(self, make_model):
        folder = make_model()
        _edit_json(folder / "modules.json", lambda mods: mods[1:])
        with pytest.raises(ModelFormatError, match="Transformer") as exc:
            _load(folder)
        assert "modules.json" in str(exc.value)

    @pytest.mark.parametrize("content", ["[]", "{}", '[{"path": ""}]'])
    def test_invalid_modules_json(self, make_model, content):
        folder = make_model()
        (folder / "modules.json").write_text(content)
        with pytest.raises(ModelFormatError) as exc:
            _load(folder)
        assert str(folder / "modules.json") in str(exc.value)


class TestMalformedJson:
    @pytest.mark.parametrize(
        "relpath",
        [
            "modules.json",
            "config.json",
            "1_Pooling/config.json",
            "sentence_bert_config.json",
            "config_sentence_transformers.json",
        ],
    )
    def test_names_the_file(self, make_model, relpath):
        folder = make_model()
        path = folder / relpath
        path.write_text('{"oops": ,\n}')
        with pytest.raises(ModelFormatError) as exc:
            _load(folder)
        assert exc.value.path == str(path)
        assert str(path) in str(exc.value)
        assert re.search(r"line \d+, column \d+", str(exc.value))

    def test_dense_config_names_the_file(self, make_model):
        folder = make_model(dense=True)
        (folder / "2_Dense" / "config.json").write_text("{not json")
        with pytest.raises(ModelFormatError) as exc:
            _load(folder)
        assert exc.value.path == str(folder / "2_Dense" / "config.json")

    def test_missing_pooling_config(self, make_model):
        folder = make_model()
        (folder / "1_Pooling" / "config.json").unlink()
        with pytest.raises(ModelFormatError) as exc:
            _load(folder)
        assert exc.value.path == str(folder / "1_Pooling" / "config.json")


class TestMissingFiles:
    def test_missing_weights(self, make_model):
        folder = make_model()
        (folder / "model.safetensors").unlink()
        with pytest.raises(ModelFormatError, match=r"model\.safetensors") as exc:
            _load(folder)
        assert "weights" in str(exc.value)

    def test_missing_dense_weights(self, make_model):
        folder = make_model(dense=True)
        (folder / "2_Dense" / "model.safetensors").unlink()
        with pytest.raises(ModelFormatError, match=r"model\.safetensors") as exc:
            _load(folder)
        assert "2_Dense" in str(exc.value)

    def test_corrupt_weights(self, make_model):
        folder = make_model()
        (folder / "model.safetensors").write_bytes(b"\x00" * 64)
        with pytest.raises(ModelFormatError) as exc:
            _load(folder)
        assert exc.value.path == str(folder / "model.safetensors")

    @pytest.mark.parametrize("content", ["{not json", '{"version": "1.0", "model": {"type": "Nonsense"}}'])
    def test_broken_tokenizer(self, make_model, content):
        folder = make_model()
        (folder / "tokenizer.json").write_text(content)
        with pytest.raises(SentvecError, match=r"tokenizer\.json") as exc:
            _load(folder)
        assert isinstance(exc.value, ModelFormatError)
        assert exc.value.path == str(folder / "tokenizer.json")


class TestNotFound:
    def test_nonexistent_path(self, tmp_path):
        missing = tmp_path / "no" / "such" / "model"
        with pytest.raises(ModelNotFoundError) as exc:
            sentvec.load(str(missing))
        assert str(missing) in str(exc.value)
        assert isinstance(exc.value, FileNotFoundError)

    def test_unknown_name_offline(self, monkeypatch):
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        name = "sentvec-unit-test-no-such-model-7f3a"
        with pytest.raises(ModelNotFoundError) as exc:
            sentvec.load(name)
        message = str(exc.value)
        assert name in message
        assert f"sentence-transformers/{name}" in message  # the Hub id it would have tried
        assert "offline" in message
        assert "cache" in message

    def test_existing_file_is_not_a_folder(self, tmp_path):
        path = tmp_path / "model.bin"
        path.write_bytes(b"")
        with pytest.raises(ModelFormatError, match="not a folder"):
            sentvec.load(str(path))


class TestPlainFolder:
    def test_mean_by_default_and_pooling_switch(self, make_model):
        folder = make_model(plain_hf=True)
        encoder = _load(folder)
        assert encoder.dimension == HIDDEN
        tokens = token_embeddings(encoder, SENTENCES)
        np.testing.assert_allclose(encoder.encode(SENTENCES), np.stack([t.mean(0) for t in tokens]), atol=1e-5)
        cls = _load(folder, pooling="cls")
        np.testing.assert_allclose(cls.encode(SENTENCES), np.stack([t[0] for t in tokens]), atol=1e-5)
        last = _load(folder, pooling="last_token")
        np.testing.assert_allclose(last.encode(SENTENCES), np.stack([t[-1] for t in tokens]), atol=1e-5)

    def test_pooling_argument_rejected_for_configured_folder(self, model_dir):
        with pytest.raises(ValueError, match="pooling"):
            _load(model_dir, pooling="cls")

    def test_unknown_pooling_argument(self, make_model):
        with pytest.raises(ValueError, match="median"):
            _load(make_model(plain_hf=True), pooling="median")

    def test_unknown_backend(self, model_dir):
        with pytest.raises(ValueError, match="tensorflow"):
            sentvec.load(str(model_dir), backend="tensorflow")


class TestModulePathsStayInside:
    """A module path in modules.json may not lead outside the model folder (issue 14, point 2)."""

    @pytest.mark.parametrize("kind", ["parent", "absolute", "symlink"])
    def test_path_outside_the_folder_is_refused(self, make_model, tmp_path, kind):
        folder = make_model()
        outside = tmp_path / "elsewhere"
        outside.mkdir()
        (outside / "config.json").write_text(json.dumps({"word_embedding_dimension": HIDDEN}))
        if kind == "parent":
            path = "../elsewhere"
            (folder.parent / "elsewhere").mkdir(exist_ok=True)
        elif kind == "absolute":
            path = str(outside)
        else:
            (folder / "linked").symlink_to(outside, target_is_directory=True)
            path = "linked"
        _edit_json(folder / "modules.json", lambda m: [*m[:1], {**m[1], "path": path}, *m[2:]])
        with pytest.raises(ModelFormatError, match=r"entry 1: module path .* leads outside the model folder") as e:
            read_layout(folder)
        assert e.value.path.endswith("modules.json")

    def test_path_inside_through_a_symlink_is_fine(self, make_model):
        folder = make_model()
        (folder / "pool_link").symlink_to(folder / "1_Pooling", target_is_directory=True)
        _edit_json(folder / "modules.json", lambda m: [*m[:1], {**m[1], "path": "pool_link"}, *m[2:]])
        assert read_layout(folder).modules[1].path == "pool_link"


class TestConfigSizes:
    """A config.json whose sizes disagree with the weights is named, not the weights file (issue 14, point 9)."""

    @pytest.mark.parametrize(("key", "value"), [("max_position_embeddings", 10**12), ("vocab_size", 7)])
    def test_size_mismatch_blames_config_json(self, make_model, key, value):
        folder = make_model()
        _edit_json(folder / "config.json", lambda c: {**c, key: value})
        with pytest.raises(ModelFormatError, match=rf"{key}={value} does not match the weights") as e:
            _load(folder, backend="torch")
        assert e.value.path.endswith("config.json")
