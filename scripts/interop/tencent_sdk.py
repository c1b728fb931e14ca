"""Drives `scim-rotator emulator` with the official Tencent Cloud SDK (tencentcloud-sdk-python-organization).

Usage: python tencent_sdk.py PATH/TO/scim-rotator

The SDK is a real client no one here wrote: if the emulator's TC3 verification, envelope, Content-Type or error
codes drift from the real service's, these calls fail. The SDK's own retryer is not used (it has a bug that raises
a stale error after a successful retry, see ../shared/reference/tencent-cic.md §3).
"""

import sys
import time
from unittest import mock

from emulator_process import Checks, EmulatorProcess
from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.organization.v20210331 import models, organization_client


def client_for(emulator, secret_id, secret_key):
    http = HttpProfile(endpoint=emulator.hostport, protocol="http", reqTimeout=10)
    return organization_client.OrganizationClient(
        credential.Credential(secret_id, secret_key), "", ClientProfile(httpProfile=http)
    )


def request(model, **fields):
    req = model()
    for name, value in fields.items():
        setattr(req, name, value)
    return req


def main(binary):
    checks = Checks("tencent-sdk-interop")
    with EmulatorProcess(binary) as emulator:
        tencent = emulator.info["tencent"]
        zone = tencent["zones"][0]
        client = client_for(emulator, tencent["secretId"], tencent["secretKey"])

        center = client.DescribeIdentityCenter(models.DescribeIdentityCenterRequest())
        checks.check("DescribeIdentityCenter returns the demo zone", center.ZoneId == zone, center.ZoneId)

        created = client.CreateSCIMCredential(
            request(models.CreateSCIMCredentialRequest, ZoneId=zone, ExpireDuration=7776000)
        )
        checks.check("create returns an Enabled BearerToken", created.CredentialStatus == "Enabled"
                     and created.CredentialType == "BearerToken", created.to_json_string())
        checks.check("create returns the secret once", bool(created.CredentialSecret))
        checks.check("create id is scimcred-", created.CredentialId.startswith("scimcred-"))
        checks.check("create times are YYYY-MM-DD HH:MM:SS", len(created.CreateTime) == 19
                     and created.CreateTime[10] == " ", created.CreateTime)
        checks.check("RequestId is present", bool(created.RequestId))

        listed = client.ListSCIMCredentials(request(models.ListSCIMCredentialsRequest, ZoneId=zone))
        ids = [c.CredentialId for c in listed.SCIMCredentials]
        checks.check("list shows the new key", created.CredentialId in ids, ids)
        checks.check("list uses Status, never the secret", all(c.Status == "Enabled" for c in listed.SCIMCredentials)
                     and "CredentialSecret" not in listed.to_json_string())
        checks.check("TotalCounts matches", listed.TotalCounts == len(ids))

        unknown = client.ListSCIMCredentials(
            request(models.ListSCIMCredentialsRequest, ZoneId=zone, CredentialId="scimcred-000000000000")
        )
        checks.check("unknown CredentialId filter gives an empty list", unknown.TotalCounts == 0
                     and unknown.SCIMCredentials == [])

        for status in ("Disabled", "Enabled"):
            client.UpdateSCIMCredentialStatus(request(models.UpdateSCIMCredentialStatusRequest, ZoneId=zone,
                                                      CredentialId=created.CredentialId, NewStatus=status))
            one = client.ListSCIMCredentials(request(models.ListSCIMCredentialsRequest, ZoneId=zone,
                                                     CredentialId=created.CredentialId))
            checks.check(f"update to {status} is listed", one.SCIMCredentials[0].Status == status)

        sync = client.GetSCIMSynchronizationStatus(request(models.GetSCIMSynchronizationStatusRequest, ZoneId=zone))
        checks.check("sync status reads", sync.SCIMSynchronizationStatus in ("Enabled", "Disabled"))
        client.UpdateSCIMSynchronizationStatus(request(models.UpdateSCIMSynchronizationStatusRequest, ZoneId=zone,
                                                       SCIMSynchronizationStatus="Enabled"))

        second = client.CreateSCIMCredential(request(models.CreateSCIMCredentialRequest, ZoneId=zone))
        checks.check("second key: default expiry is one year", second.ExpireTime[:4] == str(int(second.CreateTime[:4]) + 1))
        checks.expect_error("third key is LimitExceeded.ScimCredentialLimitExceeded",
                            "LimitExceeded.ScimCredentialLimitExceeded",
                            lambda: client.CreateSCIMCredential(request(models.CreateSCIMCredentialRequest, ZoneId=zone)))

        for key in (created.CredentialId, second.CredentialId):
            client.DeleteSCIMCredential(request(models.DeleteSCIMCredentialRequest, ZoneId=zone, CredentialId=key))
        after = client.ListSCIMCredentials(request(models.ListSCIMCredentialsRequest, ZoneId=zone))
        checks.check("delete removes the keys", after.TotalCounts == 0, after.to_json_string())
        checks.expect_error("deleting again is InvalidParameter.ScimCredentialNotFound",
                            "InvalidParameter.ScimCredentialNotFound",
                            lambda: client.DeleteSCIMCredential(request(models.DeleteSCIMCredentialRequest,
                                                                        ZoneId=zone, CredentialId=second.CredentialId)))

        wrong = client_for(emulator, tencent["secretId"], "not-the-secret-key")
        checks.expect_error("wrong secret is AuthFailure.SignatureFailure", "AuthFailure.SignatureFailure",
                            lambda: wrong.ListSCIMCredentials(request(models.ListSCIMCredentialsRequest, ZoneId=zone)))

        unknown_id = client_for(emulator, "AKIDunknown0000000000000000000000000", tencent["secretKey"])
        checks.expect_error("unknown SecretId is AuthFailure.SecretIdNotFound", "AuthFailure.SecretIdNotFound",
                            lambda: unknown_id.ListSCIMCredentials(request(models.ListSCIMCredentialsRequest, ZoneId=zone)))

        stale = time.time() - 600
        with mock.patch("tencentcloud.common.abstract_client.time.time", return_value=stale):
            checks.expect_error("a 10-minute-old timestamp is AuthFailure.SignatureExpire", "AuthFailure.SignatureExpire",
                                lambda: client.ListSCIMCredentials(request(models.ListSCIMCredentialsRequest, ZoneId=zone)))

        checks.expect_error("unknown zone is FailedOperation.ZoneIdNotExist", "FailedOperation.ZoneIdNotExist",
                            lambda: client.ListSCIMCredentials(request(models.ListSCIMCredentialsRequest,
                                                                       ZoneId="z-000000000000")))
    checks.finish()


if __name__ == "__main__":
    main(sys.argv[1])
