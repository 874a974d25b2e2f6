"""code_graph's analyser on small sources written to temporary files, and on transformers' ViT."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from code_graph import Edge, SourceError, analyze, locate

REPO = Path(__file__).resolve().parents[1]


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def graph_of(tmp_path: Path, source: str):
    return analyze([write(tmp_path, {"m.py": source}) / "m.py"])


def out(graph, source: str, kind: str) -> set[str]:
    """Targets of ``source``'s edges of one kind, ids relative to module ``m``."""
    return {e.target.removeprefix("m.") for e in graph.edges if e.source == f"m.{source}" and e.kind == kind}


def assert_edges(graph, expected: dict[str, set[str]]) -> None:
    """``{"Source.method kind": {targets}}``, compared all at once so one failure shows every gap."""
    found = {key: out(graph, *key.split()) for key in expected}
    assert found == expected


def test_calls_and_instantiation_through_attributes(tmp_path):
    graph = graph_of(tmp_path, """
        class MLP:
            def forward(self, x):
                return x

        class Block:
            def __init__(self):
                self.mlp = MLP()

            def forward(self, x):
                return self.mlp(x)

            def helper(self):
                return self.forward(1)

        def build(Block=None):
            return Block()  # the parameter shadows the class: nothing known

        def make():
            block = Block()
            return block.helper()
        """)
    assert_edges(graph, {
        "Block.__init__ instantiates": {"MLP"},
        "Block.forward calls": {"MLP.forward"},
        "Block.helper calls": {"Block.forward"},
        "make instantiates": {"Block"},
        "make calls": {"Block.helper"},
        "build instantiates": set(),
    })
    node = graph.nodes["m.Block.forward"]
    assert (node.kind, node.line, node.end_line) == ("method", 10, 11)


def test_instance_call_prefers_dunder_call_then_inherited_forward(tmp_path):
    graph = graph_of(tmp_path, """
        class Base:
            def forward(self, x): ...

        class Child(Base):
            pass

        class Callable:
            def __call__(self, x): ...
            def forward(self, x): ...

        class Plain:
            pass

        class User:
            def __init__(self):
                self.child, self.callable, self.plain = Child(), Callable(), Plain()

            def run(self, x):
                return self.child(x) + self.callable(x) + self.plain(x)
        """)
    assert out(graph, "User.run", "calls") == {"Base.forward", "Callable.__call__"}


def test_module_list_comprehension_lists_and_conditionals(tmp_path):
    graph = graph_of(tmp_path, """
        from torch import nn

        class A(nn.Module):
            def forward(self, x): ...

        class B(nn.Module):
            def forward(self, x): ...

        class C(nn.Module):
            def forward(self, x): ...

        class D(nn.Module):
            def forward(self, x): ...

        class Net(nn.Module):
            def __init__(self, config, deep):
                super().__init__()
                self.blocks = nn.ModuleList([A(config) for _ in range(3)])
                self.pair = [B(), C()]
                self.head = B() if deep else C()
                self.linear = nn.Linear(3, 3)
                self.appended = nn.ModuleList()
                for _ in range(2):
                    self.appended.append(D())
                stages = []
                stages.extend(A() for _ in range(2))
                self.stages = nn.Sequential(*stages)

            def through_blocks(self, x):
                for block in self.blocks:
                    x = block(x)
                return x

            def through_first_pair(self, x):
                return self.pair[0](x)

            def through_head(self, x):
                return self.head(self.linear(x))

            def through_comprehension(self, x):
                return [block(x) for block in self.blocks]

            def through_enumerate_and_zip(self, x):
                for i, block in enumerate(self.blocks):
                    x = block(x)
                for first, second in zip(self.appended, self.pair):
                    x = first(x) + second(x)
                return x

            def through_filled_containers(self, x):
                for module in self.appended:
                    x = module(x)
                return self.stages[-1](x)
        """)
    assert_edges(graph, {
        "Net.__init__ instantiates": {"A", "B", "C", "D"},
        "Net.through_blocks calls": {"A.forward"},
        "Net.through_first_pair calls": {"B.forward", "C.forward"},
        "Net.through_head calls": {"B.forward", "C.forward"},
        "Net.through_comprehension calls": {"A.forward"},
        "Net.through_filled_containers calls": {"A.forward", "D.forward"},
        "Net.through_enumerate_and_zip calls": {"A.forward", "B.forward", "C.forward", "D.forward"},
    })
    # External callees (nn.Linear, nn.ModuleList) are dropped; external bases are kept.
    assert not any(e.target.startswith("torch") for e in graph.edges if e.kind != "inherits")
    assert out(graph, "Net", "inherits") == {"torch.nn.Module"}
    assert graph.nodes["torch.nn.Module"].kind == "external"


def test_transformers_4_style_encoder(tmp_path):
    """The shape of transformers 4.x's ViT: an attention registry and an enumerate loop."""
    graph = graph_of(tmp_path, """
        from torch import nn

        class SelfAttention(nn.Module):
            def forward(self, x): ...

        class SdpaSelfAttention(SelfAttention):
            pass

        ATTENTION_CLASSES = {"eager": SelfAttention, "sdpa": SdpaSelfAttention}

        class Layer(nn.Module):
            def __init__(self, config):
                self.attention = ATTENTION_CLASSES[config._attn_implementation](config)

            def forward(self, x):
                return self.attention(x)

        class Encoder(nn.Module):
            def __init__(self, config):
                self.layer = nn.ModuleList([Layer(config) for _ in range(config.num_hidden_layers)])

            def forward(self, x):
                for i, layer_module in enumerate(self.layer):
                    x = layer_module(x)
                return x
        """)
    assert_edges(graph, {
        "Layer.__init__ instantiates": {"SelfAttention", "SdpaSelfAttention"},
        "Layer.forward calls": {"SelfAttention.forward"},
        "Encoder.forward calls": {"Layer.forward"},
    })


def test_inheritance_and_super(tmp_path):
    graph = graph_of(tmp_path, """
        class Base:
            def __init__(self): ...
            def run(self): ...

        class Mid(Base):
            def run(self):
                return super().run()

        class Leaf(Mid):
            def __init__(self):
                super().__init__()

            def go(self):
                return super(Leaf, self).run()

        class Error(Exception): ...
        class Old(object): ...
        """)
    assert_edges(graph, {
        "Mid inherits": {"Base"},
        "Leaf inherits": {"Mid"},
        "Mid.run calls": {"Base.run"},
        "Leaf.__init__ calls": {"Base.__init__"},
        "Leaf.go calls": {"Mid.run"},
        "Error inherits": {"builtins.Exception"},
        "Old inherits": set(),
    })


def test_nested_classes(tmp_path):
    graph = graph_of(tmp_path, """
        class Outer:
            class Inner:
                def forward(self, x): ...

            def __init__(self):
                self.inner = self.Inner()
                self.other = Outer.Inner()

            def forward(self, x):
                return self.inner(x)
        """)
    assert graph.nodes["m.Outer.Inner"].kind == "class"
    assert graph.nodes["m.Outer.Inner.forward"].kind == "method"
    assert_edges(graph, {
        "Outer defines": {"Outer.Inner", "Outer.__init__", "Outer.forward"},
        "Outer.__init__ instantiates": {"Outer.Inner"},
        "Outer.forward calls": {"Outer.Inner.forward"},
    })
    classes = graph.class_graph()
    assert {(e.target, e.kind) for e in classes.edges if e.source == "m.Outer"} == {
        ("m.Outer.Inner", kind) for kind in ("defines", "instantiates", "calls")}


def test_decorated_methods(tmp_path):
    graph = graph_of(tmp_path, """
        import functools

        def register(fn):
            return fn

        class Sub:
            def __call__(self, x): ...

        class K:
            @staticmethod
            def make():
                return K()

            @classmethod
            def build(cls):
                return cls()

            @register
            @functools.lru_cache
            def cached(self):
                return self.make()

            @property
            def sub(self) -> "Sub":
                return Sub()

            def use(self):
                return self.sub(1)
        """)
    assert_edges(graph, {
        "K.make instantiates": {"K"},
        "K.build instantiates": {"K"},
        "K.cached calls": {"K.make"},
        "K calls": {"register"},  # applying a decorator calls it
        "K.use calls": {"Sub.__call__"},
    })
    cached = graph.nodes["m.K.cached"]
    assert (cached.kind, cached.line, cached.end_line) == ("method", 19, 22)


def test_star_and_relative_imports_across_a_package(tmp_path):
    write(tmp_path, {
        "pkg/__init__.py": "from .layers import *\nfrom .models.net import Net\n",
        "pkg/layers.py": """
            '''Layers.'''
            __all__ = ["Block"]

            class Block:
                def forward(self, x): ...

            class _Hidden:
                pass
            """,
        "pkg/models/__init__.py": "",
        "pkg/models/net.py": """
            from .. import layers
            from ..layers import *
            from pkg import Block as Reexported

            class Net(Block):
                def __init__(self):
                    self.a = layers.Block()
                    self.b = Reexported()
                    self.c = _Hidden()  # not exported by __all__

                def forward(self, x):
                    return self.a(x)
            """,
    })
    graph = analyze([tmp_path / "pkg"])
    assert graph.errors == []
    net = "pkg.models.net.Net"
    assert {(e.target, e.kind) for e in graph.edges if e.source.startswith(net)} >= {
        ("pkg.layers.Block", "inherits"), ("pkg.layers.Block", "instantiates"),
        ("pkg.layers.Block.forward", "calls")}
    assert not any(e.target.endswith("_Hidden") for e in graph.edges if e.kind != "defines")
    assert graph.nodes["pkg.layers"].doc == "Layers."
    # Two files of the package on their own: ids are short, imports still resolve.
    files = analyze([tmp_path / "pkg/models/net.py", tmp_path / "pkg/layers.py"])
    assert Edge("net.Net", "layers.Block", "inherits") in files.edges
    assert Edge("net.Net.__init__", "layers.Block", "instantiates") in files.edges


def test_syntax_error_is_reported_with_file_and_line(tmp_path):
    write(tmp_path, {"good.py": "class A:\n    pass\n", "bad.py": "x = 1\n\ndef f(:\n    pass\n"})
    graph = analyze([tmp_path])
    assert [(Path(e.file).name, e.line) for e in graph.errors] == [("bad.py", 3)]
    assert str(graph.errors[0]).startswith(f"{tmp_path / 'bad.py'}:3: ")
    assert "good.A" in graph.nodes and "bad" not in graph.nodes
    missing = analyze([tmp_path / "nope.py"]).errors
    assert missing == [SourceError(str(tmp_path / "nope.py"), 0, "no such file or directory")]


def test_analysed_code_is_never_run(tmp_path):
    marker = tmp_path / "ran"
    write(tmp_path, {"boom.py": f"""
        open({str(marker)!r}, "w").close()
        raise SystemExit(3)

        class Quiet:
            pass
        """})
    graph = analyze([tmp_path / "boom.py"])
    assert "boom.Quiet" in graph.nodes and not marker.exists() and "boom" not in sys.modules


# transformers' ViT ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def vit():
    return analyze([locate("transformers.models.vit.modeling_vit")])


def test_locating_and_analysing_vit_imports_neither_transformers_nor_torch():
    """Nor networkx: the layout, and what it imports, load only when asked for."""
    code = ("import sys, code_graph; code_graph.analyze([code_graph.locate("
            "'transformers.models.vit.modeling_vit')]); "
            "print(sorted(m for m in ('torch', 'transformers', 'sphinx', 'networkx') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
    assert result.stdout.strip() == "[]"


def test_vit_class_graph_has_the_model_structure(vit):
    classes = vit.class_graph()
    assert vit.errors == []
    by_name = {node.name: node.id for node in classes.nodes.values()}

    def edge(source: str, target: str, kind: str) -> bool:
        return Edge(by_name[source], by_name[target], kind) in classes.edges

    pairs = [("ViTForImageClassification", "ViTModel"), ("ViTModel", "ViTEmbeddings"),
             ("ViTEmbeddings", "ViTPatchEmbeddings"), ("ViTModel", "ViTLayer"), ("ViTLayer", "ViTAttention"),
             ("ViTLayer", "ViTMLP"), ("ViTModel", "ViTPooler")]
    for source, target in pairs:
        assert edge(source, target, "instantiates"), (source, target)
        assert edge(source, target, "calls"), (source, target)
    assert classes.has_path(by_name["ViTForImageClassification"], by_name["ViTMLP"], ["calls"])
    heads = [n for n in by_name if n.startswith("ViTFor")] + ["ViTModel"]
    assert len(heads) >= 3 and all(edge(h, "ViTPreTrainedModel", "inherits") for h in heads)
    pretrained = [e.target for e in classes.out_edges(by_name["ViTPreTrainedModel"], "inherits")]
    assert [classes.nodes[t].kind for t in pretrained] == ["external"]
    assert pretrained[0].endswith(".PreTrainedModel")
    # Every node of the class view is a class of the file, or an external base class.
    assert {n.kind for n in classes.nodes.values()} == {"class", "external"}
    assert all(e.kind == "inherits" for e in classes.edges if classes.nodes[e.target].kind == "external")


def test_vit_method_level_edges(vit):
    # The encoder loop ``for layer in self.layers: layer(...)`` runs ViTLayer.forward.
    assert Edge("modeling_vit.ViTModel.forward", "modeling_vit.ViTLayer.forward", "calls") in vit.edges
    layer = vit.nodes["modeling_vit.ViTLayer"]
    assert vit.source(layer.id).splitlines()[0].startswith("class ViTLayer(")
    assert layer.file.endswith("modeling_vit.py") and layer.line < layer.end_line
