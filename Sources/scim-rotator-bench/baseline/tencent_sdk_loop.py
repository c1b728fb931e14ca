"""The baseline a user would otherwise write: a loop over the official Tencent Cloud SDK that rotates each zone's
SCIM key by hand: list the keys, create one, list again, disable every other enabled key. One zone after another,
each with its own account's credentials.

Usage: python tencent_sdk_loop.py ENDPOINT_HOST:PORT ACCOUNTS.json
ACCOUNTS.json: [{"secretId": ..., "secretKey": ..., "zone": ...}, ...]
Prints one JSON line: {"zones": N, "seconds": elapsed, "errors": E, "calls": C}.
"""

import json
import sys
import time

from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.organization.v20210331 import models, organization_client


def main(endpoint, accounts_file):
    accounts = json.load(open(accounts_file))
    errors = 0
    calls = 0
    start = time.perf_counter()
    for account in accounts:
        http = HttpProfile(endpoint=endpoint, protocol="http", reqTimeout=30)
        client = organization_client.OrganizationClient(
            credential.Credential(account["secretId"], account["secretKey"]), "", ClientProfile(httpProfile=http))
        zone = account["zone"]
        try:
            listing = models.ListSCIMCredentialsRequest()
            listing.ZoneId = zone
            client.ListSCIMCredentials(listing)
            create = models.CreateSCIMCredentialRequest()
            create.ZoneId = zone
            created = client.CreateSCIMCredential(create)
            after = client.ListSCIMCredentials(listing)
            calls += 3
            for key in after.SCIMCredentials:
                if key.CredentialId != created.CredentialId and key.Status == "Enabled":
                    update = models.UpdateSCIMCredentialStatusRequest()
                    update.ZoneId = zone
                    update.CredentialId = key.CredentialId
                    update.NewStatus = "Disabled"
                    client.UpdateSCIMCredentialStatus(update)
                    calls += 1
        except Exception as error:  # the SDK's own exception types
            errors += 1
            print(f"{zone}: {error}", file=sys.stderr)
    print(json.dumps({"zones": len(accounts), "seconds": time.perf_counter() - start, "errors": errors, "calls": calls}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
