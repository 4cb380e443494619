"""Quotes, attributions and signatures are cut; HTML is read as text."""

import pytest

from channels.email.body import fresh_text, html_to_text

GMAIL = "no, wait\n\nOn Mon, Nov 2, 2026 at 9:00 AM deploybot <bot@example.com> wrote:\n> approve\n"
GMAIL_WRAPPED = (
    "no\n\nOn Mon, Nov 2, 2026 at 9:00 AM A Very Long Name From Somewhere <bot@example.com>\n"
    "wrote:\n> approve\n"
)
OUTLOOK = (
    "reject not today\n\n-----Original Message-----\nFrom: deploybot\nSent: Monday\n"
    "Subject: approve\n\napprove\n"
)
OUTLOOK_HEADERS = (
    "no\r\n\r\nFrom: deploybot <bot@example.com>\r\nSent: Monday, 2 November\r\napprove"
)
OUTLOOK_RULE = "no\n________________________________\nFrom: deploybot\napprove\n"
APPLE = "no\n\n> On 2 Nov 2026, at 09:00, deploybot <bot@example.com> wrote:\n> \n> approve\n"
APPLE_PLAIN = "no\n\nOn 2 Nov 2026, at 09:00, deploybot <bot@example.com> wrote:\n\napprove\n"
SIGNATURE = "approve\n-- \nAlice\nSRE, approve everything since 2019\n"
IPHONE = "reject busy\n\nSent from my iPhone\n\nOn Mon wrote:\n> approve"
INTERLEAVED = "> Reply approve or reject\napprove\n> more quote\n"
FORWARD = "fyi\n\nBegin forwarded message:\n\nFrom: x\napprove"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("approve", "approve"),
        ("  approve  \n\n", "approve"),
        (GMAIL, "no, wait"),
        (GMAIL_WRAPPED, "no"),
        (OUTLOOK, "reject not today"),
        (OUTLOOK_HEADERS, "no"),
        (OUTLOOK_RULE, "no"),
        (APPLE, "no"),
        (APPLE_PLAIN, "no"),
        (SIGNATURE, "approve"),
        (IPHONE, "reject busy"),
        (INTERLEAVED, "approve"),
        (FORWARD, "fyi"),
        ("Am 2. Nov. 2026 um 09:00 schrieb Bot <b@x>:\n> approve", ""),
        ("From: me\nnot a header block\napprove", "From: me\nnot a header block\napprove"),
        ("", ""),
    ],
)
def test_fresh_text(body: str, expected: str) -> None:
    assert fresh_text(body) == expected


OUTLOOK_HTML = """<html><head><style>p {margin:0}</style></head><body>
<div class="WordSection1"><p class="MsoNormal">reject&nbsp;not during the sale</p></div>
<div id="appendonsend"></div><hr>
<div id="divRplyFwdMsg"><b>From:</b> deploybot &lt;bot@example.com&gt;<br>
<b>Sent:</b> Monday<br><b>Subject:</b> Plan</div>
<div><p>Reply approve or reject</p><p>approve</p></div></body></html>"""

GMAIL_HTML = """<div dir="ltr">no</div><br><div class="gmail_quote"><div class="gmail_attr">
On Mon, Nov 2, 2026 at 9:00 AM deploybot &lt;bot@example.com&gt; wrote:<br></div>
<blockquote class="gmail_quote"><div>approve</div></blockquote></div>"""


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        (OUTLOOK_HTML, "reject not during the sale"),
        (GMAIL_HTML, "no"),
        ("<p>approve</p><blockquote><p>reject</p><p>x</p></blockquote>", "approve"),
        ("<script>approve()</script><p>hi &amp; bye</p>", "hi & bye"),
    ],
)
def test_html_reply_is_read_as_text(markup: str, expected: str) -> None:
    assert fresh_text(html_to_text(markup)) == expected


def test_blockquote_is_quoted() -> None:
    assert html_to_text("<p>a</p><blockquote>b<br>c</blockquote>") == "a\n\n> b\n> c"
