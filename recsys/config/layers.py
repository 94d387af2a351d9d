"""The one resolver of the effective configuration, and the layers it is built from.

    defaults (or a base: the published run's config for a refresh)
      -> DATA_DIR/tuned.yaml (if present)   written by `recsys tune`
      -> the explicit layer                  --config FILE.yaml, then each --set a.b=c

Later layers win. The explicit layer is a `PipelineConfig` that remembers which keys were
given (pydantic's fields_set): the CLI builds it from --config and --set, a deployment from
its `config` parameter in prefect.yaml, and every flow calls `resolve_config` with it, so a
flow started either way starts from tuned.yaml and only the given keys override it. Every
value is validated: a typo in a key or a value of the wrong type is a usage error (exit 2).
"""

from __future__ import annotations

import copy
import difflib
import reprlib
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from recsys.config.pipeline import PipelineConfig
from recsys.config.section import MOVED, REMOVED
from recsys.errors import UsageError
from recsys.layout import tuned_path


class _UniqueKeys(yaml.SafeLoader):
    """`yaml.safe_load` that refuses a mapping naming one key twice: PyYAML keeps the last
    value silently, so a second `train:` section would drop every key of the first."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` may be overridden
                    continue
                key = self.construct_object(key_node, deep=deep)
                try:
                    twice = key in seen
                    seen.add(key)
                except TypeError:  # an unhashable key: the constructor below names it
                    break
                if twice:
                    raise yaml.constructor.ConstructorError(
                        problem=f"key {_shown(key)} given twice in one mapping",
                        problem_mark=key_node.start_mark,
                    )
        return super().construct_mapping(node, deep=deep)


def _load(text: str) -> Any:
    return yaml.load(text, Loader=_UniqueKeys)  # a SafeLoader: no Python objects built


def _set_dotted(tree: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = tree
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise UsageError(f"--set {key}: '{part}' is a value, not a section")
        node = child
    node[parts[-1]] = value


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_override(item: str) -> tuple[str, Any]:
    """Split `a.b=c`; the value is read as YAML so `1`, `0.5`, `false`, `[a, b]` get types."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise UsageError(f"--set expects key=value, got '{item}'")
    if not all(part.isidentifier() for part in key.strip().split(".")):
        raise UsageError(f"--set {key.strip()!r}: a key is dotted names, e.g. train.epochs")
    if raw.lstrip().startswith("%"):
        # YAML reserves a leading % for directives, so no YAML value starts with one: it is
        # text (a strptime format such as %d-%m-%Y), not an error to quote around.
        return key.strip(), bounded(raw.strip(), f"--set {key.strip()}")
    try:
        value = _load(raw) if raw.strip() else None
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: a date that does not exist
        raise UsageError(f"--set {key}: cannot parse value {raw!r}: {_yaml_problem(exc)}") from exc
    except RecursionError as exc:
        raise UsageError(f"--set {key}: the value is nested too deeply") from exc
    return key.strip(), bounded(value, f"--set {key.strip()}")


# A config file is a few kilobytes; a bigger one was named by mistake (a data file).
MAX_CONFIG_BYTES = 1 << 20
# Bounds on what a config's YAML may expand to: aliases can make 600 bytes into 9**9 values
# ("billion laughs"), and deep nesting exhausts Python's recursion further on.
MAX_CONFIG_VALUES = 100_000
MAX_CONFIG_DEPTH = 50


def bounded(data: Any, origin: str) -> Any:
    """`data` if it holds at most MAX_CONFIG_VALUES values nested at most MAX_CONFIG_DEPTH
    deep (aliases counted each time they are used), else UsageError naming `origin`."""
    stack, count = [(data, 0)], 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_CONFIG_VALUES:
            raise UsageError(
                f"{origin} expands to more than {MAX_CONFIG_VALUES:,} values (YAML aliases?): "
                "not a config"
            )
        if depth > MAX_CONFIG_DEPTH:
            raise UsageError(f"{origin} is nested more than {MAX_CONFIG_DEPTH} levels deep")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return data


def _yaml_problem(exc: yaml.YAMLError | ValueError) -> str:
    """PyYAML's multi-line report as one line: the problem and where it is. (PyYAML reads
    `2024-02-30` as a date and lets the ValueError of a day that does not exist through.)"""
    if not isinstance(exc, yaml.YAMLError):
        return f"not a date: {exc}"
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{problem}{where}"


def read_yaml(path: Path) -> dict[str, Any]:
    """The mapping in a YAML config file; UsageError (one line) for anything else.

    Only a regular file of at most MAX_CONFIG_BYTES is opened: a FIFO or device would block
    or never end, a directory or a binary file is a wrong argument."""
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError as exc:
        raise UsageError(f"config file not found: {path}") from exc
    except OSError as exc:
        raise UsageError(f"config file {path}: {exc.strerror}") from exc
    if stat.S_ISDIR(info.st_mode):
        raise UsageError(f"config file {path} is a directory, not a YAML file")
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"config file {path} is not a regular file")
    if info.st_size > MAX_CONFIG_BYTES:
        raise UsageError(f"config file {path} has {info.st_size:,} bytes: not a config file")
    try:
        data = _load(path.read_bytes().decode("utf-8")) or {}
    except UnicodeDecodeError as exc:
        raise UsageError(f"config file {path} is not UTF-8 text (a binary file?)") from exc
    except OSError as exc:
        raise UsageError(f"config file {path}: {exc.strerror}") from exc
    except (yaml.YAMLError, ValueError) as exc:
        raise UsageError(f"config file {path} is not valid YAML: {_yaml_problem(exc)}") from exc
    except RecursionError as exc:
        raise UsageError(f"config file {path} is nested too deeply") from exc
    if not isinstance(data, dict):
        raise UsageError(f"config file {path} must hold a mapping at the top level")
    return bounded(data, f"config file {path}")


def _keys_at(loc: tuple) -> list[str]:
    """The keys the config accepts where `loc` (a validation error's path) ends."""
    model: Any = PipelineConfig
    for part in loc[:-1]:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def _shown(value: Any) -> str:
    # reprlib stops early: repr() of a large aliased structure never ends
    text = _SHORT.repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict, _SHORT.maxstring = 3, 6, 6, 60


def _validated(tree: dict[str, Any]) -> PipelineConfig:
    try:
        return PipelineConfig.model_validate(tree)
    except ValidationError as exc:
        first = exc.errors()[0]
        # pydantic adds a union member's tag ("constrained-int") to the path: not a key
        loc = tuple(p for p in first["loc"] if isinstance(p, int) or str(p).isidentifier())
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        if first["type"] == "extra_forbidden" and (not loc or loc[-1] != first["loc"][-1]):
            raise UsageError(
                f"config: unknown key {_shown(first['loc'][-1])} in {where or 'the top level'}"
            ) from exc
        if first["type"] == "extra_forbidden":
            known = _keys_at(loc)
            close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
            parent = ".".join(str(p) for p in loc[:-1])
            hint = f"; did you mean {'.'.join(filter(None, [parent, close[0]]))}?" if close else ""
            if where in REMOVED:
                hint = f" (removed: {REMOVED[where]})"
            raise UsageError(f"config {where}: unknown key{hint}") from exc
        message = first["msg"].removeprefix("Value error, ")
        given = (
            "" if first["type"].startswith("value_error") else f" (got {_shown(first['input'])})"
        )
        raise UsageError(f"config {where}: {message}{given}") from exc


def load_config(
    layers: list[Path | None] = (), overrides: list[str] = (), base: dict | None = None
) -> PipelineConfig:
    """A config from `base`, YAML layers (earliest first, None skipped) and `--set` items.

    The result remembers which keys were given, so it serves as the explicit layer of
    `resolve_config` (the CLI's --config and --set)."""
    tree: dict[str, Any] = dict(base or {})
    for layer in layers:
        if layer is not None:
            tree = _merge(tree, read_yaml(layer))
    for item in overrides:
        key, value = parse_override(item)
        _set_dotted(tree, key, value)
    return _validated(tree)


def given_keys(explicit: PipelineConfig | dict | None) -> dict[str, Any]:
    """The keys an explicit layer sets (a dict as given, a config's fields_set)."""
    if explicit is None:
        return {}
    if isinstance(explicit, PipelineConfig):
        return explicit.model_dump(exclude_unset=True)
    return dict(explicit)


def resolve_config(
    explicit: PipelineConfig | dict | None = None,
    *,
    data_dir: Path | str | None = None,
    base: dict | None = None,
    on_bad_tuned: Callable[[str], None] | None = None,
) -> PipelineConfig:
    """The effective configuration: `base` (default: the defaults), then
    DATA_DIR/tuned.yaml when `data_dir` is given and holds one, then the keys `explicit`
    sets (see `given_keys`).

    An unreadable or invalid tuned.yaml is a UsageError, unless `on_bad_tuned` is given:
    then it is called with the problem and the file is skipped. A search passes it, since
    it replaces the file (refusing would leave no way to repair it but by hand)."""
    tree: dict[str, Any] = dict(base or {})
    tuned = None if data_dir is None else tuned_path(data_dir)
    if tuned is not None and tuned.exists() and not tuned.is_file():
        # A folder (or a device) there was skipped by runs and broke a search at its end.
        raise UsageError(f"{tuned}: not a regular file (remove it)")
    if tuned is not None and tuned.is_file():
        try:
            layer = read_yaml(tuned)
            _validated(_merge(tree, layer))
        except UsageError as exc:  # a bad value there is named with the file it is in
            problem = str(exc) if str(tuned) in str(exc) else f"{tuned}: {exc}"
            if on_bad_tuned is None:
                raise UsageError(f"{problem} (fix it, or `recsys tune` replaces it)") from exc
            on_bad_tuned(problem)
        else:
            tree = _merge(tree, layer)
    return _validated(_merge(tree, given_keys(explicit)))


def with_keys(explicit: PipelineConfig | dict | None, keys: dict[str, Any]) -> PipelineConfig:
    """An explicit layer that also sets `keys` (e.g. a backfill's pipeline run: incremental)."""
    return _validated(_merge(given_keys(explicit), keys))


def refresh_config(champion: dict, explicit: PipelineConfig | dict | None) -> PipelineConfig:
    """A refresh's configuration: the champion's (its published config tree), the explicit
    keys over it, incremental extraction, and the champion's training settings and scoring
    whatever is given: those describe the vectors being reused, not a choice."""
    champion = migrate_config(champion)
    trained = _validated(champion)
    cfg = resolve_config(explicit, base=champion)
    return cfg.model_copy(
        update={
            "extract": cfg.extract.model_copy(update={"incremental": True}),
            "train": trained.train,
            "export": cfg.export.model_copy(update={"scoring": trained.export.scoring}),
        }
    )


def _pop(tree: dict[str, Any], dotted: str) -> tuple[bool, Any]:
    *parents, last = dotted.split(".")
    node = tree
    for part in parents:
        node = node.get(part)
        if not isinstance(node, dict):
            return False, None
    return (True, node.pop(last)) if last in node else (False, None)


def migrate_config(tree: dict[str, Any]) -> dict[str, Any]:
    """A config tree written by an older version (a published run's), with moved keys
    carried to their new place and removed keys dropped; `tree` itself when nothing moved.

    The config half of the published-run store's migration (recsys.model.store)."""
    out = copy.deepcopy(tree)
    changed = False
    for old, new in MOVED.items():
        found, value = _pop(out, old)
        if found:
            changed = True
            section, _, key = new.partition(".")
            out.setdefault(section, {}).setdefault(key, value)
    for gone in REMOVED:
        changed = _pop(out, gone)[0] or changed
    return out if changed else tree
