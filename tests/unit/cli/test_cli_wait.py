"""`podrun wait --for=...`: the condition forms kubectl accepts and how each is judged."""

from __future__ import annotations

from typing import Any

import pytest

from podrun.cli_wait import Condition, parse_for


@pytest.mark.parametrize(("value", "want"), [
    ("delete", Condition("delete")),
    ("Delete", Condition("delete")),
    ("create", Condition("create")),
    ("condition=Ready", Condition("condition", "Ready", "true")),
    ("condition=Ready=false", Condition("condition", "Ready", "false")),
    ("condition=PodScheduled=True", Condition("condition", "PodScheduled", "True")),
    ("jsonpath={.status.phase}=Running", Condition("jsonpath", "{.status.phase}", "Running")),
    ("jsonpath=.status.phase=Failed", Condition("jsonpath", "{.status.phase}", "Failed")),
    ("jsonpath={.status.podIP}", Condition("jsonpath", "{.status.podIP}", None)),
    ("jsonpath={.metadata.labels.a=b}", Condition("jsonpath", "{.metadata.labels.a=b}", None)),
])
def test_parse_for(value: str, want: Condition) -> None:
    assert parse_for(value) == want


@pytest.mark.parametrize("value", ["bogus", "condition=", "jsonpath=", "jsonpath={.a"])
def test_parse_for_rejects(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        parse_for(value)
    assert e.value.code == 1
    assert "unrecognized condition" in capsys.readouterr().err


def pod(conditions: list[dict[str, Any]], phase: str = "Running",
        generation: int | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "p"}
    if generation is not None:
        meta["generation"] = generation
    return {"metadata": meta, "status": {"phase": phase, "conditions": conditions,
                                         "podIP": "10.0.0.3"}}


READY = {"type": "Ready", "status": "True"}
NOT_READY = {"type": "Ready", "status": "False"}


@pytest.mark.parametrize(("cond", "obj", "met"), [
    (Condition("condition", "Ready", "true"), pod([READY]), True),
    (Condition("condition", "ready", "TRUE"), pod([READY]), True),
    (Condition("condition", "Ready", "true"), pod([NOT_READY]), False),
    (Condition("condition", "Ready", "false"), pod([NOT_READY]), True),
    (Condition("condition", "Ready", "true"), pod([]), False),
    (Condition("condition", "Ready", "true"),
     pod([{**READY, "observedGeneration": 1}], generation=2), False),
    (Condition("condition", "Ready", "true"),
     pod([{**READY, "observedGeneration": 2}], generation=2), True),
    (Condition("jsonpath", "{.status.phase}", "Running"), pod([]), True),
    (Condition("jsonpath", "{.status.phase}", "Succeeded"), pod([]), False),
    (Condition("jsonpath", "{.status.podIP}", None), pod([]), True),
    (Condition("jsonpath", "{.status.hostIP}", None), pod([]), False),
    (Condition("jsonpath", "{.status.conditions[0]}", '{"status":"True","type":"Ready"}'),
     pod([READY]), True),
    (Condition("create"), pod([]), True),
])
def test_condition_met(cond: Condition, obj: dict[str, Any], met: bool) -> None:
    assert cond.met(obj) is met
