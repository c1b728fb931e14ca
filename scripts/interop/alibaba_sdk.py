"""Drives `scim-rotator emulator` with the official Alibaba Cloud SDK (alibabacloud-cloudsso20210515).

Usage: python alibaba_sdk.py PATH/TO/scim-rotator

Runs every check twice: with the SDK's default V3 signature (ACS3-HMAC-SHA256) and with signature_algorithm='v2'
(RPC signature 1.0, HMAC-SHA1). The SDK is a real client no one here wrote: if the emulator's verification, query
decoding, error shapes or status codes drift from what the SDK expects, these calls fail.
"""

import sys
from unittest import mock

from alibabacloud_cloudsso20210515 import models
from alibabacloud_cloudsso20210515.client import Client
from alibabacloud_tea_openapi import models as open_api_models
from emulator_process import Checks, EmulatorProcess


def client_for(emulator, key_id, secret, algorithm):
    config = open_api_models.Config(
        access_key_id=key_id, access_key_secret=secret, endpoint=emulator.hostport, protocol="HTTP",
        read_timeout=10000, connect_timeout=5000,
    )
    if algorithm == "v2":
        config.signature_algorithm = "v2"
    return Client(config)


def run(emulator, checks, algorithm):
    alibaba = emulator.info["alibaba"]
    directory = alibaba["directories"][0]
    client = client_for(emulator, alibaba["accessKeyId"], alibaba["accessKeySecret"], algorithm)
    label = f"[{algorithm}]"

    directories = client.list_directories().body
    checks.check(f"{label} ListDirectories shows the demo directory",
                 [d.directory_id for d in directories.directories] == [directory])

    created = client.create_scimserver_credential(models.CreateSCIMServerCredentialRequest(directory_id=directory)).body
    credential = created.scimserver_credential
    checks.check(f"{label} create returns an Enabled credential with its secret",
                 credential.status == "Enabled" and bool(credential.credential_secret))
    checks.check(f"{label} times are ISO 8601 UTC", credential.create_time.endswith("Z") and "T" in credential.create_time)
    checks.check(f"{label} validity is one year", int(credential.expire_time[:4]) == int(credential.create_time[:4]) + 1)

    listed = client.list_scimserver_credentials(models.ListSCIMServerCredentialsRequest(directory_id=directory)).body
    ids = [c.credential_id for c in listed.scimserver_credentials]
    checks.check(f"{label} list shows the credential, never its secret",
                 credential.credential_id in ids and all(getattr(c, "credential_secret", None) is None for c in listed.scimserver_credentials)
                 and "CredentialSecret" not in str(listed.to_map()))
    checks.check(f"{label} TotalCounts matches", listed.total_counts == len(ids))

    for status in ("Disabled", "Enabled"):
        updated = client.update_scimserver_credential_status(models.UpdateSCIMServerCredentialStatusRequest(
            directory_id=directory, credential_id=credential.credential_id, new_status=status)).body
        checks.check(f"{label} update to {status}", updated.scimserver_credential.status == status)

    sync = client.get_scimsynchronization_status(models.GetSCIMSynchronizationStatusRequest(directory_id=directory)).body
    checks.check(f"{label} sync status reads", sync.scimsynchronization_status in ("Enabled", "Disabled"))
    for status in ("Disabled", "Enabled"):
        client.set_scimsynchronization_status(models.SetSCIMSynchronizationStatusRequest(
            directory_id=directory, scimsynchronization_status=status))
        now = client.get_scimsynchronization_status(models.GetSCIMSynchronizationStatusRequest(directory_id=directory)).body
        checks.check(f"{label} sync set to {status}", now.scimsynchronization_status == status)

    second = client.create_scimserver_credential(models.CreateSCIMServerCredentialRequest(directory_id=directory)).body
    checks.expect_error(f"{label} a third credential hits the limit", "LimitExceeded.SCIMCredential",
                        lambda: client.create_scimserver_credential(
                            models.CreateSCIMServerCredentialRequest(directory_id=directory)))

    for key in (credential.credential_id, second.scimserver_credential.credential_id):
        client.delete_scimserver_credential(models.DeleteSCIMServerCredentialRequest(directory_id=directory, credential_id=key))
    after = client.list_scimserver_credentials(models.ListSCIMServerCredentialsRequest(directory_id=directory)).body
    checks.check(f"{label} delete removes the credentials", after.total_counts == 0)
    checks.expect_error(f"{label} deleting again is EntityNotExists.SCIMCredential", "EntityNotExists.SCIMCredential",
                        lambda: client.delete_scimserver_credential(models.DeleteSCIMServerCredentialRequest(
                            directory_id=directory, credential_id=credential.credential_id)))
    checks.expect_error(f"{label} an unknown directory is EntityNotExists.Directory", "EntityNotExists.Directory",
                        lambda: client.list_scimserver_credentials(models.ListSCIMServerCredentialsRequest(directory_id="d-000000000000")))

    wrong = client_for(emulator, alibaba["accessKeyId"], "not-the-secret", algorithm)
    checks.expect_error(f"{label} a wrong secret is SignatureDoesNotMatch", "SignatureDoesNotMatch",
                        lambda: wrong.list_scimserver_credentials(models.ListSCIMServerCredentialsRequest(directory_id=directory)))

    with mock.patch("alibabacloud_tea_openapi.client.Utils.get_nonce", return_value=f"fixed-nonce-{algorithm}-0001"):
        client.list_scimserver_credentials(models.ListSCIMServerCredentialsRequest(directory_id=directory))
        checks.expect_error(f"{label} a replayed nonce is SignatureNonceUsed", "SignatureNonceUsed",
                            lambda: client.list_scimserver_credentials(models.ListSCIMServerCredentialsRequest(directory_id=directory)))


def main(binary):
    checks = Checks("alibaba-sdk-interop")
    with EmulatorProcess(binary) as emulator:
        for algorithm in ("v3", "v2"):
            run(emulator, checks, algorithm)
    checks.finish()


if __name__ == "__main__":
    main(sys.argv[1])
