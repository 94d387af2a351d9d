"""prefect.yaml: every entrypoint imports and every deployment's parameters validate."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from prefect.flows import load_flow_from_entrypoint

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENTS = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=[d["name"] for d in DEPLOYMENTS])
def test_deployment_entrypoint_and_parameters(deployment, monkeypatch):
    monkeypatch.chdir(ROOT)
    flow = load_flow_from_entrypoint(deployment["entrypoint"])
    params = flow.validate_parameters(deployment.get("parameters") or {})
    assert set(params) <= set(flow.parameters.properties)
    assert deployment["concurrency_limit"]["limit"] == 1
    assert deployment["work_pool"]["name"] == "recsys-process"


def test_bad_parameters_are_caught():
    flow = load_flow_from_entrypoint(str(ROOT / "flows/pipeline.py") + ":pipeline")
    with pytest.raises(Exception, match="epochs"):
        flow.validate_parameters({"config": {"train": {"epochs": "many"}}})
