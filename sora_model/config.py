"""Typed configuration: frozen dataclasses merged as defaults < YAML < CLI ``key=value`` overrides.

Every job has one top-level config dataclass whose fields are scalars or nested config dataclasses. Field
docstrings (the string literal right after a field) are the documentation: ``describe`` turns them into the
``--help`` text, so an option cannot exist without an explanation.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import textwrap
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration value or key is wrong; the message names it."""


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_config(tp: Any) -> bool:
    return inspect.isclass(tp) and dataclasses.is_dataclass(tp)


def _config_or_str(tp: Any) -> type | None:
    """The config dataclass of a ``SomeConfig | str`` field (a section, or a string naming something in its place,
    like ``train.model``: the built-in model's options or a user's model class), else None."""
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return None
    args = set(typing.get_args(tp))
    configs = [a for a in args if _is_config(a)]
    return configs[0] if len(configs) == 1 and args - {configs[0]} == {str} else None


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Turn a YAML/CLI value into the field's declared type, or raise ConfigError naming the key."""
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise ConfigError(f"{key}: expected one of {', '.join(map(str, choices))}, got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() in ("null", "none", "~")):
            return None
        return _coerce(value, args[0], key)
    if origin in (list, tuple):
        (item_tp, *_) = typing.get_args(tp) or (Any,)
        if isinstance(value, str):
            value = yaml.safe_load(value) if value.strip().startswith("[") else [v for v in value.split(",") if v]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        items = [_coerce(v, item_tp, key) for v in value]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if isinstance(value, str):
            value = yaml.safe_load(value)
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        # dict[str, Any] keeps YAML's values and nesting (a user class's keywords); dict[str, str] is a flat map
        # of dotted keys (spark.conf).
        return dict(value) if typing.get_args(tp)[1:] == (Any,) else flatten(value)
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("false", "no", "0", "off"):
            return False
        raise ConfigError(f"{key}: expected true/false, got {value!r}")
    if tp in (int, float):
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        try:
            number = tp(value) if not (tp is int and isinstance(value, float)) else value
        except (TypeError, ValueError):
            raise ConfigError(f"{key}: expected {tp.__name__}, got {value!r}") from None
        if tp is int and (isinstance(number, float) or float(number) != float(value)):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return number
    if tp is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return str(value)
    raise ConfigError(f"{key}: unsupported field type {tp!r}")


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """A nested dict as dotted keys with string values (booleans as true/false)."""
    # A dict-valued option (spark.conf) has dotted keys of its own; an override like
    # spark.conf.spark.ui.enabled=false arrives split on the dots and is joined back here.
    out: dict[str, str] = {}
    for k, v in tree.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = str(v).lower() if isinstance(v, bool) else str(v)
    return out


def build(cls: type[T], data: dict[str, Any] | None, prefix: str = "") -> T:
    """Build ``cls`` from a nested mapping; unknown keys are an error (a typo must not pass silently)."""
    data = dict(data or {})
    hints = _field_types(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"unknown config key(s) {', '.join(prefix + u for u in unknown)}; "
                          f"valid keys under '{prefix or '<root>'}': {', '.join(sorted(names))}")
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        tp, key = hints[f.name], prefix + f.name
        either = _config_or_str(tp)
        if either is not None:
            value = data[f.name]
            if not isinstance(value, (dict, str)):
                raise ConfigError(f"{key}: expected a mapping of {either.__name__} keys or a string, got {value!r}")
            kwargs[f.name] = build(either, value, key + ".") if isinstance(value, dict) else value
        elif _is_config(tp):
            value = data[f.name]
            if not isinstance(value, dict):
                raise ConfigError(f"{key}: expected a mapping of {tp.__name__} keys, got {value!r}")
            kwargs[f.name] = build(tp, value, key + ".")
        else:
            kwargs[f.name] = _coerce(data[f.name], tp, key)
    try:
        return cls(**kwargs)
    except ValueError as e:  # __post_init__ checks raise ValueError; name the section
        raise ConfigError(f"{prefix.rstrip('.') or cls.__name__}: {e}") from None


def _set_path(tree: dict[str, Any], dotted: str, value: Any) -> None:
    node = tree
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {dotted}: '{part}' is not a section")
    node[parts[-1]] = value


def parse_overrides(overrides: list[str]) -> dict[str, Any]:
    """``["clip.mode=shots", "decode.height_px=64"]`` -> nested dict of YAML-parsed scalars."""
    tree: dict[str, Any] = {}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not key=value (e.g. decode.height_px=64)")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as e:
            # Usually quoting that the shell kept: "model.widths='[8,16]'" reaches here with its quotes.
            raise ConfigError(f"override {item!r}: its value is not YAML ({str(e).splitlines()[0]}); write lists "
                              f"and strings as YAML without extra quotes, e.g. model.widths=[8,16]") from e
        _set_path(tree, key.strip(), value)
    return tree


def merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``top`` over ``base``, section by section."""
    out = dict(base)
    for k, v in top.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def read_yaml(path: Path) -> Any:  # noqa: ANN401 - whatever the file holds
    """``yaml.safe_load`` of a file, plus ``!include <file>``: another YAML file (its path relative to this one) as
    a value, so one job's conf file can be a section of another's (the cycle's ``curate: !include ../local.yaml``)."""

    class Loader(yaml.SafeLoader):
        pass

    def include(loader: yaml.SafeLoader, node: yaml.Node) -> Any:  # noqa: ANN401
        target = path.parent / str(loader.construct_scalar(node))
        if not target.is_file():
            raise ConfigError(f"{path}: !include {target} does not exist")
        return read_yaml(target)

    Loader.add_constructor("!include", include)
    return yaml.load(path.read_text(), Loader=Loader)  # noqa: S506 - a SafeLoader with one more tag


def load(cls: type[T], conf_file: str | Path | None = None, overrides: list[str] | None = None) -> T:
    """Resolve a job config: dataclass defaults < YAML file < ``key=value`` overrides."""
    data: dict[str, Any] = {}
    if conf_file is not None:
        path = Path(conf_file)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        loaded = read_yaml(path) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must hold a mapping at the top level")
        data = loaded
    data = merge(data, parse_overrides(overrides or []))
    return build(cls, data)


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain nested dict (tuples as lists) for YAML and JSON."""
    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v
    return plain(cfg)


SECRET_KEY = re.compile(r"(?<![a-z0-9])(secret|password|passwd|token|credentials?|(access|private|session|api)[._-]?key)"
                        r"(?![a-z])")
"""Keys (camelCase spelt snake_case, lower case) whose values are never saved or shown: a run's config.yaml, the
tables' config_yaml, --print-config, MLflow. Whole words only: ``tokens_per_batch`` is no secret."""
REDACTED = "<redacted>"
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/@:\s]*:)[^/@\s]+@", re.IGNORECASE)


def _names_secret(key: str) -> bool:
    return bool(SECRET_KEY.search(re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key).lower()))


def redacted(tree: Any) -> Any:  # noqa: ANN401 - a config dict as to_dict gives it
    """``tree`` with the value of every key that names a secret (at any depth, spark.conf's keys too) replaced by
    REDACTED, and the password of any URL with one (``scheme://user:password@host``) too."""
    if isinstance(tree, dict):
        return {k: (REDACTED if v not in (None, "") and _names_secret(str(k)) else redacted(v))
                for k, v in tree.items()}
    if isinstance(tree, list):
        return [redacted(v) for v in tree]
    if isinstance(tree, str):
        return _URL_PASSWORD.sub(lambda m: f"{m.group('head')}{REDACTED}@", tree)
    return tree


def to_yaml(cfg: Any) -> str:
    """The config as YAML, to save or show: secrets redacted (``redacted``), so what it writes cannot run again
    with them; jobs read their secrets from where they were given."""
    return yaml.safe_dump(redacted(to_dict(cfg)), sort_keys=False)


def field_docs(cls: type) -> dict[str, str]:
    """Docstrings written right after each field of a dataclass (the attribute-docstring convention), a field a
    subclass declares again documented by the subclass."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if dataclasses.is_dataclass(klass):
            docs.update(_own_field_docs(klass))
    return docs


def _own_field_docs(cls: type) -> dict[str, str]:
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    tree = ast.parse(source)
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    docs: dict[str, str] = {}
    for node, nxt in zip(body, body[1:]):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)):
            docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs


def describe(cls: type, prefix: str = "", defaults: Any = None) -> list[tuple[str, str, str]]:
    """(dotted key, default, doc) for every leaf option, for ``--help``."""
    rows: list[tuple[str, str, str]] = []
    docs = field_docs(cls)
    hints = _field_types(cls)
    defaults = cls() if defaults is None else defaults  # a parent's default_factory may differ from cls()
    for f in dataclasses.fields(cls):
        tp, default = hints[f.name], getattr(defaults, f.name)
        either = _config_or_str(tp)
        if either is not None:
            # The string's meaning, then the section's options (shown with the section's defaults).
            shown = repr(default) if isinstance(default, str) else f"the {prefix + f.name}.* section"
            rows.append((prefix + f.name, shown, docs.get(f.name, "")))
            rows.extend(describe(either, prefix + f.name + ".", default if _is_config(type(default)) else None))
        elif _is_config(tp):
            rows.extend(describe(tp, prefix + f.name + ".", default))
        else:
            rows.append((prefix + f.name, repr(default), docs.get(f.name, "")))
    return rows


def help_text(cls: type) -> str:
    lines = []
    for key, default, doc in describe(cls):
        lines.append(f"  {key} (default {default})")
        if doc:
            lines.extend("      " + line for line in textwrap.wrap(doc, 96))
    return "\n".join(lines)


def markdown_table(cls: type, elsewhere: tuple[str, ...] = (), skip: tuple[str, ...] = ()) -> str:
    """The docs' configuration reference, generated so it cannot drift from the code. Sections named in
    ``elsewhere`` (another job's config, documented in its own table) get one row: their field docstring; keys
    under ``skip`` (documented in another table) none."""
    lines = ["| key | default | meaning |", "|---|---|---|"]
    docs = field_docs(cls)
    for section in elsewhere:
        lines.append(f"| `{section}.*` | | {docs.get(section, '')} |")
    for key, default, doc in describe(cls):
        if key.split(".", 1)[0] in elsewhere or key.split(".", 1)[0] in skip:
            continue
        shown = f"`{default}`" if len(default) <= 40 else "see `--help`"
        lines.append(f"| `{key}` | {shown} | {doc} |")
    return "\n".join(lines) + "\n"
