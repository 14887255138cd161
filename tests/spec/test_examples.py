from twinforge.spec import load_spec


def test_examples_load(examples):
    for f in sorted(examples.glob("*.yaml")):
        spec = load_spec(f)
        assert spec.nodes and spec.edges
