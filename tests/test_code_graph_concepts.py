"""Glossary terms matched to the classes that implement them, from the code alone."""

from __future__ import annotations

import textwrap
from collections import defaultdict
from importlib import metadata
from pathlib import Path

import pytest

from code_graph import Graph, locate
from code_graph.concepts import (
    Term,
    common_prefix,
    concept_id,
    identifier_words,
    link_concepts,
    with_concepts,
)
from code_graph.members import class_parts
from elvit_sphinx.codegraph.glossary import first_sentence, parse_glossary, read_glossary

BOOK_GLOSSARY = Path(__file__).parent.parent / "book" / "glossary.md"


def mapping(paths, terms) -> dict[str, set[str]]:
    graph, parts = class_parts(paths)
    found = defaultdict(set)
    for link in link_concepts(terms, parts, {k: n.line or 0 for k, n in graph.nodes.items()}):
        found[link.term].add(graph.nodes[link.target].name)
    return dict(found)


def test_identifier_words_split_normalise_and_join():
    assert identifier_words("layernorm_before") >= {"layernorm", "before"}
    assert identifier_words("LayerNorm") >= {"layer", "norm", "layernorm"}
    assert identifier_words("num_attention_heads") >= {"num", "attention", "head"}
    assert identifier_words("Conv2d") >= {"convolution"}
    assert identifier_words("attn_weights") >= {"attention", "weight"}
    assert identifier_words("patch_embeddings") >= {"patch", "embedding"}
    assert common_prefix(["ViTLayer", "ViTMLP", "ViTModel"]) == "ViT"
    assert common_prefix(["Layer", "Loss"]) == ""  # "L" is not a word of its own


@pytest.mark.skipif(int(metadata.version("transformers").split(".")[0]) < 5,
                    reason="the expected classes are those of transformers 5.x")
def test_book_glossary_maps_to_the_installed_5x_classes():
    found = mapping([locate("transformers.models.vit.modeling_vit")], read_glossary(BOOK_GLOSSARY))
    expected = {
        "patch embedding": {"ViTPatchEmbeddings"},
        "position embedding": {"ViTEmbeddings"},
        "CLS token": {"ViTEmbeddings"},
        "multi-head self-attention": {"ViTAttention"},
        "query, key, value": {"ViTAttention"},
        "head": {"ViTAttention"},
        "MLP": {"ViTMLP"},
        "block": {"ViTLayer"},
        "residual connection": {"ViTLayer"},
        "LayerNorm": {"ViTLayer", "ViTModel"},  # the blocks' two and the final one
        "Transformer encoder": {"ViTModel"},
        "classifier head": {"ViTForImageClassification"},
        "logits": {"ViTForImageClassification"},
        "convolution": {"ViTPatchEmbeddings"},
    }
    for term, classes in expected.items():
        assert found.get(term) == classes, term
    # Nothing points at the classes the classifier does not use, and analysis-only terms
    # (rollout, cosine similarity, softmax...) find no class.
    assert not any("ViTForMaskedImageModeling" in c for c in found.values())
    # The pooler's one concept is its tanh, an activation function, as the MLP's GELU is.
    assert {term for term, c in found.items() if "ViTPooler" in c} <= {"activation function"}
    assert "ViTMLP" in found.get("activation function", set())
    for term in ("attention rollout", "cosine similarity", "embedding dimension", "checkpoint",
                 "preprocessing", "GELU"):
        assert term not in found, term


def write_module(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "modeling_toy.py"
    path.write_text(textwrap.dedent(source))
    return path


TERMS = [Term(("multi-head self-attention",)), Term(("block",)), Term(("Transformer encoder",)),
         Term(("LayerNorm",)), Term(("MLP",)), Term(("query", "key", "value")),
         Term(("patch embedding",)), Term(("position embedding",)), Term(("embedding dimension",))]


def test_a_4x_shaped_source_maps_by_its_own_names(tmp_path):
    """Transformers 4.x split attention and MLP into more classes and had an encoder class."""
    path = write_module(tmp_path, """
        from torch import nn

        class ViTSelfAttention(nn.Module):
            def __init__(self, config):
                self.query = nn.Linear(config.hidden_size, config.hidden_size)
                self.key = nn.Linear(config.hidden_size, config.hidden_size)
                self.value = nn.Linear(config.hidden_size, config.hidden_size)

        class ViTSelfOutput(nn.Module):
            def __init__(self, config):
                self.dense = nn.Linear(config.hidden_size, config.hidden_size)

        class ViTAttention(nn.Module):
            def __init__(self, config):
                self.attention = ViTSelfAttention(config)
                self.output = ViTSelfOutput(config)

        class ViTIntermediate(nn.Module):
            def __init__(self, config):
                self.dense = nn.Linear(config.hidden_size, config.intermediate_size)

        class ViTLayer(nn.Module):
            def __init__(self, config):
                self.attention = ViTAttention(config)
                self.intermediate = ViTIntermediate(config)
                self.layernorm_before = nn.LayerNorm(config.hidden_size)

        class ViTEncoder(nn.Module):
            def __init__(self, config):
                self.layer = nn.ModuleList([ViTLayer(config) for _ in range(config.num_hidden_layers)])
        """)
    found = mapping([path], TERMS)
    assert found["multi-head self-attention"] == {"ViTSelfAttention", "ViTAttention"}
    assert found["query, key, value"] == {"ViTSelfAttention"}
    assert found["Transformer encoder"] == {"ViTEncoder"}  # by name, before any structure
    assert found["block"] == {"ViTLayer"}  # the class that fills the container
    assert found["LayerNorm"] == {"ViTLayer"}
    assert "MLP" not in found  # 4.x has no class or attribute that names it


def test_ambiguous_names_give_nothing_and_specific_names_win(tmp_path):
    path = write_module(tmp_path, """
        class Embeddings:
            def __init__(self):
                self.position_embeddings = 0
                self.embeddings = 0

        class Mixer:
            def forward(self, x):
                attn_output = x
                return attn_output
        """)
    found = mapping([path], TERMS)
    # "position_embeddings" names one term fully; "embeddings" is half of three terms.
    assert found == {"position embedding": {"Embeddings"}, "multi-head self-attention": {"Mixer"}}


def test_concepts_join_the_class_graph_as_nodes_and_edges(tmp_path):
    path = write_module(tmp_path, """
        class MLP:
            pass
        """)
    graph, parts = class_parts([path])
    links = link_concepts(TERMS, parts)
    combined = with_concepts(graph.class_graph(), TERMS, links)
    assert combined.nodes[concept_id("MLP")].kind == "concept"
    assert [(e.source, e.target, e.kind) for e in combined.sorted_edges()] == [
        ("concept:MLP", "modeling_toy.MLP", "implemented_by")]
    assert concept_id("block") not in combined.nodes  # only linked terms become nodes
    assert isinstance(Graph.from_json(combined.to_json()), Graph)


def test_glossary_files_in_myst_and_rst():
    myst = """
# Glossary

```{glossary}
bias
  A bias is a learned number. More text.
  Continued.

query
key
value
  Three vectors.
```
"""
    rst = """
.. glossary::
   :sorted:

   bias
      A bias is a learned number.

   token
      A token is one vector.
"""
    assert parse_glossary(myst)[0].names == ("bias",)
    assert parse_glossary(myst)[0].definition == "A bias is a learned number. More text. Continued."
    assert parse_glossary(myst)[1].names == ("query", "key", "value")
    assert [t.label for t in parse_glossary(rst)] == ["bias", "token"]
    assert parse_glossary("no glossary here") == []
    assert first_sentence("A model e.g. for ImageNet. Then more.") == "A model e.g. for ImageNet."
    assert len(read_glossary(BOOK_GLOSSARY)) >= 20
