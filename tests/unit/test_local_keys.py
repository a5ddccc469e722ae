"""KMS keys of the template in the local runtime: created in the emulator,
`!Ref` their id and `!GetAtt .Arn` their ARN, and the same key (id and
material) after a restart, so that what was encrypted before it decrypts
after it; the seed they derive from is the state dir's own."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from moto.backends import get_backend

from local_runtime.aws import EmulatedAws
from local_runtime.emulation import install_moto_patches
from local_runtime.emulation.keys import DEFAULT_SEED, current_seed, load_or_create_seed, local_key_id, use_seed
from local_runtime.template import ACCOUNT, REGION, Template, create_keys

TEMPLATE = """
Resources:
  SecretsKey:
    Type: AWS::KMS::Key
    Properties:
      Description: local secrets
      EnableKeyRotation: true
      KeyPolicy:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {AWS: !Sub "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
            Action: "kms:*"
            Resource: "*"
  SealFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: seal/
      Handler: app.handler
      Environment:
        Variables:
          KEY_ID: !Ref SecretsKey
          KEY_ARN: !GetAtt SecretsKey.Arn
"""


@pytest.fixture
def template(tmp_path: Path, emulated_aws: EmulatedAws) -> Template:
    install_moto_patches()
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    return Template(tmp_path / "template.yaml")


@pytest.fixture(autouse=True)
def default_seed() -> object:
    yield
    use_seed(DEFAULT_SEED)


def _restart_keys(template: Template) -> Template:
    """What a restart leaves of the keys: none, then the template's created again."""
    keys = get_backend("kms")[ACCOUNT][REGION].keys
    for key_id in template.key_ids.values():
        keys.pop(key_id, None)
    return Template(template.path)


def test_a_ciphertext_made_before_a_restart_decrypts_after_it(
    emulated_aws: EmulatedAws, template: Template, tmp_path: Path
) -> None:
    kms = emulated_aws.client("kms")
    use_seed(load_or_create_seed(tmp_path / "state"))
    (key_id,) = create_keys(kms, template).values()
    sealed = kms.encrypt(KeyId=template.resolve({"Ref": "SecretsKey"}), Plaintext=b"whsec-secret")["CiphertextBlob"]

    fresh = _restart_keys(template)
    use_seed(load_or_create_seed(tmp_path / "state"))  # the same state dir: the same seed
    (key_id_after,) = create_keys(kms, fresh).values()

    assert key_id_after == key_id
    assert kms.decrypt(CiphertextBlob=sealed)["Plaintext"] == b"whsec-secret"
    described = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert described["Description"] == "local secrets"
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True


def test_another_state_dir_has_other_keys(emulated_aws: EmulatedAws, template: Template, tmp_path: Path) -> None:
    kms = emulated_aws.client("kms")
    use_seed(load_or_create_seed(tmp_path / "one"))
    create_keys(kms, template)
    sealed = kms.encrypt(KeyId=template.resolve({"Ref": "SecretsKey"}), Plaintext=b"x")["CiphertextBlob"]

    fresh = _restart_keys(template)
    use_seed(load_or_create_seed(tmp_path / "two"))  # `make reset`: a new seed
    create_keys(kms, fresh)

    with pytest.raises(ClientError):
        kms.decrypt(CiphertextBlob=sealed)


def test_ref_and_get_att_resolve_to_the_key_in_the_functions_environment(
    emulated_aws: EmulatedAws, template: Template
) -> None:
    (key_id,) = create_keys(emulated_aws.client("kms"), template).values()

    environment = template.function("SealFunction").environment

    assert environment["KEY_ID"] == key_id
    assert environment["KEY_ARN"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"
    assert emulated_aws.client("kms").describe_key(KeyId=environment["KEY_ARN"])["KeyMetadata"]["KeyId"] == key_id
    # Before the key is created (the tests' environment), `!Ref` is already the id it will get.
    assert Template(template.path).resolve({"Ref": "SecretsKey"}) == local_key_id("SecretsKey") == key_id


def test_the_seed_is_kept_in_the_state_dir_readable_by_its_owner_only(tmp_path: Path) -> None:
    first = load_or_create_seed(tmp_path)

    assert load_or_create_seed(tmp_path) == first
    assert len(first) == 32 and first != DEFAULT_SEED
    assert stat.S_IMODE(os.stat(tmp_path / "kms-seed").st_mode) == 0o600
    use_seed(first)
    assert current_seed() == first
    assert local_key_id("SecretsKey") != local_key_id("SecretsKey", DEFAULT_SEED)
