"""Drives `scim-rotator emulator` with the official Volcano Engine SDK (volcenginesdk-cloudidentity).

Usage: python volcengine_sdk.py PATH/TO/scim-rotator

CLOUDIDENTITYApi signs with the SDK's own HMAC-SHA256 signer (and signs its X-Sdk-* headers too): if the emulator's
verification, envelope, error shapes or status codes drift from what the SDK expects, these calls fail. Checks:
create -> list -> delete, the limit, a wrong secret rejected, the last key's deletion refused, a session token.
"""

import json
import sys

import volcenginesdkcloudidentity as ci
import volcenginesdkcore
from emulator_process import Checks, EmulatorProcess
from volcenginesdkcore.rest import ApiException


def api_for(emulator, access_key, secret_key, token=None, region="cn-beijing"):
    config = volcenginesdkcore.Configuration()
    config.scheme = "http"
    config.host = emulator.hostport
    config.ak = access_key
    config.sk = secret_key
    config.region = region
    if token:
        config.session_token = token
    # A refused request is not retried anyway (4xx); keep a 5xx from being resent four times.
    config.auto_retry = False
    return ci.CLOUDIDENTITYApi(volcenginesdkcore.ApiClient(config))


def error_code(error):
    """The ResponseMetadata.Error.Code of an ApiException (the SDK keeps the raw body), or None."""
    if not isinstance(error, ApiException) or not error.body:
        return None
    try:
        return (json.loads(error.body).get("ResponseMetadata") or {}).get("Error", {}).get("Code")
    except ValueError:
        return None


def expect_error(checks, name, code, status, call):
    try:
        call()
    except Exception as error:  # noqa: BLE001 - whatever the SDK raised
        got = error_code(error)
        checks.check(name, got == code and getattr(error, "status", None) == status,
                     f"(got {got!r}, HTTP {getattr(error, 'status', None)}: {error})")
        return
    checks.check(name, False, f"(no error; expected {code})")


def main(binary):
    checks = Checks("volcengine-sdk-interop")
    with EmulatorProcess(binary) as emulator:
        volc = emulator.info["volcengine"]
        checks.check("the start-up line names the account and its access key",
                     bool(volc["account"]) and bool(volc["accessKey"]) and bool(volc["secretKey"]))
        api = api_for(emulator, volc["accessKey"], volc["secretKey"])

        created = api.create_scim_server_credential(ci.CreateSCIMServerCredentialRequest())
        checks.check("create returns an Enabled BearerToken with its secret",
                     created.status == "Enabled" and created.credential_type == "BearerToken"
                     and bool(created.credential_secret) and created.credential_id.isdigit())
        checks.check("times are RFC 3339 with an offset", created.created_time.endswith("+08:00")
                     and "T" in created.created_time)
        checks.check("validity is one year", int(created.expire_time[:4]) == int(created.created_time[:4]) + 1)
        metadata = created._metadata
        checks.check("the envelope's ResponseMetadata is read", metadata is not None
                     and metadata.action == "CreateSCIMServerCredential" and metadata.version == "2023-01-01"
                     and metadata.service == "cloudidentity" and metadata.region == "cn-beijing"
                     and bool(metadata.request_id))

        listed = api.list_scim_server_credentials(ci.ListSCIMServerCredentialsRequest())
        ids = [c.credential_id for c in listed.scim_server_credentials]
        checks.check("list shows the credential, never its secret",
                     ids == [created.credential_id] and "credential_secret" not in json.dumps(listed.to_dict()))

        second = api.create_scim_server_credential(ci.CreateSCIMServerCredentialRequest())
        expect_error(checks, "a third credential hits the (configurable) limit", "SCIMServerCredentialLimitExceeded",
                     400, lambda: api.create_scim_server_credential(ci.CreateSCIMServerCredentialRequest()))

        deleted = api.delete_scim_server_credential(
            ci.DeleteSCIMServerCredentialRequest(credential_id=created.credential_id))
        checks.check("delete returns an empty Result", deleted == {})
        after = api.list_scim_server_credentials(ci.ListSCIMServerCredentialsRequest())
        checks.check("delete removes the credential",
                     [c.credential_id for c in after.scim_server_credentials] == [second.credential_id])
        expect_error(checks, "the last credential's deletion is refused (SCIMTokenDeletionConflict, HTTP 400)",
                     "SCIMTokenDeletionConflict", 400,
                     lambda: api.delete_scim_server_credential(
                         ci.DeleteSCIMServerCredentialRequest(credential_id=second.credential_id)))

        wrong = api_for(emulator, volc["accessKey"], "not-the-secret")
        expect_error(checks, "a wrong secret is SignatureDoesNotMatch (HTTP 401)", "SignatureDoesNotMatch", 401,
                     lambda: wrong.list_scim_server_credentials(ci.ListSCIMServerCredentialsRequest()))
        unknown = api_for(emulator, "AKLTnotAnAccessKey000000000000000000000", volc["secretKey"])
        expect_error(checks, "an unknown access key is InvalidAccessKey (HTTP 401)", "InvalidAccessKey", 401,
                     lambda: unknown.list_scim_server_credentials(ci.ListSCIMServerCredentialsRequest()))

        # Temporary credentials: an account whose requests must carry (and sign) X-Security-Token.
        temp = emulator.admin("POST", "/accounts", {"provider": "volcengine", "token": "STS-session-token-example",
                                                    "zones": [volc["account"]]})
        with_token = api_for(emulator, temp["accessKeyId"], temp["accessKeySecret"], "STS-session-token-example",
                             region="ap-southeast-1")
        listed = with_token.list_scim_server_credentials(ci.ListSCIMServerCredentialsRequest())
        checks.check("a session token is accepted, signed in another region",
                     [c.credential_id for c in listed.scim_server_credentials] == [second.credential_id])
        without = api_for(emulator, temp["accessKeyId"], temp["accessKeySecret"])
        expect_error(checks, "the same key without its token is InvalidSecretToken", "InvalidSecretToken", 401,
                     lambda: without.list_scim_server_credentials(ci.ListSCIMServerCredentialsRequest()))
    checks.finish()


if __name__ == "__main__":
    main(sys.argv[1])
