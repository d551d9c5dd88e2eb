#!/usr/bin/python3
"""Stand-ins for the push vendors, for end-to-end tests and bench/push_bench.sh.

One process serves:
  * HTTP/2 over TLS (ALPN h2): APNs (/3/device/<token>) and FCM
    (/v1/projects/<project>/messages:send);
  * HTTP/1.1 over TLS: FCM's OAuth2 token endpoint (/token), Huawei
    (/oauth2/v3/token, /v1/<app>/messages:send), Honor (/auth/token,
    /api/v1/<app>/sendMessage), Xiaomi (/v3/message/regid), OPPO
    (/server/v1/auth, /server/v1/message/notification/unicast) and vivo
    (/message/auth, /message/send);
  * plain HTTP on loopback for the test to drive it: GET /received (every
    request accepted or refused, as JSON), POST /mode ({"vendor": ...,
    "status": 503, "seconds": 60} answers that status for that long;
    {"invalid": [tokens]} makes tokens invalid), POST /reset.

It checks what the real vendors check: the APNs provider token's ES256
signature against the app's key, its kid and iss, or (with no token) a
client certificate its own "Apple" CA issued for the topic (written to
<out>/apns_client.crt and .key for the tests' certificate credential),
apns-topic and the apns-* headers; FCM's RS256 assertion against the service account's key
and the bearer tokens it issued; each Android vendor's secret or signature.
A request that fails a check is answered as the vendor would (403
InvalidProviderToken, 401, a vendor code) and recorded with accepted false.

It makes its own self-signed certificate for 127.0.0.1 and writes it, with
the ports, where --out says: <out>/ca.crt and <out>/ports.json.

Usage: push_vendors.py --config CONFIG.json --out DIR
CONFIG: {"apns": {"key_file", "key_id", "team_id", "topic"},
         "fcm": {"key_file", "project_id", "client_email"},
         "huawei": {"app_id", "secret"}, "honor": {"app_id", "secret"},
         "xiaomi": {"secret", "package"}, "oppo": {"app_key", "master_secret"},
         "vivo": {"app_id", "app_key", "app_secret"}}
Needs Debian's python3-h2 and python3-cryptography.
"""
import argparse
import base64
import datetime
import hashlib
import http.server
import ipaddress
import json
import os
import socket
import socketserver
import ssl
import threading
import time
import urllib.parse

import h2.config
import h2.connection
import h2.events
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils
from cryptography.x509.oid import NameOID

LOCK = threading.Lock()
RECEIVED = []
MODES = {}  # vendor -> (status, until)
INVALID = set()
ISSUED = set()  # bearer tokens handed out
CONFIG = {}
KEYS = {}


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def record(vendor, path, headers, body, accepted, status, token=""):
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = dict(urllib.parse.parse_qsl(body))
    with LOCK:
        RECEIVED.append({"vendor": vendor, "path": path, "headers": headers, "body": parsed,
                         "accepted": accepted, "status": status, "token": token,
                         "time": time.time()})


def forced_status(vendor):
    with LOCK:
        mode = MODES.get(vendor)
    if mode and time.time() < mode[1]:
        return mode[0]
    return None


VERIFIED = {}  # token -> (header, claims): each provider token is checked once, as APNs does


def verify_jwt(token, alg, public_key):
    """The JWT's header and claims when its signature holds, else None."""
    cached = VERIFIED.get((token, alg))
    if cached:
        return cached
    try:
        header_b64, claims_b64, sig_b64 = token.split(".")
        header = json.loads(b64url_decode(header_b64))
        claims = json.loads(b64url_decode(claims_b64))
        signature = b64url_decode(sig_b64)
        signed = (header_b64 + "." + claims_b64).encode()
        if header.get("alg") != alg:
            return None
        if alg == "ES256":
            if len(signature) != 64:
                return None
            der = utils.encode_dss_signature(int.from_bytes(signature[:32], "big"),
                                             int.from_bytes(signature[32:], "big"))
            public_key.verify(der, signed, ec.ECDSA(hashes.SHA256()))
        else:
            public_key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
        if len(VERIFIED) < 10000:
            VERIFIED[(token, alg)] = (header, claims)
        return header, claims
    except (ValueError, InvalidSignature, KeyError):
        return None


# ------------------------------------------------------------------ HTTP/2

def handle_h2(path, headers, body, peer):
    """(status, response headers, body) for an HTTP/2 request; `peer` is the
    verified client certificate's common name ("" without one)."""
    if path.startswith("/3/device/"):
        return apns(path, headers, body, peer)
    if path.startswith("/v1/projects/") and path.endswith("/messages:send"):
        return fcm_send(path, headers, body)
    return 404, {}, b'{"reason":"NotFound"}'


def apns(path, headers, body, peer):
    token = path[len("/3/device/"):]
    cfg = CONFIG["apns"]
    forced = forced_status("apns")
    if forced:
        record("apns", path, headers, body, False, forced, token)
        return forced, {"retry-after": "1"}, json.dumps({"reason": "ServiceUnavailable"}).encode()
    auth = headers.get("authorization", "")
    reason = None
    if not auth:
        # Certificate authentication: a client certificate the stand-in's
        # "Apple" CA issued for the topic, checked in the TLS handshake.
        headers["x-client-certificate"] = peer
        if peer != "Apple Push Services: " + cfg["topic"]:
            reason, status = "MissingProviderToken", 403
        checked = None
    else:
        checked = verify_jwt(auth[len("bearer "):], "ES256", KEYS["apns"]) if auth.startswith("bearer ") else None
    if reason:
        pass
    elif auth and (checked is None or checked[0].get("kid") != cfg["key_id"] or
                   checked[1].get("iss") != cfg["team_id"]):
        reason, status = "InvalidProviderToken", 403
    elif checked is not None and abs(time.time() - checked[1].get("iat", 0)) > 3600:
        reason, status = "ExpiredProviderToken", 403
    elif headers.get("apns-topic") != cfg["topic"]:
        reason, status = "BadTopic", 400
    elif headers.get("apns-push-type") not in ("alert", "background"):
        reason, status = "InvalidPushType", 400
    elif headers.get("apns-priority") not in (None, "5", "10"):
        reason, status = "BadPriority", 400
    elif token in INVALID:
        reason, status = "Unregistered", 410
    else:
        try:
            payload = json.loads(body)
            if "aps" not in payload:
                reason, status = "PayloadEmpty", 400
        except ValueError:
            reason, status = "PayloadEmpty", 400
    if reason:
        record("apns", path, headers, body, False, status, token)
        return status, {}, json.dumps({"reason": reason}).encode()
    record("apns", path, headers, body, True, 200, token)
    return 200, {"apns-id": "00000000-0000-0000-0000-%012d" % len(RECEIVED)}, b""


def fcm_send(path, headers, body):
    forced = forced_status("fcm")
    if forced:
        record("fcm", path, headers, body, False, forced)
        return forced, {"retry-after": "1"}, b'{"error":{"code":503,"status":"UNAVAILABLE"}}'
    auth = headers.get("authorization", "")
    with LOCK:
        issued = auth.startswith("Bearer ") and auth[len("Bearer "):] in ISSUED
    if not issued or path != "/v1/projects/%s/messages:send" % CONFIG["fcm"]["project_id"]:
        record("fcm", path, headers, body, False, 401)
        return 401, {}, b'{"error":{"code":401,"status":"UNAUTHENTICATED"}}'
    try:
        token = json.loads(body)["message"]["token"]
    except (ValueError, KeyError, TypeError):
        record("fcm", path, headers, body, False, 400)
        return 400, {}, b'{"error":{"code":400,"status":"INVALID_ARGUMENT"}}'
    if token in INVALID:
        record("fcm", path, headers, body, False, 404, token)
        error = {"error": {"code": 404, "status": "NOT_FOUND", "details": [
            {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
             "errorCode": "UNREGISTERED"}]}}
        return 404, {}, json.dumps(error).encode()
    record("fcm", path, headers, body, True, 200, token)
    return 200, {}, json.dumps({"name": "projects/p/messages/%d" % len(RECEIVED)}).encode()


class H2Handler(socketserver.BaseRequestHandler):
    def handle(self):
        conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False))
        conn.initiate_connection()
        self.request.sendall(conn.data_to_send())
        streams = {}
        peer = ""
        for field in (self.request.getpeercert() or {}).get("subject", ()):
            for name, value in field:
                if name == "commonName":
                    peer = value
        while True:
            try:
                data = self.request.recv(65536)
            except (OSError, ssl.SSLError):
                return
            if not data:
                return
            try:
                events = conn.receive_data(data)
            except Exception:  # a protocol error ends the connection
                return
            for event in events:
                if isinstance(event, h2.events.RequestReceived):
                    streams[event.stream_id] = [dict((k.decode() if isinstance(k, bytes) else k,
                                                      v.decode() if isinstance(v, bytes) else v)
                                                     for k, v in event.headers), b""]
                elif isinstance(event, h2.events.DataReceived):
                    streams[event.stream_id][1] += event.data
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamEnded):
                    headers, body = streams.pop(event.stream_id)
                    status, extra, answer = handle_h2(headers.get(":path", ""), headers,
                                                      body.decode("utf-8", "replace"), peer)
                    response = [(":status", str(status)), ("content-length", str(len(answer)))]
                    response += list(extra.items())
                    conn.send_headers(event.stream_id, response, end_stream=not answer)
                    if answer:
                        conn.send_data(event.stream_id, answer, end_stream=True)
            out = conn.data_to_send()
            if out:
                self.request.sendall(out)


# ------------------------------------------------------------------ HTTP/1.1

def issue(prefix):
    token = "%s-%d-%d" % (prefix, os.getpid(), len(ISSUED))
    with LOCK:
        ISSUED.add(token)
    return token


def handle_h1(path, headers, body):
    form = dict(urllib.parse.parse_qsl(body))
    try:
        js = json.loads(body) if body.startswith("{") else {}
    except ValueError:
        js = {}
    bearer = headers.get("authorization", "")
    with LOCK:
        bearer_ok = bearer.startswith("Bearer ") and bearer[len("Bearer "):] in ISSUED
    if path == "/token":  # FCM's OAuth2 token endpoint (token_uri)
        checked = verify_jwt(form.get("assertion", ""), "RS256", KEYS["fcm"])
        ok = (form.get("grant_type") == "urn:ietf:params:oauth:grant-type:jwt-bearer" and checked
              and checked[1].get("iss") == CONFIG["fcm"]["client_email"]
              and "firebase.messaging" in checked[1].get("scope", ""))
        record("fcm_token", path, headers, body, bool(ok), 200 if ok else 400)
        if not ok:
            return 400, {"error": "invalid_grant"}
        return 200, {"access_token": issue("fcm"), "expires_in": 3599, "token_type": "Bearer"}
    for vendor, auth_path in (("huawei", "/oauth2/v3/token"), ("honor", "/auth/token")):
        if path == auth_path:
            cfg = CONFIG[vendor]
            ok = (form.get("grant_type") == "client_credentials" and form.get("client_id") == cfg["app_id"]
                  and form.get("client_secret") == cfg["secret"])
            record(vendor + "_token", path, headers, body, ok, 200 if ok else 400)
            if not ok:
                return 400, {"error": 1101, "error_description": "invalid client"}
            return 200, {"access_token": issue(vendor), "expires_in": 3600, "token_type": "Bearer"}
    if path.startswith("/v1/") and path.endswith("/messages:send"):
        return android_send("huawei", path, headers, body, bearer_ok,
                            path == "/v1/%s/messages:send" % CONFIG["huawei"]["app_id"],
                            lambda: js["message"]["token"][0],
                            {"code": "80000000", "msg": "Success"},
                            {"code": "80300007", "msg": "All the tokens are invalid"},
                            {"code": "80200003", "msg": "OAuth token expired"})
    if path.startswith("/api/v1/") and path.endswith("/sendMessage"):
        return android_send("honor", path, headers, body, bearer_ok,
                            path == "/api/v1/%s/sendMessage" % CONFIG["honor"]["app_id"],
                            lambda: js["token"][0], {"code": 200, "message": "success"},
                            {"code": 80300007, "message": "invalid token"},
                            {"code": 80200003, "message": "token expired"})
    if path == "/v3/message/regid":
        ok = headers.get("authorization") == "key=" + CONFIG["xiaomi"]["secret"] and \
            form.get("restricted_package_name") == CONFIG["xiaomi"]["package"]
        return android_send("xiaomi", path, headers, body, ok, True,
                            lambda: form["registration_id"], {"result": "ok", "code": 0},
                            {"result": "error", "code": 20301}, {"result": "error", "code": 22000})
    if path == "/server/v1/auth":
        cfg = CONFIG["oppo"]
        expect = hashlib.sha256((cfg["app_key"] + form.get("timestamp", "") + cfg["master_secret"]).encode()).hexdigest()
        ok = form.get("app_key") == cfg["app_key"] and form.get("sign") == expect
        record("oppo_token", path, headers, body, ok, 200)
        if not ok:
            return 200, {"code": 14, "message": "Invalid Sign"}
        return 200, {"code": 0, "data": {"auth_token": issue("oppo"), "create_time": int(time.time() * 1000)}}
    if path == "/server/v1/message/notification/unicast":
        with LOCK:
            ok = headers.get("auth_token") in ISSUED
        message = json.loads(form.get("message", "{}") or "{}")
        return android_send("oppo", path, headers, body, ok, True, lambda: message["target_value"],
                            {"code": 0, "data": {"messageId": "1"}}, {"code": 10000},
                            {"code": 11, "message": "Invalid AuthToken"})
    if path == "/message/auth":
        cfg = CONFIG["vivo"]
        expect = hashlib.md5((cfg["app_id"] + cfg["app_key"] + str(js.get("timestamp", "")) +
                              cfg["app_secret"]).encode()).hexdigest()
        ok = js.get("appId") == cfg["app_id"] and js.get("sign") == expect
        record("vivo_token", path, headers, body, ok, 200)
        if not ok:
            return 200, {"result": 10200, "desc": "sign error"}
        return 200, {"result": 0, "authToken": issue("vivo")}
    if path == "/message/send":
        with LOCK:
            ok = headers.get("authtoken") in ISSUED
        return android_send("vivo", path, headers, body, ok, True, lambda: js["regId"],
                            {"result": 0, "taskId": "1"}, {"result": 10302},
                            {"result": 10000, "desc": "authToken expired"})
    return 404, {"error": "no such path"}


def android_send(vendor, path, headers, body, auth_ok, path_ok, token_of, ok, invalid, unauth):
    forced = forced_status(vendor)
    if forced:
        record(vendor, path, headers, body, False, forced)
        return forced, {"error": "unavailable"}
    try:
        token = token_of()
    except (KeyError, IndexError, TypeError):
        token = ""
    if not auth_ok or not path_ok:
        record(vendor, path, headers, body, False, 401, token)
        return 401 if vendor in ("huawei", "honor") else 200, unauth
    if token in INVALID:
        record(vendor, path, headers, body, False, 200, token)
        return 200, invalid
    record(vendor, path, headers, body, True, 200, token)
    return 200, ok


class H1Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length).decode("utf-8", "replace")
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, answer = handle_h1(urllib.parse.urlparse(self.path).path, headers, body)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class ControlHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, value):
        data = json.dumps(value).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        with LOCK:
            if self.path.startswith("/count"):
                self.answer({"accepted": sum(1 for r in RECEIVED if r["accepted"]), "all": len(RECEIVED)})
            else:
                self.answer(RECEIVED)

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        with LOCK:
            if self.path == "/reset":
                RECEIVED.clear()
                MODES.clear()
                INVALID.clear()
            elif self.path == "/mode":
                if "vendor" in body:
                    MODES[body["vendor"]] = (body.get("status", 503), time.time() + body.get("seconds", 60))
                INVALID.update(body.get("invalid", []))
        self.answer({})


class ThreadingServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_certificate(out):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "parley push stand-in")])
    now = datetime.datetime.utcnow()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path = os.path.join(out, "ca.crt")
    key_path = os.path.join(out, "standin.key")
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def make_client_certificate(out, topic):
    """An "Apple" CA and the APNs client certificate it issued for `topic`
    (<out>/apns_client.crt and .key, for a certificate credential); returns
    the CA's path, which the HTTP/2 port verifies client certificates with."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stand-in Apple push CA")])
    now = datetime.datetime.utcnow()
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Apple Push Services: " + topic),
                      x509.NameAttribute(NameOID.USER_ID, topic)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(ca_name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .sign(ca_key, hashes.SHA256()))
    with open(os.path.join(out, "apns_client.key"), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(os.path.join(out, "apns_client.crt"), "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    ca_path = os.path.join(out, "apple_ca.crt")
    with open(ca_path, "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    return ca_path


def tls_server(handler, cert, key, alpn, client_ca=None):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.set_alpn_protocols(alpn)
    if client_ca:  # a client certificate is asked for, and checked when given
        context.verify_mode = ssl.CERT_OPTIONAL
        context.load_verify_locations(client_ca)

    class Server(ThreadingServer):
        def get_request(self):
            sock, addr = super().get_request()
            return context.wrap_socket(sock, server_side=True), addr

    return Server(("127.0.0.1", 0), handler)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    CONFIG.update(json.load(open(args.config)))
    with open(CONFIG["apns"]["key_file"], "rb") as f:
        KEYS["apns"] = serialization.load_pem_private_key(f.read(), None).public_key()
    with open(CONFIG["fcm"]["key_file"], "rb") as f:
        KEYS["fcm"] = serialization.load_pem_private_key(f.read(), None).public_key()
    os.makedirs(args.out, exist_ok=True)
    cert, key = make_certificate(args.out)
    client_ca = make_client_certificate(args.out, CONFIG["apns"]["topic"])
    servers = {"h2": tls_server(H2Handler, cert, key, ["h2"], client_ca),
               "h1": tls_server(H1Handler, cert, key, ["http/1.1"]),
               "control": ThreadingServer(("127.0.0.1", 0), ControlHandler)}
    for server in servers.values():
        threading.Thread(target=server.serve_forever, daemon=True).start()
    ports = {name: server.server_address[1] for name, server in servers.items()}
    tmp = os.path.join(args.out, "ports.json.tmp")
    with open(tmp, "w") as f:
        json.dump(ports, f)
    os.rename(tmp, os.path.join(args.out, "ports.json"))
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
