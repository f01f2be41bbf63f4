#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into fuzz/corpus/<target>/.

Response bodies come from the model's snapshot tests: the spec's example bodies (the `r#"…"#`
constants of crates/kommo-files-model/tests/endpoints.rs) and the JSON documents of
crates/kommo-files-model/tests/snapshots/*.snap (parsed responses, checkpoints, saved states).
Each seed is in its target's input format (see crates/*/tests/fuzzing/mod.rs).

    python3 fuzz/seed_corpus.py        # from the repository root; idempotent
"""
import hashlib
import json
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODEL = ROOT / "crates/kommo-files-model/tests"
CORPUS = ROOT / "fuzz/corpus"
PARSERS = 17  # parse_response: first byte % 17 picks the parser


def write(target, data):
    if isinstance(data, str):
        data = data.encode()
    directory = CORPUS / target
    directory.mkdir(parents=True, exist_ok=True)
    (directory / hashlib.sha1(data).hexdigest()).write_bytes(data)


def snapshots():
    for path in sorted((MODEL / "snapshots").glob("*.snap")):
        text = path.read_text()
        # An insta snapshot: a `---` header, then the value.
        body = text.split("\n---\n", 1)[1]
        yield path.stem, body


def bodies():
    source = (MODEL / "endpoints.rs").read_text()
    for match in re.finditer(r'r#"(.*?)"#', source, re.S):
        body = match.group(1)
        if body.lstrip().startswith(("{", "[", "<")):
            yield body
    for name, body in snapshots():
        if "__response_" in name:
            yield body


def status_bytes(status):
    # parse_response reads `100 + u16 % 900`.
    value = status - 100
    return bytes([value & 0xFF, value >> 8])


def main():
    for index, body in enumerate(sorted(set(bodies()))):
        for parser in range(PARSERS):
            if (index + parser) % 3:
                continue  # a third of the pairs keeps the corpus small
            write("parse_response", bytes([parser]) + status_bytes(200) + b"\0" + body.encode())
        write("parse_response", bytes([16]) + status_bytes(404) + b"\0" + body.encode())
    for status in (204, 202, 403, 429, 503):
        for parser in range(PARSERS):
            write("parse_response", bytes([parser]) + status_bytes(status) + b"\x01")

    for name, body in snapshots():
        if name.startswith("upload__upload_checkpoint"):
            write("checkpoint", b"\0" + body.encode())
        if name.startswith("upload__upload_state"):
            write("checkpoint", b"\x01" + body.encode())
            state = json.loads(body)
            state["checkpoint"] = None
            write("checkpoint", b"\x01" + json.dumps(state).encode())

    for url in [
        "https://drive-c.kommo.com/upload/abc",
        "https://drive-c.kommo.com:443/x",
        "https://drive-c.kommo.com@evil.example/x",
        "https://drive-c.kommo.com#@evil.example/x",
        "https://drive-c.kommo.com?x=1",
        "http://127.0.0.1:8080/v1.0/files",
        "https://[::1]:9/",
        "/relative/path",
        "//evil.example/x",
    ]:
        for base in range(4):
            write("base_url", bytes([base]) + url.encode())
    write("base_url", b"\x04https://drive-c.kommo.com\nhttps://DRIVE-C.kommo.com/x")

    for value in ["120", " 7 ", "Wed, 21 Oct 2015 07:28:00 GMT", "Sun, 06 Nov 1994 08:49:37 GMT",
                  "0", "18446744073709551615", "Thu, 01 Jan 1970 00:00:00 GMT\n3"]:
        write("retry_after", value)

    # The machines: all-zero scripts are the well-behaved server; a few variations.
    for target in ("upload_machine", "call_machine", "download_machine"):
        for seed in [b"", b"\0" * 8, b"\x40\x00\x05" + b"\0" * 40, bytes(range(64)),
                     b"\xff" * 32, b"\x10\x01\x00" + b"\x09\x03" * 20]:
            write(target, seed)

    token = "{token}"
    for host, request in [
        (1, f"GET /api/v4/account?with=drive_url HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n"),
        (0, f"POST /v1.0/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: 47\r\n\r\n"
            '{"file_name":"a.txt","file_size":5,"content_type":"text/plain"}'[:47]),
        (0, f"GET /v1.0/files?limit=2 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n"),
        (0, f"DELETE /v1.0/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
            "Content-Length: 13\r\n\r\n[{\"uuid\":\"x\"}]"),
        (0, "GET /v1.0/files HTTP/1.1\r\nHost: x\r\n\r\n"),
        (1, f"GET /api/v4/leads/1/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n"),
        (0, f"POST /v1.0/files/restore HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n2\r\n[]\r\n0\r\n\r\n"),
    ]:
        write("emulator", bytes([host]) + request.encode())


if __name__ == "__main__":
    main()
