"""Which variant a job's ``model`` setting names: a variant directory, a models-table id
``<run_id>/<epoch>/<variant>``, or an alias (``production``: the variant deployed from the checkpoint it points
at). Read with delta-rs: batch scoring, each micro-batch of a stream and the service's alias polls share it, and
none of them starts a Spark job for it."""

from __future__ import annotations

from dataclasses import dataclass

from sora_model.lake import delta, storage
from sora_model.lake.aliases import AliasEntry, AliasHistory, is_alias_name
from sora_model.lake.card import CARD_FILE, ModelCard, parse_model_id, read_card
from sora_model.lake.layout import LakeLayout
from sora_model.train.model_spec import require_model_class


@dataclass(frozen=True)
class ModelRef:
    """A variant directory, and the alias entry that named it when one did (lineage: predictions record both)."""

    uri: str
    alias: AliasEntry | None = None


@dataclass(frozen=True)
class ResolvedModel:
    """A variant directory with its model card, and the alias entry that named it when one did."""

    uri: str
    card: ModelCard
    alias: AliasEntry | None = None


def locate_model(lake_uri: str, model: str) -> ModelRef:
    """Where ``model`` points now; ValueError saying what exists when it names nothing."""
    if not model:
        raise ValueError("model is required: an alias (production), a models-table id <run_id>/<epoch>/<variant> "
                         "or a variant directory")
    if storage.is_file(storage.join(model, CARD_FILE)):
        return ModelRef(storage.normalize(model))
    layout = LakeLayout.of(lake_uri)
    if is_alias_name(model):
        rows = delta.read_rows(lake_uri, "aliases")
        entry = AliasHistory.from_rows(model, rows).current
        if entry is None:
            known = sorted({r["alias"] for r in rows})
            raise ValueError(f"alias {model!r} is not set in {layout.table('aliases')} (aliases there: "
                             f"{', '.join(known) or 'none'}); set it with "
                             f"`python jobs/alias.py --alias {model} --set <model id>`")
        return ModelRef(entry.serving_uri, entry)
    parsed = parse_model_id(model)
    if parsed is None:
        raise ValueError(f"model {model!r} is neither an alias, a variant directory (with {CARD_FILE}) nor an id "
                         "<run_id>/<epoch>/<variant>")
    import pyarrow.compute as pc

    run_id, epoch, variant = parsed
    where = (pc.field("run_id") == run_id) & (pc.field("epoch") == epoch) & (pc.field("variant") == variant)
    rows = delta.read_rows(lake_uri, "models", ["uri"], where=where)
    if not rows:
        raise ValueError(f"no model {model!r} in {layout.table('models')} (register it first: training and "
                         "jobs/compress.py do)")
    return ModelRef(rows[0]["uri"])


def resolve_model(lake_uri: str, model: str) -> ResolvedModel:
    """``locate_model`` with the variant's card. A PyTorch variant of a user's model class is imported here too:
    a class missing from the job's Python path fails in one line where the job starts, not in every task."""
    ref = locate_model(lake_uri, model)
    card = read_card(ref.uri)
    require_model_class(card)
    return ResolvedModel(ref.uri, card, ref.alias)
