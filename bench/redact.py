"""Benchmark: how long ``bot.core.wording.redact.redact`` takes on a 64 KiB deploy output.

A benchmark, not a test: pytest never collects it. Run from the repository root:

    .venv/bin/python bench/redact.py [--repeat 50] [--module bot.core.wording.redact]

Three 64 KiB texts (64 * 1024 characters): plain build output with no secret, the same
output with a secret of each kind sprinkled in, and one 64 KiB line without a newline (the
deployer's longest line). Each is redacted ``--repeat`` times with deploybot's eight
settings secrets; the table gives the median and the worst time in milliseconds.
``--module`` names another module with the same ``redact`` to compare (e.g. a copy of the
old one).
"""

import argparse
import importlib
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SIZE_CHARS = 64 * 1024
SETTINGS_SECRETS = [f"settings-secret-{i}-{'q' * 24}" for i in range(8)]

_PLAIN_LINES = [
    "Step 4/12 : RUN pip install -r requirements.txt",
    " ---> Running in 3f2c9a1b7e44",
    "Collecting pydantic>=2.13 (from -r requirements.txt (line 3))",
    "deploy backend v1.4.2 to production: sha 9c3c85c1f0e2d4b6a8c0e2f4a6b8d0c2e4f6a8b0",
    "2026-05-04T10:11:12Z INFO migrating table users (password reset page added)",
    "[web.1] GET /healthz 200 1.2ms tokens=5 keys=3",
]
_SECRET_LINES = [
    '{"password": "hunter2-json", "user": "deploy"}',
    "Authorization: Basic ZGVwbG95Omh1bnRlcjI=",
    "export MYSQL_PWD=s3cr3t-mysql",
    "aws: AKIAIOSFODNN7EXAMPLE configured",
    "push with glpat-abcdefghij0123456789xyz",
    "git clone https://deploy:pa55@git.example.com/acme/app.git",
]


def _text(lines: list[str]) -> str:
    out: list[str] = []
    size = 0
    i = 0
    while size < SIZE_CHARS:
        line = lines[i % len(lines)]
        out.append(line)
        size += len(line) + 1
        i += 1
    return "\n".join(out)[:SIZE_CHARS]


def _time_ms(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    fn()  # warm the pattern caches
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--module", default="bot.core.wording.redact")
    args = parser.parse_args()
    redact = importlib.import_module(args.module).redact
    mixed = [line for pair in zip(_PLAIN_LINES, _SECRET_LINES, strict=True) for line in pair]
    texts = {
        "plain output, no secret": _text(_PLAIN_LINES),
        "output with secrets": _text(mixed),
        "one line, no newline": ("x9" * SIZE_CHARS)[:SIZE_CHARS],
    }
    print(f"module: {args.module}, {SIZE_CHARS} characters, {args.repeat} runs")
    print(f"{'text':<28} {'median ms':>10} {'max ms':>10}")
    for name, text in texts.items():
        median_ms, max_ms = _time_ms(
            lambda text=text: redact(text, secrets=SETTINGS_SECRETS), args.repeat
        )
        print(f"{name:<28} {median_ms:>10.2f} {max_ms:>10.2f}")


if __name__ == "__main__":
    main()
