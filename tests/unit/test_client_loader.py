"""Our AWS clients are made without botocore's survey of every service's
data folder (oversight.store.faults): only the asked-for service's folder
is read, and botocore's answers are otherwise its own."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import botocore
import pytest
from botocore.exceptions import UnknownServiceError

from oversight.store import faults

DATA = Path(botocore.__file__).parent / "data"


@pytest.fixture
def fresh_session(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    faults._session.cache_clear()
    yield
    faults._session.cache_clear()


def listed_folders(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    listed: list[Path] = []
    real = os.listdir

    def listdir(path: str | os.PathLike[str] = ".") -> list[str]:
        listed.append(Path(path))
        return real(path)

    monkeypatch.setattr(os, "listdir", listdir)
    return listed


@pytest.mark.usefixtures("fresh_session")
def test_a_client_is_made_reading_only_its_services_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    listed = listed_folders(monkeypatch)
    client = faults.new_client("dynamodb")
    assert client.meta.service_model.service_name == "dynamodb"
    under_data = [path for path in listed if DATA in (path, *path.parents)]
    assert DATA not in under_data  # botocore's own loader lists the ~450 services here, twice
    assert {path.relative_to(DATA).parts[0] for path in under_data if path != DATA} <= {"dynamodb"}


@pytest.mark.usefixtures("fresh_session")
def test_an_unknown_service_is_refused_as_botocore_refuses_it() -> None:
    with pytest.raises(UnknownServiceError) as refused:
        faults.new_client("no-such-service")
    assert "dynamodb" in str(refused.value)  # the known services, listed in full for the error


@pytest.mark.usefixtures("fresh_session")
def test_aws_data_path_is_still_searched(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    service = tmp_path / "dynamodb" / "2012-08-10"
    service.mkdir(parents=True)
    model = (DATA / "dynamodb" / "2012-08-10" / "service-2.json.gz").read_bytes()
    (service / "service-2.json.gz").write_bytes(model)
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    loader = faults._session().get_component("data_loader")
    assert str(tmp_path) in loader.search_paths
    assert "dynamodb" in loader.list_available_services("service-2")
