"""Authentication, TLS and inbox options (issue 12, observation 8), each against a real
nats-server configured for it: the configuration is written here, per test, with the
keys, JWTs and certificates it needs made here too (``nkeys``, ``cryptography``). A node
with the right settings runs (names in the JetStream registry, an ask through NATS); the
wrong ones are refused by the server with ``TransportUnavailable``. The options'
validation is checked without a server."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nkeys
import pytest
from actors.transport import NatsTransport, TransportUnavailable
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from actors import ActorSystem
from tests.natsutil import NatsServer
from tests.transport.nats_support import TYPES, WAIT, Echo, Ping, Pong, unique_system

# ---------------------------------------------------------------------- helpers


@pytest.fixture
async def make_server(tmp_path: Path) -> AsyncIterator[Any]:
    """``await make_server(config_text)``: a server running that configuration (the
    harness adds host, port and JetStream on the command line)."""
    servers: list[NatsServer] = []

    async def start(config: str) -> NatsServer:
        conf = tmp_path / f"server{len(servers)}.conf"
        conf.write_text(config)
        server = NatsServer(
            name=f"sec{len(servers)}",
            store_dir=tmp_path / f"store{len(servers)}",
            args=["-c", str(conf)],
        )
        servers.append(server)
        await server.start()
        return server

    yield start
    for server in servers:
        await server.aclose()


async def node_works(url: str, **options: Any) -> None:
    """A node with ``options`` starts (connections, subscriptions, registry bucket),
    registers a name and answers an ask sent to it through NATS."""
    transport = NatsTransport([url], types=TYPES, node_id="n1", **options)
    async with ActorSystem(unique_system(), transport=transport) as system:
        await system.spawn(Echo, name="echo")
        assert await transport.named("echo").ask(Ping(1), timeout=WAIT) == Pong(2)
        assert await system.lookup("echo") is not None


async def node_refused(url: str, match: str, **options: Any) -> None:
    transport = NatsTransport([url], types=TYPES, node_id="n1", **options)
    with pytest.raises(TransportUnavailable, match=match):
        async with ActorSystem(unique_system(), transport=transport):
            pass


def new_key(prefix: int) -> nkeys.KeyPair:
    return nkeys.from_seed(nkeys.encode_seed(os.urandom(32), prefix))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def jwt(issuer: nkeys.KeyPair, subject: str, name: str, nats: dict[str, Any]) -> str:
    """A NATS JWT (``ed25519-nkey``) for ``subject``, signed by ``issuer``."""
    claims: dict[str, Any] = {
        "iat": int(time.time()),
        "iss": issuer.public_key.decode(),
        "name": name,
        "sub": subject,
        "nats": {**nats, "version": 2},
    }
    digest = hashlib.sha256(json.dumps(claims, sort_keys=True).encode()).digest()
    claims["jti"] = base64.b32encode(digest).decode().rstrip("=")
    header = b64(json.dumps({"typ": "JWT", "alg": "ed25519-nkey"}).encode())
    body = f"{header}.{b64(json.dumps(claims).encode())}"
    return f"{body}.{b64(issuer.sign(body.encode()))}"


def seed_of(key: nkeys.KeyPair) -> str:
    return bytes(key.seed).decode()


# ---------------------------------------------------------------------- user, token, nkey


async def test_user_and_password(make_server: Any) -> None:
    server = await make_server('authorization { user: "app", password: "s3cret-pass" }')
    await node_works(server.url, user="app", password="s3cret-pass")
    await node_refused(server.url, "[Aa]uthorization", user="app", password="wrong")
    await node_refused(server.url, "[Aa]uthorization")


async def test_token(make_server: Any) -> None:
    server = await make_server('authorization { token: "t0ken-of-the-cluster" }')
    await node_works(server.url, token="t0ken-of-the-cluster")
    await node_refused(server.url, "[Aa]uthorization", token="not-it")


async def test_nkeys_seed_file(make_server: Any, tmp_path: Path) -> None:
    user = new_key(nkeys.PREFIX_BYTE_USER)
    server = await make_server(
        f'authorization {{ users = [ {{ nkey: "{user.public_key.decode()}" }} ] }}'
    )
    seed_file = tmp_path / "user.nk"
    seed_file.write_text(seed_of(user))
    await node_works(server.url, nkeys_seed=seed_file)
    stranger = tmp_path / "stranger.nk"
    stranger.write_text(seed_of(new_key(nkeys.PREFIX_BYTE_USER)))
    await node_refused(server.url, "[Aa]uthorization", nkeys_seed=stranger)


async def test_creds_file_with_operator_account_and_user_jwts(
    make_server: Any, tmp_path: Path
) -> None:
    """Decentralized auth: an operator signs the account (JetStream allowed), the
    account signs the user; the server knows the operator and the account (``resolver:
    MEMORY``), the node only its creds file."""
    operator = new_key(nkeys.PREFIX_BYTE_OPERATOR)
    account = new_key(nkeys.PREFIX_BYTE_ACCOUNT)
    system_account = new_key(nkeys.PREFIX_BYTE_ACCOUNT)
    user = new_key(nkeys.PREFIX_BYTE_USER)
    op_pub, acc_pub, sys_pub = (k.public_key.decode() for k in (operator, account, system_account))
    unlimited = {
        "subs": -1,
        "data": -1,
        "payload": -1,
        "imports": -1,
        "exports": -1,
        "wildcards": True,
        "conn": -1,
        "leaf": -1,
    }
    jetstream = {"mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1}
    operator_jwt = jwt(operator, op_pub, "op", {"type": "operator", "system_account": sys_pub})
    account_jwt = jwt(
        operator,
        acc_pub,
        "app",
        {
            "type": "account",
            "limits": {**unlimited, **jetstream},
        },
    )
    system_jwt = jwt(operator, sys_pub, "SYS", {"type": "account", "limits": unlimited})
    user_jwt = jwt(
        account,
        user.public_key.decode(),
        "node",
        {
            "type": "user",
            "pub": {},
            "sub": {},
            "subs": -1,
            "data": -1,
            "payload": -1,
        },
    )
    server = await make_server(
        f'operator: "{operator_jwt}"\n'
        f'system_account: "{sys_pub}"\n'
        "resolver: MEMORY\n"
        f'resolver_preload: {{ {acc_pub}: "{account_jwt}", {sys_pub}: "{system_jwt}" }}\n'
    )
    creds = tmp_path / "node.creds"
    creds.write_text(
        "-----BEGIN NATS USER JWT-----\n"
        f"{user_jwt}\n"
        "------END NATS USER JWT------\n\n"
        "-----BEGIN USER NKEY SEED-----\n"
        f"{seed_of(user)}\n"
        "------END USER NKEY SEED------\n"
    )
    await node_works(server.url, creds=creds)
    outsider = new_key(nkeys.PREFIX_BYTE_ACCOUNT)  # an account the operator never signed
    forged_jwt = jwt(outsider, user.public_key.decode(), "node", {"type": "user"})
    forged = tmp_path / "forged.creds"
    forged.write_text(creds.read_text().replace(user_jwt, forged_jwt))
    await node_refused(server.url, "[Aa]uthorization", creds=forged)


# ---------------------------------------------------------------------- TLS


class Pki:
    """A CA, a server certificate for ``nats.test`` only (not 127.0.0.1, so the client
    must be told the name), and a client certificate, as PEM files."""

    def __init__(self, root: Path) -> None:
        self.root = root
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "actors test CA")])
        self.ca = self._write(
            "ca.pem", self._cert(ca_name, ca_key.public_key(), ca_key, ca_name, ca=True)
        )
        self.server_cert, self.server_key = self._leaf("server", ca_key, ca_name, "nats.test")
        self.client_cert, self.client_key = self._leaf("client", ca_key, ca_name, None)

    def _leaf(
        self, name: str, ca_key: ec.EllipticCurvePrivateKey, ca_name: x509.Name, dns: str | None
    ) -> tuple[Path, Path]:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns or name)])
        cert = self._cert(subject, key.public_key(), ca_key, ca_name, ca=False, dns=dns)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return self._write(f"{name}.pem", cert), self._write(f"{name}-key.pem", key_pem)

    @staticmethod
    def _cert(
        subject: x509.Name,
        public_key: ec.EllipticCurvePublicKey,
        signer: ec.EllipticCurvePrivateKey,
        issuer: x509.Name,
        *,
        ca: bool,
        dns: str | None = None,
    ) -> bytes:
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            # Python 3.13 verifies strictly (VERIFY_X509_STRICT): a certificate must
            # name the key that signed it.
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),
                critical=False,
            )
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            ).add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        if dns is not None:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False
            )
        return builder.sign(signer, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)

    def _write(self, name: str, data: bytes) -> Path:
        path = self.root / name
        path.write_bytes(data)
        return path


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    root = tmp_path / "pki"
    root.mkdir()
    return Pki(root)


async def test_tls_with_ca_client_certificate_and_server_name(make_server: Any, pki: Pki) -> None:
    server = await make_server(
        "tls {\n"
        f'  cert_file: "{pki.server_cert}"\n'
        f'  key_file: "{pki.server_key}"\n'
        f'  ca_file: "{pki.ca}"\n'
        "  verify: true\n"  # a client certificate signed by the CA is required
        "}\n"
    )
    url = server.url
    good = {
        "tls_ca": pki.ca,
        "tls_cert": pki.client_cert,
        "tls_key": pki.client_key,
        "tls_server_name": "nats.test",
    }
    await node_works(url, **good)
    # The server requires a client certificate.
    await node_refused(url, "cannot connect", tls_ca=pki.ca, tls_server_name="nats.test")


async def test_a_server_certificate_the_client_refuses_fails_the_start(
    make_server: Any, pki: Pki
) -> None:
    """nats-py 2.16 never returns from a first connect whose TLS handshake the client
    refuses: the transport bounds it, so the system fails to start (fail fast)."""
    server = await make_server(
        f'tls {{\n  cert_file: "{pki.server_cert}"\n  key_file: "{pki.server_key}"\n}}\n'
    )
    # The certificate is for nats.test: a client expecting another name refuses it.
    await node_refused(
        server.url,
        "cannot connect",
        tls_ca=pki.ca,
        tls_server_name="other.test",
        connect_timeout=0.5,
    )


async def test_tls_with_an_ssl_context_of_ones_own(make_server: Any, pki: Pki) -> None:
    server = await make_server(
        f'tls {{ cert_file: "{pki.server_cert}", key_file: "{pki.server_key}" }}'
    )
    context = ssl.create_default_context(cafile=str(pki.ca))
    await node_works(server.url, tls=context, tls_server_name="nats.test")


# ---------------------------------------------------------------------- inbox prefix


async def test_inbox_prefix_lets_permissions_give_each_node_its_own_inboxes(
    make_server: Any,
) -> None:
    """The node may subscribe to ``_INBOX_n1.>`` only (not ``_INBOX.>``, where it could
    read every client's answers): with ``inbox_prefix`` its requests (JetStream API,
    probes) are answered there."""
    server = await make_server(
        "authorization { users = [ { user: n1, password: pw-n1, permissions: {\n"
        '  publish: { allow: [">"] }\n'
        '  subscribe: { allow: ["actors.>", "_INBOX_n1.>"] }\n'
        "} } ] }\n"
    )
    await node_works(server.url, user="n1", password="pw-n1", inbox_prefix="_INBOX_n1")
    transport = NatsTransport(
        [server.url], node_id="n1", user="n1", password="pw-n1", inbox_prefix="_INBOX_n1"
    )
    async with ActorSystem(unique_system(), transport=transport):
        reply = await transport.node.data.request("$JS.API.INFO", b"", timeout=WAIT)
        assert reply.subject.startswith("_INBOX_n1.")


# ---------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"user": "app"}, ValueError, "user and password go together"),
        ({"password": "pw"}, ValueError, "user and password go together"),
        ({"user": "a", "password": "b", "token": "t"}, ValueError, "one way to authenticate"),
        ({"token": ""}, ValueError, "token must not be empty"),
        ({"nkeys_seed": "/no/such/seed.nk"}, FileNotFoundError, "nkeys_seed: no file"),
        ({"nkeys_seed": "SU" + "A" * 56}, ValueError, "path of a file holding the seed"),
        ({"creds": "/no/such.creds"}, FileNotFoundError, "creds: no file"),
        ({"tls_ca": "/no/ca.pem"}, FileNotFoundError, "tls_ca: no file"),
        ({"tls_cert": "/no/c.pem"}, ValueError, "tls_cert and tls_key go together"),
        ({"tls": ssl.create_default_context(), "tls_ca": "x"}, ValueError, "either tls"),
        ({"tls": "yes"}, TypeError, "tls must be an ssl.SSLContext"),
        ({"tls_server_name": "two words"}, ValueError, "tls_server_name must be a host"),
        ({"inbox_prefix": "_INBOX.*"}, ValueError, "inbox_prefix must be"),
        ({"inbox_prefix": "a..b"}, ValueError, "inbox_prefix must be"),
        ({"inbox_prefix": ""}, ValueError, "inbox_prefix must be"),
    ],
)
def test_bad_options_refused_naming_the_option(
    options: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        NatsTransport(**options)


def test_creds_and_nkeys_seed_together_refused(tmp_path: Path) -> None:
    file = tmp_path / "f"
    file.write_text("x")
    with pytest.raises(ValueError, match="one way to authenticate, got nkeys_seed and creds"):
        NatsTransport(nkeys_seed=file, creds=file)


def test_tls_files_that_are_not_pem_refused(tmp_path: Path, pki: Pki) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(ValueError, match=r"tls_ca: .* no usable CA certificate"):
        NatsTransport(tls_ca=junk)
    with pytest.raises(ValueError, match=r"tls_cert/tls_key: .* not a certificate"):
        NatsTransport(tls_cert=pki.client_cert, tls_key=junk)
