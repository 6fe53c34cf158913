"""python jobs/alias.py [--alias production] [--set MODEL_ID | --rollback] [--reason TEXT] [key=value ...]

Shows or changes where a model alias points (default: production, the model in use, which the cycle compares
candidates with and `score` runs by default). Every change is a new row of the lake's aliases table, with who,
when and why: --set MODEL_ID points the alias at a registered model (a checkpoint <run_id>/<epoch>/fp32 serves
itself; a variant id such as <run_id>/<epoch>/int8-static points at its checkpoint and serves that variant);
--rollback points it back at what it pointed at before. Without either, prints the alias's history.
"""

from __future__ import annotations

import sys

from jobs.cli import parse, parser_for, run_main, run_spark_job


class _History:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def render(self) -> str:
        return "\n".join(self.lines)


def main(argv: list[str] | None = None) -> int:
    from pipelines.models import AliasConfig
    from sora_model.lake.aliases import PRODUCTION

    parser = parser_for(AliasConfig, __doc__.strip().split("\n\n")[1].replace("\n", " "), "jobs/alias.py")
    parser.add_argument("--alias", default=PRODUCTION, help=f"the alias to show or change (default {PRODUCTION})")
    change = parser.add_mutually_exclusive_group()
    change.add_argument("--set", metavar="MODEL_ID", help="point the alias at this models-table id")
    change.add_argument("--rollback", action="store_true", help="point the alias back at its previous model")
    parser.add_argument("--reason", default="", help="why (kept in the alias's history)")
    args, cfg = parse(parser, AliasConfig, argv)
    if cfg is None:
        return 0

    def run(spark) -> _History:  # noqa: ANN001
        from pipelines.models import alias_history, rollback_alias, set_alias
        from pipelines.tables import Tables
        from sora_model.lake.lock import lake_lock

        tables = Tables(spark, cfg.lake_uri)
        lines = []
        if args.set:
            with lake_lock(cfg.lake_uri, "alias", "cli", cfg.lock):
                entry = set_alias(tables, args.alias, args.set, args.reason or "set by hand")
            lines.append(f"{args.alias} already points at {args.set}" if entry is None else f"set: {entry.describe()}")
        elif args.rollback:
            with lake_lock(cfg.lake_uri, "alias", "cli", cfg.lock):
                entry = rollback_alias(tables, args.alias, args.reason or "rolled back by hand")
            lines.append(f"rolled back: {entry.describe()}")
        history = alias_history(tables, args.alias)
        lines.append(f"history of {args.alias} ({tables.layout.table('aliases')}):")
        lines += [f"  {e.describe()}" for e in history.entries] or ["  (never set)"]
        return _History(lines)

    return run_spark_job(cfg.spark, run, lake_uri=cfg.lake_uri)


if __name__ == "__main__":
    sys.exit(run_main(main))
