"""What a thread dumps and stores is byte-identical to what the code before issue 18's core
CPU work dumped and stored, and so are the JSON schemas of the thread's models.

The expected values (``dumps/expected.json``, ``dumps/schemas.json``: SHA-256 of each dump,
of each stored blob, of each schema) were written once by the code at 8caaf8c, before
``Outside`` cleaned once per value and ``plan_hash`` was memoised, and are never
regenerated: a change here is a change of stored bytes or of what the model is shown.
The schemas were written again once, by issue 19 (release policy), which widened them on
purpose (the grammar-only deploy fields, ``Plan.overrides``, ``Evidence.release``, the
``ready`` timer, the queue's events) and moved the approval events to their own module;
every new field is left out of a dump when unset, so the stored bytes stayed as pinned.
What is stored is pinned as its format tag and the JSON it compresses
(``stored_payload_sha256``, written once from blobs whose ``stored_sha256`` the code at
8caaf8c wrote): the zlib level is not part of the format, and issue 18 lowered it from 6
to 1, which changed the compressed bytes (``stored_sha256``, kept as a record) and nothing
a reader sees.
Cases: both golden threads (tests/unit/golden), a paused and a done thread recorded from the
real worker (bench/core_cpu.py), and a hostile thread: the done thread and the golden one
with escape sequences, bidi overrides, invisible characters, stacked marks, odd whitespace
and over-long texts in every outside field, validated from JSON.
"""

import base64
import hashlib
import importlib
import inspect
import json
import pkgutil
import zlib
from pathlib import Path

import pytest
from pydantic import BaseModel, TypeAdapter

import bot.core.thread as thread_package
from bot.core.thread.events import Event
from bot.core.thread.intents import Intent
from bot.core.thread.text.actor import RECORDED
from bot.core.thread.thread import Thread
from bot.shell.store.codec import _FORMATS, decode_thread, encode_thread

HERE = Path(__file__).resolve().parent / "dumps"
GOLDEN = Path(__file__).resolve().parents[2] / "golden"
EXPECTED = json.loads((HERE / "expected.json").read_text())
SCHEMAS = json.loads((HERE / "schemas.json").read_text())


def _load(case: str) -> Thread:
    match case:
        case "thread_before_layout" | "thread_open_card":
            stored = base64.b64decode((GOLDEN / f"{case}.b64").read_text())
            return decode_thread(stored, version=EXPECTED[case]["version"])
        case "bench_paused" | "bench_done":
            stored = base64.b64decode((HERE / f"{case}.b64").read_text())
            return decode_thread(stored, version=EXPECTED[case]["version"])
        case "hostile":
            raw = (HERE / "hostile.json").read_text(encoding="utf-8")
            return Thread.model_validate_json(raw, context=RECORDED)
        case _:
            raise AssertionError(case)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_a_thread_dumps_and_stores_the_same_bytes(case: str) -> None:
    thread = _load(case)
    dump = thread.model_dump_json().encode()
    assert len(dump) == EXPECTED[case]["dump_chars"]
    assert _sha(dump) == EXPECTED[case]["dump_sha256"]
    stored = encode_thread(thread)
    tag, blob = stored[:2], stored[2:]
    payload = zlib.decompressobj(zdict=_FORMATS[tag]).decompress(blob)
    assert _sha(tag + payload) == EXPECTED[case]["stored_payload_sha256"]
    # and a thread loaded from what it stores is the same again (nothing cleaned twice)
    again = decode_thread(encode_thread(thread), version=thread.version)
    assert again.model_dump_json().encode() == dump


def test_the_hostile_thread_is_cleaned() -> None:
    dump = _load("hostile").model_dump_json()
    assert "\\u001b" not in dump
    assert "\\u202e" not in dump
    assert "\u202e" not in dump
    assert "\u200b" not in dump
    assert len(EXPECTED) == 5


def _schemas() -> dict[str, str]:
    out: dict[str, str] = {}
    for info in pkgutil.iter_modules(thread_package.__path__):
        module = importlib.import_module(f"bot.core.thread.{info.name}")
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and issubclass(obj, BaseModel):
                if obj.__module__ != module.__name__:
                    continue
                for mode in ("validation", "serialization"):
                    text = json.dumps(obj.model_json_schema(mode=mode), sort_keys=True)
                    out[f"{module.__name__}.{name}:{mode}"] = _sha(text.encode())
    for label, union in (("Event", Event), ("Intent", Intent)):
        text = json.dumps(TypeAdapter(union).json_schema(), sort_keys=True)
        out[label] = _sha(text.encode())
    return out


def test_the_models_json_schemas_are_unchanged() -> None:
    got = _schemas()
    assert sorted(got) == sorted(SCHEMAS)
    changed = [name for name in SCHEMAS if got[name] != SCHEMAS[name]]
    assert changed == []
