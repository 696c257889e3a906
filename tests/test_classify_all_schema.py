"""Holding response documents against what the official ``edgeimpulse-api`` client declares.

The client's ``from_dict`` builds models with ``construct`` (no validation), so on top of
parsing through the client, :func:`check_declared` walks a document against the pydantic
model classes: every required field (by its JSON alias) present and not null, nested objects
and lists checked recursively, and every leaf value validated by the model field's own
validator (types, enums, ``ge`` bounds). The one documented client bug (see
``spec/gateway-api.md``, "Known bug in the official client"): ``BlockThresholdValue`` is a
oneOf float|str the client cannot deserialise; here a threshold value must be a number or a
string, nothing else.
"""
from __future__ import annotations

import typing
from typing import Any, List

import pytest
from pydantic.v1 import BaseModel
from pydantic.v1.fields import ModelField

from edgeimpulse_api.models.block_threshold_value import BlockThresholdValue


def _model_of(field: ModelField):
    t = field.type_
    if isinstance(t, type) and issubclass(t, BaseModel):
        return t
    return None


def check_declared(model: type, data: Any, where: str = "$") -> List[str]:
    """Problems of ``data`` against ``model`` (empty when it conforms)."""
    problems: List[str] = []
    if not isinstance(data, dict):
        return [f"{where}: expected an object for {model.__name__}, got {type(data).__name__}"]
    for name, field in model.__fields__.items():
        key = field.alias or name
        if key not in data or data[key] is None:
            if field.required:
                problems.append(f"{where}.{key}: required by {model.__name__}, missing")
            continue
        value = data[key]
        sub = _model_of(field)
        path = f"{where}.{key}"
        if sub is BlockThresholdValue:
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                problems.append(f"{path}: a threshold value must be a number or a string")
            continue
        outer = typing.get_origin(field.outer_type_)
        if sub is not None:
            if field.shape == 1:            # SHAPE_SINGLETON
                problems += check_declared(sub, value, path)
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    problems += check_declared(sub, item, f"{path}[{i}]")
            elif isinstance(value, dict) and outer is not list:
                for k, item in value.items():
                    problems += check_declared(sub, item, f"{path}[{k!r}]")
            else:
                problems.append(f"{path}: expected a list of {sub.__name__}")
            continue
        _, err = field.validate(value, {}, loc=key, cls=model)
        if err is not None:
            problems.append(f"{path}: {err if not isinstance(err, list) else err[0]}")
    # pydantic validators declared on the model (enums written as @validator)
    for name, field in model.__fields__.items():
        for v in getattr(field, "class_validators", {}).values():
            key = field.alias or name
            if key in data and data[key] is not None and _model_of(field) is None:
                try:
                    v.func(model, data[key])
                except (ValueError, TypeError) as exc:
                    problems.append(f"{where}.{key}: {exc}")
    return problems


def assert_declared(model: type, data: Any) -> None:
    problems = check_declared(model, data)
    assert not problems, "\n".join(problems[:20])


@pytest.fixture
def threshold_value_fix(monkeypatch):
    """THE one patch of the official client, for its documented bug (spec/gateway-api.md,
    "Known bug in the official client"): in edgeimpulse-api 1.96.3
    ``BlockThresholdValue.from_json`` assigns without validation, so every threshold value
    "matches" both float and str and deserialisation fails with "Multiple matches found".
    This replaces that one classmethod with a correct oneOf check - a number or a string,
    nothing else - for the duration of a test. No other model is patched."""
    import json

    def from_json(cls, json_str: str):
        value = json.loads(json_str)
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError(f"No match found when deserializing {json_str!r} into "
                             "BlockThresholdValue with oneOf schemas: float, str")
        instance = cls.construct()
        instance.actual_instance = value
        return instance

    monkeypatch.setattr(BlockThresholdValue, "from_json", classmethod(from_json))
    yield


# --- the checker itself must catch what it is meant to catch -------------------------------------

def test_checker_reports_missing_required_and_bad_enum():
    from edgeimpulse_api.models.classify_job_response_page import ClassifyJobResponsePage
    from edgeimpulse_api.models.keras_model_metadata_metrics import KerasModelMetadataMetrics
    problems = check_declared(ClassifyJobResponsePage, {"success": True, "result": [],
                                                        "predictions": [{"sampleId": 1}]})
    text = "\n".join(problems)
    assert "totalCount" in text and "startMs" in text
    assert "predictions[0].prediction" in text
    bad = {"type": "int4", "loss": 0.1, "confusionMatrix": [], "report": {},
           "onDevicePerformance": [], "visualization": "pie", "isSupportedOnMcu": True,
           "additionalMetrics": []}
    text = "\n".join(check_declared(KerasModelMetadataMetrics, bad))
    assert ".type" in text and ".visualization" in text


def test_checker_threshold_values():
    from edgeimpulse_api.models.block_threshold import BlockThreshold
    ok = {"key": "min_score", "description": "d", "helpText": "h", "value": 0.6}
    assert check_declared(BlockThreshold, ok) == []
    assert check_declared(BlockThreshold, dict(ok, value="0.6")) == []
    assert check_declared(BlockThreshold, dict(ok, value=[0.6]))


def test_the_bug_is_there_unpatched():
    with pytest.raises(ValueError, match="Multiple matches"):
        BlockThresholdValue.from_json("0.5")


def test_patched_from_json_accepts_numbers_and_strings_only(threshold_value_fix):
    assert BlockThresholdValue.from_json("0.5").actual_instance == 0.5
    assert BlockThresholdValue.from_json('"x"').actual_instance == "x"
    with pytest.raises(ValueError):
        BlockThresholdValue.from_json("[1]")
