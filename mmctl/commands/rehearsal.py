"""`mmctl rehearsal`: build the pre-live pack (config, build, soak verdict, audit, secrets, venue)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from mmctl import render
from mmctl.app import Run
from mmctl.exit_codes import ExitCode


def rehearsal(
    ctx: typer.Context,
    soak_root: Annotated[Path, typer.Option("--soak-root", help="Where soak runs live.")] = Path("artifacts/soak"),
    audit_dir: Annotated[Path, typer.Option("--audit-dir", help="Where `mmctl audit` wrote audit.json.")
                         ] = Path("artifacts/audit"),
    soak_max_age_h: Annotated[float, typer.Option("--soak-max-age-h", min=0.0, help="Oldest acceptable soak.")
                              ] = 168.0,
    audit_max_age_h: Annotated[float, typer.Option("--audit-max-age-h", min=0.0, help="Oldest acceptable audit.")
                               ] = 168.0,
    strict_audit: Annotated[bool, typer.Option("--strict-audit", help="Audit tools skipped/unavailable fail.")
                            ] = False,
    rest_url: Annotated[str | None, typer.Option("--rest-url", help="Venue REST URL override (e.g. mmctl sim).")
                        ] = None,
    out_root: Annotated[Path | None, typer.Option("--out", help="Pack root (default <state_dir>/rehearsal).")
                        ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
) -> None:
    """Write a dated pack dir with manifest.json and SHA256SUMS. Exit 0 every part passed, 6 any failed."""
    from mmctl.ops.rehearsal import RehearsalOptions, run_rehearsal

    run: Run = ctx.obj
    opts = RehearsalOptions(soak_root=soak_root, audit_dir=audit_dir, soak_max_age_h=soak_max_age_h,
                            audit_max_age_h=audit_max_age_h, strict_audit=strict_audit, rest_url=rest_url,
                            out_root=out_root, env=dict(os.environ))
    result = run_rehearsal(run.config, opts)
    if run.json or json_out:
        render.emit_json({"ok": result.ok, "pack": str(result.pack_dir),
                          "parts": [{"name": p.name, "ok": p.ok, "detail": p.detail} for p in result.parts]})
    else:
        render.table(f"rehearsal pack: {'PASS' if result.ok else 'FAIL'}", ["part", "result", "detail"],
                     [(p.name, "pass" if p.ok else "FAIL", p.detail) for p in result.parts])
        render.console().print(f"pack: {result.pack_dir}")
    raise typer.Exit(ExitCode.OK if result.ok else ExitCode.FINDINGS)


app = typer.Typer(help="Build the pre-live rehearsal pack.")
app.command("rehearsal")(rehearsal)
