"""The payload/topic decoder, without a broker: every malformed input is quarantined with a reason."""

from __future__ import annotations

import json

import pytest

from twinforge.data import MappingError, MessageDecoder, MqttMapping, Quality, SampleBatch, TopicRule
from twinforge.data.model import to_us

PREFIX = "twinforge/flow-rig"


@pytest.fixture
def decoder(flow_rig, store):
    mapping = MqttMapping(
        rules=[
            TopicRule(topic=f"{PREFIX}/{{node}}/{{signal}}"),
            TopicRule(topic="gw/+/{node}"),
            TopicRule(topic="legacy/flow_lpm", node="flow", signal="q", unit="L/min"),
        ]
    )
    return MessageDecoder(flow_rig, store, mapping)


def decode(decoder, topic, payload):
    batch, quarantine = SampleBatch(), []
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    res = decoder.decode(topic, raw, 0, batch, quarantine)
    return res, batch, quarantine


def test_single_and_batched_samples(decoder, store):
    res, batch, q = decode(decoder, f"{PREFIX}/flow/q", {"ts": 1714564800.5, "value": 12.5})
    assert (res.samples, res.quarantined, q) == (1, 0, [])
    assert batch.ts_us == [1714564800500000] and batch.value == [12.5] and batch.quality == [0]
    samples = [{"ts": 1714564800 + i, "value": float(i)} for i in range(50)]
    res, batch, _ = decode(decoder, f"{PREFIX}/flow/q", {"samples": samples})
    assert res.samples == 50 and batch.value == [float(i) for i in range(50)]
    # ISO text, ts_ms, quality, per-payload unit, bools
    res, batch, q = decode(
        decoder,
        f"{PREFIX}/thermo/t",
        {
            "samples": [
                {"ts": "2024-05-01T12:00:00Z", "value": 212, "unit": "degF", "quality": "uncertain"},
                {"ts_ms": 1714564801000, "value": True},
            ]
        },
    )
    assert q == [] and batch.value == pytest.approx([100.0, 1.0])
    assert batch.ts_us == [to_us("2024-05-01T12:00:00Z"), 1714564801000000]
    assert batch.quality == [int(Quality.UNCERTAIN), 0]


def test_topic_binding_node_only_and_fixed_rule_with_unit(decoder):
    _res, batch, q = decode(
        decoder, "gw/site1/flow", {"samples": [{"signal": "q", "ts": 1, "value": 2.0}], "unit": "L/min"}
    )
    assert q == [] and batch.value == pytest.approx([0.12])
    _res, batch, q = decode(decoder, "legacy/flow_lpm", {"ts": 1, "value": 100})
    assert q == [] and batch.value == pytest.approx([6.0])


def test_out_of_range_is_stored_with_bad_quality(decoder):
    res, batch, q = decode(decoder, f"{PREFIX}/flow/q", {"ts": 1, "value": 51.0})
    assert res.out_of_range == 1 and q == [] and batch.quality == [int(Quality.OUT_OF_RANGE)]


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (f"{PREFIX}/flow/q", b"{not json", "payload is not valid JSON"),
        (f"{PREFIX}/flow/q", b"\xff\xfe", "payload is not UTF-8"),
        (f"{PREFIX}/flow/q", b"", "payload is not valid JSON"),
        (f"{PREFIX}/flow/q", [1, 2], "payload must be a JSON object"),
        (f"{PREFIX}/flow/q", 3.5, "payload must be a JSON object"),
        (f"{PREFIX}/flow/q", {"ts": 1}, "missing field 'value'"),
        (f"{PREFIX}/flow/q", {"value": 1}, "missing field 'ts'"),
        (f"{PREFIX}/flow/q", {"ts": 1, "value": "3.2"}, "'value' must be a number, found str"),
        (f"{PREFIX}/flow/q", {"ts": 1, "value": None}, "'value' must be a number, found NoneType"),
        (f"{PREFIX}/flow/q", b'{"ts": 1, "value": NaN}', "'value' must be a finite number"),
        (f"{PREFIX}/flow/q", {"ts": [1], "value": 1}, "'ts' must be epoch seconds or ISO 8601"),
        (f"{PREFIX}/flow/q", {"ts": "tomorrow", "value": 1}, "cannot read 'tomorrow' as a timestamp"),
        (
            f"{PREFIX}/flow/q",
            {"ts": 1, "value": 1, "quality": "great"},
            "'quality' must be good, uncertain or bad",
        ),
        (f"{PREFIX}/flow/q", {"ts": 1, "value": 1, "unit": "bar"}, "unit 'bar' does not convert"),
        (
            f"{PREFIX}/flow/q",
            {"ts": 1, "value": 1, "node": "thermo"},
            "'node' 'thermo' contradicts the topic",
        ),
        (f"{PREFIX}/flow/q", {"samples": {"ts": 1}}, "'samples' must be a list"),
        (f"{PREFIX}/flwo/q", {"ts": 1, "value": 1}, "no node 'flwo'; did you mean 'flow'?"),
        (f"{PREFIX}/flow/qq", {"ts": 1, "value": 1}, "node 'flow' has no signal 'qq'; did you mean 'q'?"),
        (f"{PREFIX}/flow", {"ts": 1, "value": 1}, "matches no topic rule"),
        (f"{PREFIX}/a/b/c", {"ts": 1, "value": 1}, "matches no topic rule"),
        ("gw/site1/flow", {"ts": 1, "value": 1}, "the payload needs field 'signal'"),
    ],
)
def test_malformed_messages_are_quarantined_with_reason(decoder, topic, payload, reason):
    res, batch, q = decode(decoder, topic, payload)
    assert len(batch) == 0 and res.quarantined == 1 and len(q) == 1
    assert reason in q[0].reason
    assert q[0].location == topic and q[0].source == "mqtt" and q[0].twin == "flow-rig"


def test_partly_bad_batch_keeps_good_samples_and_quarantines_each_bad_one(decoder):
    samples = [{"ts": 1, "value": 1.0}, {"ts": 2}, "junk", {"ts": 3, "value": "x"}, {"ts": 4, "value": 4.0}]
    res, batch, q = decode(decoder, f"{PREFIX}/flow/q", {"samples": samples})
    assert res.samples == 2 and batch.value == [1.0, 4.0]
    assert [r.reason.split(":")[0] for r in q] == ["samples[1]", "samples[2]", "samples[3]"]
    assert json.loads(q[0].payload) == {"ts": 2}


def test_topic_rules_subscriptions_and_validation(flow_rig):
    m = MqttMapping.default(flow_rig)
    assert m.rules[0].topic == "twinforge/flow-rig/{node}/{signal}"
    assert m.subscriptions() == ["twinforge/flow-rig/#"]
    assert m.topic_for("flow", "q") == ("twinforge/flow-rig/flow/q", False)
    rule = TopicRule(topic="site/{node}-dev/+/{signal}")
    assert rule.match("site/pump-dev/x/q") == {"node": "pump", "signal": "q"}
    assert rule.match("site/pump/x/q") is None
    assert rule.subscription == "site/+/+/+"
    assert MqttMapping(rules=[rule], catch_all=False).subscriptions() == ["site/+/+/+"]
    with pytest.raises(ValueError, match="'#' must be a whole last level"):
        TopicRule(topic="a/#/b")
    with pytest.raises(ValueError, match=r"only \{node\} and \{signal\}"):
        TopicRule(topic="a/{device}")
    with pytest.raises(MappingError, match="no signal 'x'"):
        MqttMapping(rules=[TopicRule(topic="a", node="flow", signal="x")]).check(flow_rig)
