"""The pre-live rehearsal pack: every check a live start depends on, in one dated, checksummed dir."""

from __future__ import annotations

import hashlib
import platform
import secrets as pysecrets
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.common import json_io
from bot.observability.logging import get_logger
from mmctl.ops.doctor import CheckLine, VenueError, VenueProbe, clock_line, key_permissions_line

__all__ = [
    "MANIFEST",
    "PackPart",
    "RehearsalOptions",
    "RehearsalResult",
    "check_live_pack",
    "latest_audit",
    "latest_soak_verdict",
    "packs_root",
    "run_rehearsal",
    "verify_pack",
]

log = get_logger(__name__)

MANIFEST = "manifest.json"
CHECKSUMS = "SHA256SUMS"
_PACKAGES = ("mm-rebate-bot", "httpx", "websockets", "orjson", "prometheus-client", "aiohttp", "pydantic",
             "typer", "rich", "psutil", "matplotlib")


def packs_root(state_dir: str | Path) -> Path:
    """Where packs live: <state_dir>/rehearsal (the live start looks here)."""
    return Path(state_dir) / "rehearsal"


@dataclass(frozen=True, slots=True)
class PackPart:
    name: str
    ok: bool
    file: str
    detail: str


@dataclass
class RehearsalOptions:
    soak_root: Path = Path("artifacts/soak")
    audit_dir: Path = Path("artifacts/audit")
    soak_max_age_h: float = 7 * 24.0
    audit_max_age_h: float = 7 * 24.0
    strict_audit: bool = False
    rest_url: str | None = None  # override the venue URL (tests point it at the emulator)
    place_order: bool | None = None  # None: on every venue except mainnet
    out_root: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    now: Callable[[], float] = time.time


@dataclass(frozen=True, slots=True)
class RehearsalResult:
    ok: bool
    pack_dir: Path
    parts: tuple[PackPart, ...]


def latest_soak_verdict(root: Path, config_hash: str) -> tuple[Path, dict[str, Any]] | None:
    """The newest verdict.json under root (one level of soak dirs) for this config hash."""
    best: tuple[str, Path, dict[str, Any]] | None = None
    for path in root.glob("*/verdict.json") if root.exists() else ():
        try:
            doc = json_io.load_file(path)
        except (OSError, json_io.JSONDecodeError):
            continue
        if not isinstance(doc, dict) or doc.get("config_hash") != config_hash:
            continue
        stamp = str(doc.get("ended_at") or doc.get("gated_at") or "")
        if best is None or stamp > best[0]:
            best = (stamp, path, doc)
    return (best[1], best[2]) if best else None


def _age_h(iso: str | None, now: float) -> float | None:
    if not iso:
        return None
    try:
        ts = datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None
    return (now - ts) / 3600.0


def _soak_part(cfg_hash: str, opts: RehearsalOptions, pack: Path) -> PackPart:
    found = latest_soak_verdict(opts.soak_root, cfg_hash)
    if found is None:
        json_io.save_file(pack / "soak.json", {"found": False, "root": str(opts.soak_root)})
        return PackPart("soak", False, "soak.json",
                        f"no soak verdict for config {cfg_hash[:12]} under {opts.soak_root}")
    path, doc = found
    age = _age_h(doc.get("ended_at") or doc.get("gated_at"), opts.now())
    json_io.save_file(pack / "soak.json", {"found": True, "path": str(path), "age_h": age, "verdict": doc})
    if doc.get("verdict") != "PASS":
        return PackPart("soak", False, "soak.json", f"latest soak {path.parent.name} verdict {doc.get('verdict')}")
    if age is None or age > opts.soak_max_age_h:
        return PackPart("soak", False, "soak.json",
                        f"latest passing soak is stale ({'unknown age' if age is None else f'{age:.1f} h'}"
                        f" > {opts.soak_max_age_h:.0f} h)")
    return PackPart("soak", True, "soak.json", f"PASS, {doc.get('hours')} h soak, {age:.1f} h old")


def latest_audit(audit_dir: Path) -> tuple[Path, dict[str, Any], float] | None:
    path = audit_dir / "audit.json"
    try:
        doc = json_io.load_file(path)
        mtime = path.stat().st_mtime
    except (OSError, json_io.JSONDecodeError):
        return None
    return (path, doc, mtime) if isinstance(doc, dict) else None


def _audit_part(opts: RehearsalOptions, pack: Path) -> PackPart:
    found = latest_audit(opts.audit_dir)
    if found is None:
        json_io.save_file(pack / "audit.json", {"found": False, "dir": str(opts.audit_dir)})
        return PackPart("audit", False, "audit.json", f"no audit report in {opts.audit_dir} (run mmctl audit)")
    path, doc, mtime = found
    age = (opts.now() - mtime) / 3600.0
    json_io.save_file(pack / "audit.json", {"found": True, "path": str(path), "age_h": age, "report": doc})
    not_run = [str(t.get("tool")) for t in doc.get("tools", []) if t.get("status") in ("skipped", "unavailable")]
    if doc.get("gate") != "pass":
        return PackPart("audit", False, "audit.json", f"audit gate {doc.get('gate')}")
    if age > opts.audit_max_age_h:
        return PackPart("audit", False, "audit.json", f"audit report is {age:.1f} h old > {opts.audit_max_age_h:.0f} h")
    if not_run and opts.strict_audit:
        return PackPart("audit", False, "audit.json", f"tools not run: {', '.join(not_run)}")
    return PackPart("audit", True, "audit.json",
                    f"pass, {age:.1f} h old" + (f" (warning: not run: {', '.join(not_run)})" if not_run else ""))


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _post_only_roundtrip(probe: VenueProbe, category: str, symbol: str, instrument: Mapping[str, Any]) -> CheckLine:
    """Place one minimum-size post-only buy well below the bid, then cancel it by orderLinkId."""
    bid, _ask = probe.orderbook_top(category, symbol)
    lot = instrument.get("lotSizeFilter") or {}
    tick = Decimal(str((instrument.get("priceFilter") or {}).get("tickSize", "0.01")))
    qty = Decimal(str(lot.get("minOrderQty", "0.001")))
    min_notional = Decimal(str(lot.get("minNotionalValue", "0") or "0"))
    if bid is None:
        return CheckLine("post_only_roundtrip", "fail", f"{symbol}: empty book, cannot price a safe order")
    price = (Decimal(bid) * Decimal("0.9") / tick).to_integral_value() * tick
    if min_notional and price * qty < min_notional:
        step = Decimal(str(lot.get("qtyStep", qty)))
        qty = ((min_notional / price / step).to_integral_value(rounding="ROUND_CEILING")) * step
    link = f"rh-{pysecrets.token_hex(6)}"
    t0 = time.monotonic()
    probe.place_post_only(category, symbol, "Buy", str(qty), str(price), link)
    try:
        probe.cancel(category, symbol, link)
    except VenueError as exc:
        return CheckLine("post_only_roundtrip", "fail", f"placed {link} but cancel failed: {exc}; cancel it by hand")
    ms = (time.monotonic() - t0) * 1e3
    return CheckLine("post_only_roundtrip", "pass", f"{symbol} Buy {qty} @ {price} placed and cancelled in {ms:.0f} ms",
                     {"orderLinkId": link, "qty": str(qty), "price": str(price)})


def _venue_part(cfg: Any, opts: RehearsalOptions, pack: Path) -> PackPart:
    url = opts.rest_url or cfg.urls()[0]
    lines: list[CheckLine] = []
    doc: dict[str, Any] = {"venue": cfg.venue, "rest_url": url}
    if not url:
        lines.append(CheckLine("venue", "fail", "no venue URL (venue sim: pass --rest-url of a running emulator)"))
    else:
        sec = cfg.secrets
        key = sec.bybit_api_key.reveal() if sec.bybit_api_key else None
        secret = sec.bybit_api_secret.reveal() if sec.bybit_api_secret else None
        place = opts.place_order if opts.place_order is not None else cfg.venue != "mainnet"
        with VenueProbe(url, key, secret, recv_window_ms=cfg.exchange.recv_window_ms) as probe:
            try:
                lines.append(clock_line(*probe.server_time_offset_ms()))
                lines.append(key_permissions_line(probe.query_api(), cfg.venue))
                instruments: dict[str, Any] = {}
                fees: dict[str, Any] = {}
                for sym in cfg.symbols:
                    found = probe.instruments(cfg.category, sym)
                    instruments[sym] = found[0] if found else None
                    fees[sym] = probe.fee_rates(cfg.category, sym)
                doc.update(instruments=instruments, fee_rates=fees)
                missing = [s for s, i in instruments.items() if not i or i.get("status", "Trading") != "Trading"]
                lines.append(CheckLine("instruments", "fail" if missing else "pass",
                                       f"not trading: {missing}" if missing else f"{len(instruments)} trading"))
                no_fee = [s for s, f in fees.items() if not f]
                lines.append(CheckLine("fee_rates", "fail" if no_fee else "pass",
                                       f"no fee rate for {no_fee}" if no_fee else ", ".join(
                                           f"{s} maker {f[0].get('makerFeeRate')} taker {f[0].get('takerFeeRate')}"
                                           for s, f in fees.items())))
                if place and not missing:
                    sym = cfg.symbols[0]
                    lines.append(_post_only_roundtrip(probe, cfg.category, sym, instruments[sym]))
                elif not place:
                    lines.append(CheckLine("post_only_roundtrip", "pass", f"skipped on {cfg.venue} (no live orders)"))
            except VenueError as exc:
                lines.append(CheckLine("venue", "fail", str(exc)))
    doc["checks"] = [c.to_json() for c in lines]
    json_io.save_file(pack / "venue.json", doc)
    failed = [c for c in lines if c.level == "fail"]
    return PackPart("venue", not failed, "venue.json",
                    "; ".join(f"{c.name}: {c.detail}" for c in failed) or ", ".join(c.name for c in lines))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def run_rehearsal(cfg: Any, opts: RehearsalOptions) -> RehearsalResult:
    """Build the pack; every part runs even when an earlier one failed (the pack shows them all)."""
    from bot.config import cfg_hash_sanitized, check_secrets, git_sha, sanitized_dict

    cfg_hash = cfg_hash_sanitized(cfg)
    stamp = datetime.fromtimestamp(opts.now(), UTC).strftime("%Y%m%dT%H%M%SZ")
    root = opts.out_root or packs_root(cfg.state_dir)
    pack = root / f"{stamp}-{cfg_hash[:12]}"
    n = 1
    while pack.exists():
        n += 1
        pack = root / f"{stamp}-{cfg_hash[:12]}-{n}"
    pack.mkdir(parents=True)
    parts: list[PackPart] = []
    json_io.save_file(pack / "config.json", {"config_hash": cfg_hash, "config": sanitized_dict(cfg)})
    parts.append(PackPart("config", True, "config.json", f"hash {cfg_hash[:12]}"))
    sha = git_sha()
    json_io.save_file(pack / "build.json", {"git_sha": sha, "versions": _versions(), "argv0": sys.argv[0]})
    parts.append(PackPart("build", sha != "unknown", "build.json", f"git {sha[:12]}"))
    statuses = check_secrets(opts.env, cfg.secrets_dir)
    json_io.save_file(pack / "secrets.json", {s.name: {"state": s.state, "source": s.source} for s in statuses})
    bad = [s.name for s in statuses if s.state in ("conflict", "unreadable", "unsafe_permissions")
           or (s.state == "missing" and cfg.venue != "sim" and s.name.startswith("BYBIT"))]
    parts.append(PackPart("secrets", not bad, "secrets.json", f"problems: {bad}" if bad else "ok"))
    builders: list[Callable[[], PackPart]] = [lambda: _soak_part(cfg_hash, opts, pack),
                                              lambda: _audit_part(opts, pack), lambda: _venue_part(cfg, opts, pack)]
    for build_part in builders:
        try:
            parts.append(build_part())
        except Exception as exc:  # one broken part must not hide the others
            log.exception("rehearsal_part_crashed")
            parts.append(PackPart("error", False, "", f"{type(exc).__name__}: {exc}"))
    ok = all(p.ok for p in parts)
    files = sorted(p.name for p in pack.iterdir() if p.is_file())
    manifest = {
        "created_at": datetime.fromtimestamp(opts.now(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "created_ts": opts.now(), "ok": ok, "config_hash": cfg_hash, "git_sha": sha, "venue": cfg.venue,
        "parts": [{"name": p.name, "ok": p.ok, "file": p.file, "detail": p.detail} for p in parts],
        "files": {name: _sha256(pack / name) for name in files},
    }
    json_io.save_file(pack / MANIFEST, manifest)
    (pack / CHECKSUMS).write_text("".join(f"{_sha256(pack / n)}  {n}\n" for n in [*files, MANIFEST]),
                                  encoding="utf-8")
    log.info("rehearsal_pack_written", pack=str(pack), ok=ok)
    return RehearsalResult(ok, pack, tuple(parts))


def verify_pack(pack: Path) -> tuple[bool, str]:
    """Checksums in the manifest still match the files."""
    try:
        manifest = json_io.load_file(pack / MANIFEST)
    except (OSError, json_io.JSONDecodeError) as exc:
        return False, f"{pack.name}: unreadable manifest ({type(exc).__name__})"
    for name, digest in (manifest.get("files") or {}).items():
        path = pack / name
        if not path.is_file() or _sha256(path) != digest:
            return False, f"{pack.name}: {name} does not match its checksum"
    return True, "checksums ok"


def check_live_pack(cfg: Any, state_dir: str | Path | None = None, max_age_h: float | None = None, *,
                    now: Callable[[], float] = time.time) -> tuple[bool, str]:
    """Is there a passing, intact rehearsal pack for this exact config, younger than max_age_h?

    Defaults: cfg.state_dir and cfg.live_pack_max_age_h. Returns (ok, reason) and never raises for
    a missing or bad pack: the caller (`mmctl run --venue mainnet --live`) must refuse on False.
    """
    from bot.config import cfg_hash_sanitized

    cfg_hash = cfg_hash_sanitized(cfg)
    root = packs_root(cfg.state_dir if state_dir is None else state_dir)
    max_age_h = float(cfg.live_pack_max_age_h if max_age_h is None else max_age_h)
    candidates = sorted(root.glob(f"*-{cfg_hash[:12]}*/{MANIFEST}"), reverse=True) if root.exists() else []
    reasons: list[str] = []
    for manifest_path in candidates:
        try:
            m = json_io.load_file(manifest_path)
        except (OSError, json_io.JSONDecodeError):
            continue
        if m.get("config_hash") != cfg_hash:
            continue
        age_h = (now() - float(m.get("created_ts", 0))) / 3600.0
        if not m.get("ok"):
            reasons.append(f"{manifest_path.parent.name}: pack failed")
            continue
        if age_h > max_age_h:
            reasons.append(f"{manifest_path.parent.name}: {age_h:.1f} h old > {max_age_h:g} h")
            continue
        intact, why = verify_pack(manifest_path.parent)
        if not intact:
            reasons.append(why)
            continue
        return True, f"pack {manifest_path.parent.name} passed {age_h:.1f} h ago"
    if not reasons:
        return False, f"no rehearsal pack for config {cfg_hash[:12]} in {root} (run mmctl rehearsal)"
    return False, "no usable rehearsal pack: " + "; ".join(reasons[:3])

