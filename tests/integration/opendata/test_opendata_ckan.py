"""CKAN's Action API on a real hub, driven by CKAN's own client (``ckanapi``: its Python API
and its command line, ``dump`` included) and by plain HTTP for the error answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from ckanapi import NotFound, RemoteCKAN, ValidationError

from central_hub.opendata.domain.datasets import DATASETS
from tests.integration.opendata.conftest import Portal

#: the ``ckanapi`` command installed beside the tests' Python; ``dump`` starts its workers
#: as ``ckanapi`` from the PATH, so that folder leads the PATH of the commands run here
CKANAPI = [str(Path(sys.executable).with_name("ckanapi"))]
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def _remote(portal: Portal) -> RemoteCKAN:
    return RemoteCKAN(f"{portal.url}/opendata", user_agent="kassel-tests/1.0")


def test_package_list_show_and_search_through_ckanapi(portal: Portal) -> None:
    with _remote(portal) as ckan:
        names = ckan.action.package_list()
        assert names == sorted(d.id for d in DATASETS)
        kita = ckan.action.package_show(id="kassel-kita-allocation-district")
        assert kita["state"] == "active" and kita["license_id"]
        assert {r["format"] for r in kita["resources"]} == {"CSV", "JSON"}
        found = ckan.action.package_search(q="Kita", rows=5)
        assert found["count"] == 1
        assert found["results"][0]["name"] == "kassel-kita-allocation-district"
        mobility = ckan.action.package_search(fq="groups:mobilitaet", sort="name asc",
                                              rows=2, start=1)
        assert mobility["count"] == 4
        assert [r["name"] for r in mobility["results"]] == sorted(
            d.id for d in DATASETS if d.group == "mobilitaet")[1:3]
        assert ckan.action.organization_list() == ["stadt-kassel"]
        org = ckan.action.organization_show(id="stadt-kassel")
        assert org["package_count"] == len(DATASETS)
        assert set(ckan.action.group_list()) == {d.group for d in DATASETS}
        assert "Kita" in ckan.action.tag_list()
        assert ckan.action.status_show()["ckan_version"].startswith("2.")
        with pytest.raises(NotFound):
            ckan.action.package_show(id="no-such-dataset")
        with pytest.raises(ValidationError):
            ckan.action.package_search(rows=-1)


def test_the_command_line_searches_and_dumps(portal: Portal, tmp_path: Path) -> None:
    remote = f"{portal.url}/opendata"
    found = subprocess.run([*CKANAPI, "action", "package_search", "q=Ampel", "-r", remote],
                           capture_output=True, text=True, timeout=60, check=True, env=ENV)
    result = json.loads(found.stdout)
    assert result["count"] == 1
    assert result["results"][0]["name"] == "kassel-signal-operations-day"
    out = tmp_path / "datasets.jsonl"
    subprocess.run([*CKANAPI, "dump", "datasets", "--all", "-r", remote, "-O", str(out), "-q"],
                   capture_output=True, text=True, timeout=120, check=True, env=ENV)
    dumped = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert sorted(d["name"] for d in dumped) == sorted(d.id for d in DATASETS)
    assert all(d["resources"] for d in dumped)


@pytest.mark.parametrize("prefix", ["/opendata/api/3/action", "/opendata/api/action"])
def test_errors_keep_ckan_envelope_and_status(portal: Portal, prefix: str) -> None:
    with httpx.Client(base_url=portal.url, timeout=10) as http:
        missing = http.get(f"{prefix}/package_show", params={"id": "nope"})
        assert missing.status_code == 404
        assert missing.json()["success"] is False
        assert missing.json()["error"]["__type"] == "Not Found Error"
        for params in ({"rows": "x"}, {"rows": "-1"}, {"start": "-5"}, {"fq": "tags:(Bus"}):
            bad = http.get(f"{prefix}/package_search", params=params)
            assert bad.status_code == 409, (params, bad.text)
            assert bad.json()["error"]["__type"] == "Validation Error"
            posted = http.post(f"{prefix}/package_search", json=params)
            assert posted.status_code == 409, (params, posted.text)
        assert http.get(f"{prefix}/package_create").status_code == 400
        assert http.post(f"{prefix}/package_search", content=b"[1, 2]").status_code == 400
        assert http.post(f"{prefix}/package_search", content=b"{nope").status_code == 400
        ok = http.post(f"{prefix}/package_search", json={"q": "Pünktlichkeit", "rows": 1})
        assert ok.status_code == 200 and ok.json()["result"]["count"] == 1
