"""The ``v2v`` command.

v2v run                              start a hub worker (creates missing topics first)
v2v topics                           create the deployment's topics and list them
v2v demo [--patients N] [--seed S] [--serve]
                                     run the simulated network demo on the real local stack
                                     (--serve: then keep the console up until Ctrl-C)
v2v normalise --connector NAME FILE  print a partner file's canonical events (no broker)
v2v catalogue [--json]               print the exception catalogue
v2v ingress [--host H] [--port P] [--max-body-bytes N]
                                     serve HTTP ingress: POST /ingest/{partner} -> raw topic
v2v filedrop --partner NAME --dir DIR [--interval S] [--once]
                                     watch a folder of partner export files -> raw topic
v2v replay [--profile-dir D] [--policy F] [--tick 15m] [--until ISO] [--json] FILE...
                                     recorded traffic through the flow core, offline
v2v replay --diff --against-profile-dir D2 | --against-policy F2 ... FILE...
                                     cases that appear, disappear or change between two configs
v2v record [--from ISO] [--to ISO] --out FILE
                                     export the raw topics' messages as a replay recording
v2v record --partner NAME --received-at ISO --out FILE PARTNER-FILE...
                                     wrap partner files as a replay recording (no broker)
v2v partners [--dir D] list | show NAME | validate | check NAME FILE...
                                     the partner registry: entries, validation, a dry run
v2v bench [--quick] [--chains N] [--messages N | --events N] [--rate R] [--report FILE]
                                     benchmark the real stack against a plain Kafka baseline
v2v auth dev-token --user U --role R [--role R2] [--name N] [--minutes M] [--auth-age M]
                                     a development bearer token (V2V_ENV=dev only)
v2v auth keygen | seal-key           a new e-signature seal key | the hub's public seal key
v2v audit export | verify | reconstruct | keygen | public-key
                                     the tamper-evident audit trail (hub/audit/cli.py)
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hub.errors import HubError
from hub.settings import Settings


def _secrets_refused(
    settings: Settings, process: str, needs: tuple[str, ...] | None = None
) -> bool:
    try:
        settings.require_secrets(process, needs)
    except HubError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return True
    return False


def _run(settings: Settings, _args: argparse.Namespace) -> int:
    from hub.topics import ensure_topics

    if _secrets_refused(settings, "the worker"):
        return 2
    try:
        # First, before Faust is even imported: a cluster that refuses the connection's security
        # (wrong listener, password or certificate) stops the worker at once, with the reason.
        ensure_topics(settings)
        from hub.audit.topic import record_configuration
        from hub.runtime.app import create_app
        from hub.runtime.shutdown import BoundedWorker

        settings.data_dir.mkdir(parents=True, exist_ok=True)
        config = record_configuration(settings) if settings.audit_enabled else None
        app = create_app(settings, audit_config=config)
    except HubError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # No spinner: worker output goes to log files and terminals alike.
    # SIGTERM stops it within V2V_SHUTDOWN_GRACE_S, broker or no broker.
    worker = BoundedWorker(
        app, loglevel=settings.log_level, quiet=True, grace_s=settings.shutdown_grace_s
    )
    worker.execute_from_commandline()
    return 0


def _topics(settings: Settings, _args: argparse.Namespace) -> int:
    from hub.topics import Topics, ensure_topics

    try:
        created = set(ensure_topics(settings))
    except HubError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name in Topics.of(settings).all():
        print(f"{name}{'  (created)' if name in created else ''}")
    return 0


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from hub.demo import run_demo

    if _secrets_refused(settings, "the demo"):
        return 2
    return run_demo(
        settings,
        verbose=args.verbose,
        patients=args.patients,
        seed=args.seed,
        report=args.report,
        faults=args.faults.split(",") if args.faults else None,
        record=args.record,
        arrival=args.arrival,
        audit_out=args.audit_out,
        serve=args.serve,
    )


def _normalise(settings: Settings, args: argparse.Namespace) -> int:
    from connectors.base import ConnectorConfig, RawMessage
    from connectors.registry import get_connector
    from hub.headers import EXTENSION_TYPES

    try:
        connector = get_connector(
            args.connector,
            ConnectorConfig(pseudonym_key=settings.pseudonym_secret()),
        )
        payload = Path(args.file).read_bytes()
    except (HubError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    suffix = Path(args.file).suffix.lower()
    content_type = EXTENSION_TYPES.get(suffix, "application/json")
    received = args.received_at or datetime.now(UTC)
    result = connector.process(
        RawMessage(connector.name, payload, received, content_type=content_type)
    )
    if result.rejection is not None:
        r = result.rejection
        where = f" (field {r.field})" if r.field else ""
        print(f"error: {args.file}: rejected [{r.code}]{where}: {r.reason}", file=sys.stderr)
        return 2
    for event in result.events:
        print(event.model_dump_json(exclude_none=True))
    return 0


def _duration(text: str) -> timedelta:
    """``15m``, ``1h``, ``30s``, ``2d`` (or plain seconds)."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if text and text[-1] in units:
            return timedelta(seconds=float(text[:-1]) * units[text[-1]])
        return timedelta(seconds=float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 15m, 1h)") from None


def _instant(text: str) -> datetime:
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    if stamp.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a UTC offset (e.g. Z or +01:00)")
    return stamp.astimezone(UTC)


def _replay(settings: Settings, args: argparse.Namespace) -> int:
    from hub.flow import FlowCore
    from hub.replay import render
    from hub.replay.diff import compare
    from hub.replay.run import replay

    key = settings.pseudonym_secret()
    profiles = args.profile_dir or settings.profile_dir
    policy = args.policy or settings.escalation_policy_file
    missing = [str(f) for f in args.files if not f.is_file()]
    if missing:
        print(f"error: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        partners = args.partner_dir or settings.partner_dir
        core = FlowCore.from_files(profiles, policy, key, None, partners)
        first = replay(args.files, core, args.tick, args.until)
        if not args.diff:
            print(json.dumps(first.as_json(), indent=2) if args.json else render.text(first))
            return 0
        if args.against_profile_dir is None and args.against_policy is None:
            print("error: --diff needs --against-profile-dir or --against-policy", file=sys.stderr)
            return 2
        other = FlowCore.from_files(
            args.against_profile_dir or profiles, args.against_policy or policy, key, None, partners
        )
        diff = compare(first, replay(args.files, other, args.tick, args.until))
    except (HubError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(render.as_dict(diff), indent=2) if args.json else render.diff_text(diff))
    return 0 if diff.empty else 1


def _record(settings: Settings, args: argparse.Namespace) -> int:
    from hub.replay.record import record_files, record_topics

    try:
        with args.out.open("w", encoding="utf-8") as out:
            if args.files:
                if not args.partner or args.received_at is None:
                    print("error: files need --partner and --received-at", file=sys.stderr)
                    return 2
                count = record_files(args.partner, args.received_at, args.files, out)
            else:
                count = record_topics(settings, out, args.start, args.end)
    except (HubError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{count} messages written to {args.out}")
    return 0


def _partners(settings: Settings, args: argparse.Namespace) -> int:
    import yaml

    from hub.partners import load_registry

    directory = args.dir or settings.partner_dir
    try:
        registry = load_registry(directory)
    except HubError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1 if args.action == "validate" else 2
    if args.action == "validate":
        print(f"{len(registry)} partners valid in {directory}: {', '.join(sorted(registry))}")
        return 0
    if args.action == "list":
        print(f"{'ID':<16} {'CONNECTOR':<9} {'ROLE':<22} {'TIME ZONE':<20} ORGANISATION")
        for e in registry.values():
            zone = e.time_zone or "-"
            print(f"{e.id:<16} {e.connector:<9} {e.role:<22} {zone:<20} {e.organisation}")
        return 0
    if args.name not in registry:
        print(f"error: no partner {args.name!r} in {directory}", file=sys.stderr)
        return 2
    entry = registry[args.name]
    if args.action == "show":
        print(yaml.safe_dump(entry.model_dump(mode="json"), sort_keys=False).rstrip())
        return 0
    return _partner_check(settings, directory, args)


def _partner_check(settings: Settings, directory: Path, args: argparse.Namespace) -> int:
    from hub.flow import FlowCore
    from hub.partners.check import check_files

    key = settings.pseudonym_secret()
    try:
        core = FlowCore.from_files(
            settings.profile_dir, settings.escalation_policy_file, key, [args.name], directory
        )
    except HubError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    refused = 0
    for check in check_files(core, args.name, args.files):
        if check.rejection is not None:
            refused += 1
            r = check.rejection
            where = f" (field {r.field})" if r.field else ""
            print(f"{check.path}: REJECTED [{r.code}]{where}: {r.reason}")
        else:
            print(f"{check.path}: {len(check.events)} events")
        for event in check.events:
            ids = event.identifiers.model_dump(exclude_none=True, exclude={"other"})
            print(
                f"  {event.event_type.value:<28} {event.occurred_at.isoformat()}  "
                f"coi={event.coi_id or '-'}  {ids}"
            )
        for warning in check.warnings:
            print(f"  warning: {warning}")
    return 1 if refused else 0


def _catalogue(_settings: Settings, args: argparse.Namespace) -> int:
    from hub.chain.catalogue import Scope, catalogue

    entries = catalogue(Scope.CHAIN) + catalogue(Scope.PARTNER_FEED)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "code": e.code,
                        "title": e.title,
                        "severity": e.severity.value,
                        "owner_role": e.owner_role,
                        "evidence": list(e.evidence),
                        "playbook": list(e.playbook),
                        "playbook_url": e.playbook_url,
                        "timing": e.timing.value,
                        "awaits": [t.value for t in e.awaits],
                        "ends_with_chain": e.ends_with_chain,
                        "scope": e.scope.value,
                    }
                    for e in entries
                ],
                indent=2,
            )
        )
        return 0
    wide = max((len(e.title) for e in entries), default=5)
    print(f"{'CODE':<28} {'SEVERITY':<9} {'TIMING':<15} {'OWNER':<30} {'TITLE':<{wide}} PLAYBOOK")
    for scope, title in ((Scope.CHAIN, "chain"), (Scope.PARTNER_FEED, "partner feed")):
        print(f"-- {title} (case key: {'the COI' if scope is Scope.CHAIN else 'partner:<id>'})")
        for e in (e for e in entries if e.scope is scope):
            print(
                f"{e.code:<28} {e.severity.value:<9} {e.timing.value:<15} {e.owner_role:<30} "
                f"{e.title:<{wide}} {e.playbook_url}"
            )
    print(
        "\ntiming: alarm-at-once = a case when the record arrives, withdrawn by the hub if the "
        "record judged in event-time order does not bear it out; after-lateness = judged in "
        "event-time order once every record that may still arrive within its feeds' allowed "
        "lateness is in; on-tick = judged per partner feed at every clock tick on the hub's "
        "clock, resolved by the hub when the feed recovers"
    )
    return 0


def _ingress(settings: Settings, args: argparse.Namespace) -> int:
    from hub.ingress.http import run_ingress
    from hub.settings import INGRESS_SECRETS
    from hub.topics import ensure_topics

    if _secrets_refused(settings, "ingress", INGRESS_SECRETS):
        return 2
    try:
        ensure_topics(settings)
    except HubError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    run_ingress(settings, args.host, args.port, max_body_bytes=args.max_body_bytes)
    return 0


def _filedrop(settings: Settings, args: argparse.Namespace) -> int:
    import signal
    import threading

    from hub.ingress.filedrop import watch
    from hub.topics import ensure_topics

    stop = threading.Event()
    # SIGTERM ends the watch between files: a file is moved only after Kafka acknowledged it.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        ensure_topics(settings)
        report = watch(settings, args.partner, args.dir, args.interval, once=args.once, stop=stop)
    except (HubError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    print(f"done {len(report.done)}, failed {len(report.failed)}, pending {len(report.pending)}")
    return 1 if report.pending else 0


def _bench(settings: Settings, args: argparse.Namespace) -> int:
    from dataclasses import replace

    from hub.bench.runner import BenchConfig, run_bench

    cfg = BenchConfig.quick() if args.quick else BenchConfig()
    sizes = {
        "chains": args.chains,
        "messages": args.messages,
        "events": args.events,
        "rows": args.rows,
        "rate": args.rate,
        "duration_s": args.duration,
        "holds": args.holds,
    }
    cfg = replace(cfg, **{k: v for k, v in sizes.items() if v is not None})
    cfg = replace(cfg, restart=not args.no_restart, keep=args.keep, audit_compare=args.audit)
    try:
        report = run_bench(settings, cfg, settings.data_dir.parent / "bench")
    except (HubError, ValueError, RuntimeError, TimeoutError) as exc:
        print(f"error: benchmark failed: {exc}", file=sys.stderr)
        return 1
    print()
    print(report.table())
    if args.report is not None:
        report.write(args.report)
        print(f"\nreport written to {args.report}")
    return 0


def _auth(settings: Settings, args: argparse.Namespace) -> int:
    from hub.auth.signatures import Sealer

    try:
        if args.action == "dev-token":
            from hub.auth.devidp import DevIdentityProvider

            if not args.user or not args.role:
                print("error: dev-token needs --user and at least one --role", file=sys.stderr)
                return 2
            idp = DevIdentityProvider(settings).ensure()
            print(
                idp.mint(
                    args.user,
                    args.role,
                    name=args.name,
                    minutes=args.minutes,
                    auth_age=timedelta(minutes=args.auth_age),
                )
            )
            return 0
        if args.action == "keygen":
            import secrets

            seed = secrets.token_bytes(32)
            sealer = Sealer(seed)
            print(f"V2V_SIGNATURE_KEY={seed.hex()}")
            print(f"# public key {sealer.public_hex} (key id {sealer.key_id})", file=sys.stderr)
            return 0
        sealer = Sealer(settings.signature_seed())
        print(json.dumps({"algorithm": "Ed25519", "key_id": sealer.key_id,
                          "public_key": sealer.public_hex}))  # fmt: skip
        return 0
    except (HubError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="v2v", description="v2v-hub: vein-to-vein integration hub"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start a hub worker").set_defaults(fn=_run)
    sub.add_parser("topics", help="create the topics").set_defaults(fn=_topics)
    demo = sub.add_parser("demo", help="run the simulated network demo on the real local stack")
    demo.add_argument("--verbose", action="store_true", help="print every chain and case")
    demo.add_argument("--patients", type=int, default=50, help="patients in the network (50)")
    demo.add_argument("--seed", type=int, default=7, help="simulation seed (7)")
    demo.add_argument("--report", type=Path, help="also write the report as JSON to this file")
    demo.add_argument(
        "--faults", help="comma-separated faults to inject (default: every code if room)"
    )
    demo.add_argument(
        "--record", type=Path, help="also write the partner traffic as a v2v replay recording"
    )
    demo.add_argument(
        "--audit-out", type=Path, help="export the run's audit trail here and verify it"
    )
    demo.add_argument(
        "--arrival",
        choices=("ordered", "realistic"),
        default="realistic",
        help="how partner messages arrive: as partners really deliver them (realistic: latency "
        "per feed, batch jobs, retries, resends, a few records beyond allowed lateness) or a "
        "few minutes after each fact, in order (ordered)",
    )
    demo.add_argument(
        "--serve",
        action="store_true",
        help="after the demo keep the worker and its console running until Ctrl-C "
        "(on V2V_WEB_PORT, default 6066); prints the URL and a development sign-in",
    )
    demo.set_defaults(fn=_demo)
    norm = sub.add_parser("normalise", help="normalise a partner file offline")
    norm.add_argument("--connector", required=True)
    norm.add_argument("file")
    norm.add_argument(
        "--received-at", type=_instant, help="the hub's receipt time to record (default: now)"
    )
    norm.set_defaults(fn=_normalise)
    cat = sub.add_parser("catalogue", help="print the exception catalogue")
    cat.add_argument("--json", action="store_true")
    cat.set_defaults(fn=_catalogue)
    ingress = sub.add_parser("ingress", help="serve HTTP ingress (POST /ingest/{partner})")
    ingress.add_argument("--host", default="127.0.0.1")
    ingress.add_argument("--port", type=int, default=8088)
    ingress.add_argument(
        "--max-body-bytes",
        type=int,
        default=None,
        help="larger request bodies get 413 (default V2V_HTTP_MAX_BODY_BYTES, 10 MiB)",
    )
    ingress.set_defaults(fn=_ingress)
    drop = sub.add_parser("filedrop", help="watch a folder of partner files")
    drop.add_argument("--partner", required=True, help="connector name (raw feed)")
    drop.add_argument("--dir", required=True, type=Path, help="folder to watch")
    drop.add_argument("--interval", type=float, default=2.0, help="poll interval in seconds")
    drop.add_argument("--once", action="store_true", help="one pass, then exit (1 if pending)")
    drop.set_defaults(fn=_filedrop)
    rep = sub.add_parser("replay", help="replay recorded traffic through the flow core")
    rep.add_argument("files", nargs="+", type=Path, metavar="FILE", help="JSON Lines recordings")
    rep.add_argument("--profile-dir", type=Path, help="product profiles (default: settings)")
    rep.add_argument("--policy", type=Path, help="escalation policy (default: settings)")
    rep.add_argument("--partner-dir", type=Path, help="partner registry (default: settings)")
    rep.add_argument("--tick", type=_duration, default=timedelta(minutes=15), help="e.g. 15m")
    rep.add_argument("--until", type=_instant, help="last tick (default: last line + 1 day)")
    rep.add_argument("--json", action="store_true", help="one JSON object instead of tables")
    rep.add_argument("--diff", action="store_true", help="compare with a second configuration")
    rep.add_argument("--against-profile-dir", type=Path, help="with --diff: the other profiles")
    rep.add_argument("--against-policy", type=Path, help="with --diff: the other policy")
    rep.set_defaults(fn=_replay)
    rec = sub.add_parser("record", help="write partner traffic as a replay recording")
    rec.add_argument("--out", type=Path, required=True, help="the JSON Lines file to write")
    rec.add_argument("--from", dest="start", type=_instant, help="received at or after")
    rec.add_argument("--to", dest="end", type=_instant, help="received before")
    rec.add_argument("--partner", help="with FILEs: the connector they are for")
    rec.add_argument("--received-at", type=_instant, help="with FILEs: their receipt time")
    rec.add_argument("files", nargs="*", type=Path, metavar="FILE", help="partner files")
    rec.set_defaults(fn=_record)
    part = sub.add_parser("partners", help="the partner registry")
    part.add_argument("action", choices=["list", "show", "validate", "check"])
    part.add_argument("name", nargs="?", help="a partner id (show, check)")
    part.add_argument("files", nargs="*", type=Path, metavar="FILE", help="check: sample files")
    part.add_argument("--dir", type=Path, help="registry folder (default: V2V_PARTNER_DIR)")
    part.set_defaults(fn=_partners)
    bench = sub.add_parser("bench", help="benchmark the hub on the real stack")
    bench.add_argument("--quick", action="store_true", help="small CI-sized run (< 1 min)")
    bench.add_argument("--chains", type=int, help="active chains (default 10,000)")
    bench.add_argument("--messages", type=int, help="raw messages in the throughput phase")
    bench.add_argument("--events", type=int, help="size the run by canonical events instead")
    bench.add_argument("--rows", type=int, help="readings per logger export (default 20)")
    bench.add_argument("--rate", type=float, help="offered events/s in the latency phase")
    bench.add_argument("--duration", type=float, help="seconds of the latency phase")
    bench.add_argument("--holds", type=int, help="customs holds (latency samples)")
    bench.add_argument("--no-restart", action="store_true", help="skip the restart phase")
    bench.add_argument("--keep", action="store_true", help="keep the run's topics and keys")
    bench.add_argument(
        "--audit", action="store_true", help="also measure throughput with the audit trail off"
    )
    bench.add_argument("--report", type=Path, help="write the report as JSON to this file")
    bench.set_defaults(fn=_bench)
    auth = sub.add_parser("auth", help="tokens and e-signature keys (docs/security.md)")
    auth.add_argument("action", choices=["dev-token", "keygen", "seal-key"])
    auth.add_argument("--user", help="dev-token: the subject (e.g. qp-anna)")
    auth.add_argument(
        "--role", action="append", default=[], help="dev-token: a role (repeat for more)"
    )
    auth.add_argument("--name", help="dev-token: printed name (default: the user)")
    auth.add_argument("--minutes", type=float, default=60.0, help="dev-token: validity (60)")
    auth.add_argument(
        "--auth-age",
        type=float,
        default=0.0,
        help="dev-token: minutes since the person authenticated (auth_time), default 0",
    )
    auth.set_defaults(fn=_auth)

    from hub.audit.cli import register as register_audit

    register_audit(sub, _instant)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except Exception as exc:
        print(f"error: invalid settings: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    code: int = args.fn(settings, args)
    return code


if __name__ == "__main__":
    sys.exit(main())
