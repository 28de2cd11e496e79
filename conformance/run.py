#!/usr/bin/env python3
"""Conformance: Microsoft's own Python clients (msgraph-sdk, msgraph-core, azure-identity and MSAL, pinned in
conformance/requirements.txt) against `authctl emulator --tls`, with nothing changed but the base URL, the
authority and trusting the emulator's certificate (SSL_CERT_FILE / REQUESTS_CA_BUNDLE). `disable_instance_discovery`
is the one credential option a non-Microsoft authority needs (MSAL would otherwise ask login.microsoftonline.com).

    run.py AUTHCTL_BINARY TENANT_YAML

Each check prints `ok NAME` or `FAIL NAME: why`; the exit code is the number of failures. Run by .ci/run.
"""

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
KEYS = REPO / "examples" / "emulator-keys"
TENANT_ID = "9b1e2f4a-6c3d-4e8f-a1b2-c3d4e5f6a7b8"
RW_APP = "5a1e0c3d-7b2f-4e6a-9c8d-1f2e3a4b5c6d"
RW_SECRET = "emulator-rw-secret"
CERT_APP = "7c3a2e5f-9d4b-4a8c-1e0f-3b4c5d6e7f80"
FED_APP = "8d4b3f6a-0e5c-4b9d-2f1a-4c5d6e7f8091"
ADMIN = "admin@contoso.com"
ADMIN_PASSWORD = "Admin-Passw0rd!"
SCOPE = "https://graph.microsoft.com/.default"
PASSWORD_METHOD = "28c10230-6103-485e-b985-444c60001490"


def start_emulator(binary: str, tenant: str, workdir: Path):
    state = workdir / "tenant.yaml"
    state.write_text(Path(tenant).read_text(encoding="utf-8"), encoding="utf-8")
    cert = workdir / "emulator.pem"
    proc = subprocess.Popen(
        [binary, "emulator", "--state", str(state), "--tls", "--tls-cert-out", str(cert)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    url = proc.stdout.readline().strip()
    if not url.startswith("https://"):
        proc.kill()
        raise SystemExit(f"the emulator printed {url!r}, not an https URL")
    return proc, url, cert


def main() -> int:
    binary, tenant = sys.argv[1], sys.argv[2]
    workdir = Path(tempfile.mkdtemp(prefix="authctl-conformance-"))
    proc, url, cert = start_emulator(binary, tenant, workdir)
    # Trust the emulator's certificate the standard ways: OpenSSL/httpx/aiohttp and requests.
    os.environ["SSL_CERT_FILE"] = str(cert)
    os.environ["REQUESTS_CA_BUNDLE"] = str(cert)
    try:
        return asyncio.run(Suite(url).run())
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class Suite:
    def __init__(self, url: str) -> None:
        self.url = url
        self.failures = 0
        self.passed = 0

    async def check(self, name, coro):
        try:
            await coro
            self.passed += 1
            print(f"ok {name}", flush=True)
        except Exception as e:  # noqa: BLE001 - every failure is reported, then counted
            self.failures += 1
            print(f"FAIL {name}: {e!r}", flush=True)
            traceback.print_exc()

    # ---- clients ----

    def graph(self, credential, scopes=(SCOPE,)):
        from kiota_authentication_azure.azure_identity_authentication_provider import (
            AzureIdentityAuthenticationProvider,
        )
        from msgraph import GraphRequestAdapter, GraphServiceClient

        auth = AzureIdentityAuthenticationProvider(credential, scopes=list(scopes))
        adapter = GraphRequestAdapter(auth)
        adapter.base_url = f"{self.url}/v1.0"
        return GraphServiceClient(request_adapter=adapter)

    def creds(self):
        return {"authority": self.url, "disable_instance_discovery": True}

    def approve(self, user_code: str) -> None:
        body = json.dumps({"user_code": user_code, "upn": ADMIN, "password": ADMIN_PASSWORD}).encode()
        req = urllib.request.Request(
            f"{self.url}/_emulator/device/approve", data=body, method="POST",
            headers={"Content-Type": "application/json"},
        )
        import ssl

        ctx = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
        with urllib.request.urlopen(req, context=ctx) as r:
            assert r.status == 204, r.status

    def device_code_credential(self):
        # azure-identity has DeviceCodeCredential in its sync form only; kiota awaits either.
        from azure.identity import DeviceCodeCredential

        def prompt(verification_uri, user_code, expires_on):  # noqa: ARG001
            assert verification_uri.startswith(self.url), verification_uri
            # The user would open verification_uri; approve from a thread (the credential polls meanwhile).
            threading.Thread(target=self.approve, args=(user_code,), daemon=True).start()

        return DeviceCodeCredential(
            client_id=RW_APP, tenant_id=TENANT_ID, prompt_callback=prompt, **self.creds()
        )

    # ---- checks ----

    async def run(self) -> int:
        await self.check("ClientSecretCredential reads phone methods", self.client_secret())
        await self.check("CertificateCredential (sync) reads a user", self.certificate_sync())
        await self.check("CertificateCredential (async) reads a user", self.certificate_async())
        await self.check("ClientAssertionCredential (federated) reads a user", self.client_assertion())
        await self.check("delegated walkthrough (device code)", self.walkthrough())
        await self.check("$batch through msgraph-core", self.batch())
        await self.check("PageIterator follows nextLink", self.paging())
        await self.check("ODataError carries code and request-id", self.odata_error())
        print(f"conformance: {self.passed} passed, {self.failures} failed", flush=True)
        return self.failures

    async def client_secret(self):
        from azure.identity.aio import ClientSecretCredential

        async with ClientSecretCredential(TENANT_ID, RW_APP, RW_SECRET, **self.creds()) as cred:
            r = await self.graph(cred).users.by_user_id("AdeleV@contoso.com").authentication.phone_methods.get()
            assert r.value, "Adele has phones"

    async def certificate_sync(self):
        from azure.identity import CertificateCredential

        pem = (KEYS / "cert-app.key.pem").read_bytes() + (KEYS / "cert-app.cert.pem").read_bytes()
        cred = CertificateCredential(TENANT_ID, CERT_APP, certificate_data=pem, **self.creds())
        token = cred.get_token(SCOPE)
        assert token.token.count(".") == 2, token
        u = await self.graph(cred).users.by_user_id("AdeleV@contoso.com").get()
        assert u.id, u

    async def certificate_async(self):
        from azure.identity.aio import CertificateCredential

        pem = (KEYS / "cert-app.key.pem").read_bytes() + (KEYS / "cert-app.cert.pem").read_bytes()
        async with CertificateCredential(TENANT_ID, CERT_APP, certificate_data=pem, **self.creds()) as cred:
            u = await self.graph(cred).users.by_user_id("AdeleV@contoso.com").get()
            assert u.user_principal_name.lower() == "adelev@contoso.com", u

    async def client_assertion(self):
        import jwt
        from azure.identity.aio import ClientAssertionCredential

        key = (KEYS / "issuer.key.pem").read_text()

        def assertion():
            now = int(time.time())
            return jwt.encode(
                {
                    "iss": "https://token.actions.githubusercontent.com",
                    "sub": "repo:contoso/authctl-config:environment:prod",
                    "aud": "api://AzureADTokenExchange",
                    "iat": now, "nbf": now, "exp": now + 600, "jti": str(uuid.uuid4()),
                },
                key,
                algorithm="ES256",
            )

        async with ClientAssertionCredential(TENANT_ID, FED_APP, assertion, **self.creds()) as cred:
            u = await self.graph(cred).users.by_user_id("AdeleV@contoso.com").get()
            assert u.id, u

    async def walkthrough(self):
        from kiota_abstractions.base_request_configuration import RequestConfiguration
        from kiota_http.middleware.options.headers_inspection_handler_option import (
            HeadersInspectionHandlerOption,
        )
        from msgraph.generated.models.authentication_phone_type import AuthenticationPhoneType
        from msgraph.generated.models.phone_authentication_method import PhoneAuthenticationMethod
        from msgraph.generated.users.item.authentication.methods.item.reset_password.reset_password_post_request_body import (
            ResetPasswordPostRequestBody,
        )

        cred = self.device_code_credential()
        if True:
            g = self.graph(cred, scopes=("https://graph.microsoft.com/UserAuthenticationMethod.ReadWrite.All",))
            user = g.users.by_user_id("CameronW@contoso.com")
            before = await user.authentication.phone_methods.get()
            assert not before.value, before
            for number, kind in (("+1 2065550142", AuthenticationPhoneType.Mobile),
                                 ("+1 4255550142", AuthenticationPhoneType.Office)):
                created = await user.authentication.phone_methods.post(
                    PhoneAuthenticationMethod(phone_number=number, phone_type=kind)
                )
                assert created.phone_number == number, created
            listed = await user.authentication.phone_methods.get()
            assert len(listed.value) == 2, listed
            office = "e37fc753-ff3b-4958-9484-eaa9425c82bc"
            await user.authentication.phone_methods.by_phone_authentication_method_id(office).delete()
            listed = await user.authentication.phone_methods.get()
            assert [m.phone_type for m in listed.value] == [AuthenticationPhoneType.Mobile], listed
            reset = user.authentication.methods.by_authentication_method_id(PASSWORD_METHOD).reset_password
            for body, generated in ((ResetPasswordPostRequestBody(new_password="Cameron-Passw0rd-2!"), False),
                                    (ResetPasswordPostRequestBody(), True)):
                headers = HeadersInspectionHandlerOption(inspect_response_headers=True)
                answer = await reset.post(body, request_configuration=RequestConfiguration(options=[headers]))
                if generated:
                    assert answer is not None and answer.new_password, answer
                (location,) = headers.response_headers.get("location")
                assert location.startswith(f"{self.url}/v1.0/"), location
                op_id = location.split("?")[0].rstrip("/").rsplit("/", 1)[1]
                for _ in range(10):
                    op = await user.authentication.operations.by_long_running_operation_id(op_id).get()
                    status = op.status.value if hasattr(op.status, "value") else op.status
                    if status in ("succeeded", "failed"):
                        break
                assert status == "succeeded", status

    async def batch(self):
        from azure.identity.aio import ClientSecretCredential
        from kiota_abstractions.method import Method
        from kiota_abstractions.request_information import RequestInformation
        from msgraph_core.requests.batch_request_content import BatchRequestContent
        from msgraph_core.requests.batch_request_item import BatchRequestItem

        async with ClientSecretCredential(TENANT_ID, RW_APP, RW_SECRET, **self.creds()) as cred:
            g = self.graph(cred)
            items = []
            for upn in ("AdeleV@contoso.com", "AlexW@contoso.com", "nobody@contoso.com"):
                info = g.users.by_user_id(upn).authentication.phone_methods.to_get_request_information()
                items.append(BatchRequestItem(request_information=info))
            content = BatchRequestContent({i.id: i for i in items})
            responses = await g.batch.post(batch_request_content=content)
            statuses = sorted(r.status for r in responses.responses.values())
            assert statuses == [200, 200, 404], statuses
            del Method, RequestInformation

    async def paging(self):
        from azure.identity.aio import ClientSecretCredential
        from kiota_abstractions.base_request_configuration import RequestConfiguration
        from msgraph.generated.users.users_request_builder import UsersRequestBuilder
        from msgraph_core.tasks.page_iterator import PageIterator

        async with ClientSecretCredential(TENANT_ID, RW_APP, RW_SECRET, **self.creds()) as cred:
            g = self.graph(cred)
            q = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(top=2, select=["id", "userPrincipalName"])
            first = await g.users.get(request_configuration=RequestConfiguration(query_parameters=q))
            assert first.odata_next_link and first.odata_next_link.startswith(self.url), first.odata_next_link
            seen = []

            def collect(u):
                seen.append(u.user_principal_name)
                return True

            it = PageIterator(first, g.request_adapter)
            await it.iterate(collect)
            assert len(seen) > 2 and len(seen) == len(set(seen)), seen

    async def odata_error(self):
        from azure.identity.aio import ClientSecretCredential
        from msgraph.generated.models.o_data_errors.o_data_error import ODataError

        async with ClientSecretCredential(TENANT_ID, RW_APP, RW_SECRET, **self.creds()) as cred:
            try:
                await self.graph(cred).users.by_user_id("nobody@contoso.com").get()
            except ODataError as e:
                assert e.response_status_code == 404, e.response_status_code
                assert e.error.code == "Request_ResourceNotFound", e.error.code
                assert e.error.inner_error and e.error.inner_error.request_id, e.error.inner_error
                return
            raise AssertionError("no ODataError")


if __name__ == "__main__":
    sys.exit(main())
