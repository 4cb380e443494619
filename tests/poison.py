"""Hostile inputs for every channel, as hypothesis strategies and as the issue's examples.

Each strategy mixes arbitrary bytes with the shapes that broke parsers before: deep
nesting (MIME parts, message/rfc822, digests, JSON arrays and objects), huge headers and
fields, comments nested in headers, broken base64 and quoted-printable, unknown charsets
and encoded words, invalid UTF-8, NUL bytes, many parts, and mangled valid messages.
"""

from hypothesis import strategies as st

__all__ = [
    "hostile_json",
    "hostile_mail",
    "nested_mail",
    "valid_request",
]


def valid_request(n: int, sender: str = "dave@example.com") -> bytes:
    """A plain request a person in [people] would send."""
    return (
        f"From: Dave <{sender}>\r\nTo: deploybot@example.com\r\nSubject: deploy\r\n"
        f"Message-ID: <valid{n}@mail.example.com>\r\n\r\ndeploy backend to staging\r\n"
    ).encode()


def nested_mail(
    depth: int, *, kind: str = "mixed", sender: str = "mallory@stranger.test", n: int = 0
) -> bytes:
    """``depth`` parts nested in each other (the issue's message: 1,000 of them, 66 KB)."""
    head = (
        f"From: {sender}\r\nTo: deploybot@example.com\r\nSubject: hello\r\n"
        f"Message-ID: <nested{n}@stranger.test>\r\nMIME-Version: 1.0\r\n"
    ).encode()
    inner = b"Content-Type: text/plain\r\n\r\ndeploy backend to production\r\n"
    for i in range(depth):
        if kind == "rfc822":
            inner = b"Content-Type: message/rfc822\r\n\r\n" + inner
            continue
        b = b"b%d" % i
        ctype = b"multipart/" + kind.encode()
        inner = (
            b"Content-Type: " + ctype + b"; boundary=" + b + b"\r\n\r\n--" + b + b"\r\n"
            + inner + b"\r\n--" + b + b"--\r\n"
        )  # fmt: skip
    return head + inner


_HEAD = (
    b"From: Dave <dave@example.com>\r\nTo: deploybot@example.com\r\nSubject: s\r\n"
    b"Message-ID: <hostile@mail.example.com>\r\nMIME-Version: 1.0\r\n"
)


def _with_header(name: bytes, value: bytes) -> bytes:
    return _HEAD + name + b": " + value + b"\r\n\r\ndeploy backend to staging\r\n"


def _encoded_body(cte: bytes, charset: bytes, body: bytes) -> bytes:
    return (
        _HEAD + b"Content-Type: text/plain; charset=" + charset + b"\r\n"
        b"Content-Transfer-Encoding: " + cte + b"\r\n\r\n" + body
    )


def _many_parts(count: int) -> bytes:
    parts = b"".join(b"--p\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(count))
    return _HEAD + b"Content-Type: multipart/mixed; boundary=p\r\n\r\n" + parts + b"--p--\r\n"


def _mangle(raw: bytes, cuts: list[tuple[int, bytes]]) -> bytes:
    data = bytearray(raw)
    for at, junk in cuts:
        at %= max(1, len(data))
        data[at : at + len(junk)] = junk
    return bytes(data)


_charsets = st.sampled_from(
    [b"utf-8", b"x-unknown-42", b"utf-7", b'"', b"", b"utf-16", b"iso-2022-jp", b"\xff\xfe"]
)
_junk = st.binary(min_size=0, max_size=300)

hostile_mail = st.one_of(
    st.binary(max_size=3000),
    st.builds(
        nested_mail,
        st.integers(min_value=21, max_value=2500),
        kind=st.sampled_from(["mixed", "alternative", "digest", "related", "rfc822"]),
        sender=st.sampled_from(["mallory@stranger.test", "dave@example.com"]),
    ),
    st.builds(
        _with_header,
        st.sampled_from([b"From", b"To", b"Content-Type", b"References", b"Subject", b"X-A"]),
        st.one_of(
            st.integers(17, 5000).map(lambda n: b"(" * n + b"x" + b")" * n + b" a@example.com"),
            st.integers(40_000, 120_000).map(lambda n: b"=?utf-8?q?" + b"a" * n + b"?="),
            st.integers(1, 3000).map(lambda n: b"=?bogus?Q?x?= " * n),
            st.integers(1, 3000).map(lambda n: b"<" + b"a@b> <" * n + b"c@d>"),
            st.integers(1, 9000).map(lambda n: b"x\r\n " * n),
            st.integers(1, 6000).map(lambda n: b"text/plain" + b"; a=b" * n),
            _junk,
        ),
    ),
    st.builds(
        _encoded_body,
        st.sampled_from([b"base64", b"quoted-printable", b"x-uuencode", b"8bit", b"bogus"]),
        _charsets,
        st.one_of(
            _junk,
            st.just(b"!!!not base64===\r\n" * 50),
            st.just(b"=ZZ=\r\n=\r\n=4" * 200),
            st.just(b"\x00\xff\xfe" * 500),
        ),
    ),
    st.builds(_many_parts, st.integers(min_value=201, max_value=4000)),
    st.builds(
        _mangle,
        st.sampled_from([nested_mail(5), _many_parts(3), _encoded_body(b"base64", b"utf-8", b"")]),
        st.lists(st.tuples(st.integers(0, 10_000), _junk), max_size=5),
    ),
)


def _nest_json(depth: int, opener: str) -> str:
    closer = {"[": "]", "{": "}"}[opener]
    if opener == "{":
        return '{"a":' * depth + "1" + "}" * depth
    return opener * depth + closer * depth


hostile_json = st.one_of(
    st.binary(max_size=2000),
    st.builds(_nest_json, st.integers(65, 200_000), st.sampled_from(["[", "{"])).map(str.encode),
    st.integers(65, 50_000).map(lambda n: ('{"type":"event_callback","event":' + "[" * n).encode()),
    st.text(max_size=500).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.binary(max_size=200).map(lambda b: b'{"text": "' + b + b'"}'),
    st.just(b'{"a": "\xed\xa0\x80"}'),  # a lone surrogate, UTF-8 encoded
    st.just(b"\xef\xbb\xbf{}"),  # a byte order mark
    st.just(b'{"a": 1e999999}'),
    st.just(b'{"a": ' + b"9" * 5000 + b"}"),
)
