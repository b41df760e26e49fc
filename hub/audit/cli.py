"""``v2v audit``: export, verify and reconstruct the audit trail; the checkpoint key.

v2v audit export --out DIR [--coi X]              the trail from the topics, as files
v2v audit verify DIR [--public-key PEM] [--json]  check an export offline (no broker)
v2v audit verify --live [--coi X] [--json]        check the topics themselves
v2v audit reconstruct --coi X --as-of T [--from DIR | --live] [--out DIR]
                                                  the chain as the hub knew it at T: HTML + PDF
v2v audit keygen --out FILE                       a new Ed25519 checkpoint signing key
v2v audit public-key [--out FILE]                 the public key verifiers pin

Exit codes: 0 verified / done, 1 verification failed, 2 bad input or setup.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from hub.audit import keys
from hub.audit.configfiles import snapshot
from hub.audit.files import PUBLIC_KEY, Trail, read_export
from hub.audit.records import AuditRecord
from hub.audit.verify import Verdict, verify
from hub.errors import HubError
from hub.settings import Settings


def _err(text: str) -> int:
    print(f"error: {text}", file=sys.stderr)
    return 2


def trusted_key(
    settings: Settings, pinned: Path | None, export: Path | None
) -> tuple[Ed25519PublicKey, str]:
    """The public key checkpoints must verify against, and where it came from: ``--public-key``,
    else the hub's own signing key, else (with a warning) the export's copy."""
    if pinned is not None:
        return keys.load_public(pinned), f"pinned key {pinned}"
    own = settings.audit_key_path
    if own.exists():
        return keys.load_private(own).public_key(), f"the hub's signing key {own}"
    if export is not None and (export / PUBLIC_KEY).exists():
        print(
            "warning: trusting the export's own public key; pin the hub's with --public-key",
            file=sys.stderr,
        )
        return keys.load_public(export / PUBLIC_KEY), f"the export's {PUBLIC_KEY} (not pinned)"
    raise HubError("no public key to verify checkpoints: pass --public-key")


def verify_trail(trail: Trail, public: Ed25519PublicKey) -> Verdict:
    verdict = verify(trail.records, trail.checkpoints, trail.config, public, trail.scope)
    verdict.problems[:0] = [f"unreadable: {b}" for b in trail.bad_lines]
    return verdict


def _export(settings: Settings, args: argparse.Namespace) -> int:
    from hub.audit.topic import export

    try:
        trail, size = export(settings, args.out, args.coi)
    except (HubError, OSError) as exc:
        return _err(str(exc))
    print(
        f"exported {len(trail.records)} records, {len(trail.config)} configuration records and "
        f"{len(trail.checkpoints)} checkpoints to {args.out} ({size:,} bytes)"
    )
    return 0


def _verify(settings: Settings, args: argparse.Namespace) -> int:
    if (args.dir is None) == (not args.live):
        return _err("verify needs an export DIR or --live (not both)")
    try:
        if args.live:
            from hub.audit.topic import read_trail

            trail = read_trail(settings, args.coi)
        else:
            trail = read_export(args.dir)
        public, source = trusted_key(settings, args.public_key, args.dir)
    except HubError as exc:
        return _err(str(exc))
    verdict = verify_trail(trail, public)
    if args.json:
        print(json.dumps({**verdict.as_json(), "key": source}, indent=2))
    else:
        print(f"checkpoints verified against {source}")
        for problem in verdict.problems:
            print(f"  PROBLEM {problem}")
        print(verdict.summary())
    return 0 if verdict.ok else 1


def _records(trail: Trail, coi: str) -> tuple[list[AuditRecord], list[str]]:
    out, bad = [], []
    for r in trail.records:
        if r.get("chain") != coi:
            continue
        try:
            out.append(AuditRecord.model_validate(r))
        except ValidationError as exc:
            bad.append(f"record {coi}#{r.get('seq')} is not a valid audit record: {exc}")
    return out, bad


def _reconstruct(settings: Settings, args: argparse.Namespace) -> int:
    from hub.audit.reconstruct import reconstruct
    from hub.audit.report import build, write
    from hub.flow import FlowCore

    if (args.source is None) == (not args.live):
        return _err("reconstruct needs --from DIR or --live (one of them)")
    try:
        if args.live:
            from hub.audit.topic import read_trail

            trail = read_trail(settings, args.coi)
            where = f"live topics {settings.topic('audit')}*"
        else:
            trail = read_export(args.source)
            where = f"export {args.source}"
        public, source = trusted_key(settings, args.public_key, args.source)
        core = FlowCore.from_files(
            settings.profile_dir,
            settings.escalation_policy_file,
            settings.pseudonym_secret(),
            None,
            settings.partner_dir,
            audit=True,  # the replay's own records are compared with the trail's
        )
    except HubError as exc:
        return _err(str(exc))
    records, bad = _records(trail, args.coi)
    if not records:
        return _err(f"the trail has no record of chain {args.coi}")
    verdict = verify_trail(trail, public)
    verdict.problems += bad
    view = reconstruct(core, args.coi, records, args.as_of)
    notes = config_notes(trail.config, args.as_of, settings)
    doc = build(view, verdict, datetime.now(UTC), f"{where}; key: {source}", notes)
    out = args.out or Path(f"audit-{args.coi}-{args.as_of:%Y%m%dT%H%M%SZ}")
    html_path, pdf_path = write(doc, out, f"{args.coi}-{args.as_of:%Y%m%dT%H%M%SZ}")
    _print_view(view, verdict)
    print(f"report: {html_path} and {pdf_path}")
    return 0 if doc.ok else 1


def config_notes(config: list[dict[str, Any]], as_of: datetime, settings: Settings) -> list[str]:
    """How the configuration in force at ``as_of`` (per the trail) compares with the files the
    replay used."""
    in_force: dict[str, str | None] = {}
    first: str | None = None
    for r in config:
        try:
            at = datetime.fromisoformat(str(r.get("at")))
        except ValueError:
            continue
        first = first or str(r.get("at"))
        if at <= as_of:
            body = r.get("body") or {}
            in_force[str(body.get("file"))] = body.get("new_digest")
    now = snapshot(settings.profile_dir, settings.escalation_policy_file, settings.partner_dir)
    if not in_force:
        since = f" (its first configuration record is of {first})" if first else ""
        return [f"The trail records no configuration by then{since}: replayed with today's files."]
    differ = sorted(
        name
        for name in set(in_force) | set(now)
        if in_force.get(name) != (now[name].digest if name in now else None)
    )
    if not differ:
        return [
            f"Replayed with the configuration in force then ({len(in_force)} files, same digests)."
        ]
    return [f"Configuration differs from the one in force then: {', '.join(differ)}"]


def _print_view(view: Any, verdict: Verdict) -> None:
    chain = view.chain
    print(f"{view.coi} as of {view.as_of.isoformat()}: {len(view.records)} of {view.total} records")
    print(f"  trail: {verdict.summary()}")
    for problem in verdict.problems[:10]:
        print(f"    PROBLEM {problem}")
    print(f"  replay: {view.replayed} of {len(view.records)} records reproduced exactly")
    for m in view.mismatches:
        print(f"    DIFFERENT {m}")
    if chain is None:
        print("  the hub knew nothing of this chain then")
        return
    state = chain.state
    print(f"  stage {state.stage}, custody {state.custody.holder or '-'}")
    for name, at in sorted(state.milestones.items(), key=lambda kv: kv[1]):
        print(f"    {at.isoformat()}  {name}")
    print(
        f"  open cases: {', '.join(f'{c.code} ({c.status.value})' for c in view.open_cases) or '-'}"
    )
    print(f"  commands: {len(view.commands())}, e-signatures: {len(view.signatures())}")


def _keygen(_settings: Settings, args: argparse.Namespace) -> int:
    try:
        key = keys.generate(args.out)
    except FileExistsError:
        return _err(f"{args.out} exists; not overwritten")
    print(f"key {keys.key_id(key.public_key())} written to {args.out} (mode 0600)")
    return 0


def _public_key(settings: Settings, args: argparse.Namespace) -> int:
    try:
        public = keys.load_private(settings.audit_key_path).public_key()
    except HubError as exc:
        return _err(str(exc))
    pem = keys.public_pem(public)
    if args.out:
        args.out.write_text(pem, encoding="ascii")
        print(f"public key {keys.key_id(public)} written to {args.out}")
    else:
        print(pem, end="")
    return 0


def register(sub: Any, instant: Callable[[str], datetime]) -> None:
    """Add ``v2v audit ...`` to the ``v2v`` parser's sub-commands."""
    audit = sub.add_parser("audit", help="export, verify and reconstruct the audit trail")
    cmds = audit.add_subparsers(dest="audit_command", required=True)
    exp = cmds.add_parser("export", help="the trail from the topics, as files")
    exp.add_argument("--out", type=Path, required=True, help="directory to write")
    exp.add_argument("--coi", help="only this chain's records (with every checkpoint)")
    exp.set_defaults(fn=_export)
    ver = cmds.add_parser("verify", help="check a trail: hash chains, checkpoints, signatures")
    ver.add_argument("dir", nargs="?", type=Path, help="an export directory")
    ver.add_argument("--live", action="store_true", help="read the topics instead")
    ver.add_argument("--coi", help="with --live: only this chain")
    ver.add_argument("--public-key", type=Path, help="the trusted public key (PEM)")
    ver.add_argument("--json", action="store_true")
    ver.set_defaults(fn=_verify)
    rec = cmds.add_parser("reconstruct", help="a chain as the hub knew it at a time")
    rec.add_argument("--coi", required=True)
    rec.add_argument("--as-of", type=instant, required=True, help="ISO 8601 time with offset")
    rec.add_argument("--from", dest="source", type=Path, help="an export directory")
    rec.add_argument("--live", action="store_true", help="read the topics instead")
    rec.add_argument("--out", type=Path, help="report directory (default audit-<coi>-<time>)")
    rec.add_argument("--public-key", type=Path, help="the trusted public key (PEM)")
    rec.set_defaults(fn=_reconstruct)
    gen = cmds.add_parser("keygen", help="write a new Ed25519 checkpoint signing key")
    gen.add_argument("--out", type=Path, required=True)
    gen.set_defaults(fn=_keygen)
    pub = cmds.add_parser("public-key", help="print the checkpoint signing key's public key")
    pub.add_argument("--out", type=Path)
    pub.set_defaults(fn=_public_key)
