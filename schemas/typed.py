"""Typed, bounded decoding of untrusted JSON into the contract's dataclasses (msgspec).

``struct_for(SomeDataclass, ...)`` derives a msgspec Struct from the dataclass's own fields, type hints and
defaults, so the dataclass stays the one definition: a new optional field is its dataclass line alone, a bound
on it one more entry in ``bounds``. Decoding checks every type without coercion (``"1"`` and ``true`` are not
ints, ``1`` is not a str), refuses unknown fields and applies the bounds before any value is used. Input over
its byte limit, text that is not JSON, and nesting deeper than msgspec's recursion guard (only ``Any``-typed
fields can nest at all) come back as ``SchemaError`` naming the field, never as another exception.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, get_type_hints

import msgspec



class SchemaError(ValueError):
    """A sample or manifest that breaks the contract; the message names the field."""

INT32 = msgspec.Meta(ge=0, le=2**31 - 1)  # counts and indices (the Arrow views store them as int32)


def struct_for(cls: type, *, bounds: dict[str, msgspec.Meta] | None = None, skip: tuple[str, ...] = (),
               types: dict[str, Any] | None = None, extra: tuple = ()) -> type[msgspec.Struct]:
    """A msgspec Struct with ``cls``'s fields (minus ``skip``), their hints (or ``types[name]``), defaults and
    ``bounds[name]`` (a ``msgspec.Meta`` on an int or str field); ``extra``: more (name, type, default) fields."""
    hints = get_type_hints(cls)
    fields: list[tuple] = []
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        tp = (types or {}).get(f.name, hints[f.name])
        if bounds and f.name in bounds:
            tp = Annotated[tp, bounds[f.name]]
        if f.default is not dataclasses.MISSING:
            fields.append((f.name, tp, f.default))
        elif f.default_factory is not dataclasses.MISSING:
            fields.append((f.name, tp, msgspec.field(default_factory=f.default_factory)))
        else:
            fields.append((f.name, tp))
    return msgspec.defstruct(f"{cls.__name__}Json", [*fields, *extra], kw_only=True, forbid_unknown_fields=True)


def decode(decoder: msgspec.json.Decoder, data: bytes, what: str, limit: int) -> Any:
    """``decoder.decode(data)`` with every failure as a ``SchemaError`` starting with ``what``."""
    if len(data) > limit:
        raise SchemaError(f"{what}: {len(data)} bytes of JSON, over the limit of {limit}")
    try:
        return decoder.decode(data)
    except msgspec.ValidationError as e:  # names the field: "Expected `int`, got `str` - at `$.width`"
        raise SchemaError(f"{what}: {e}") from None
    except msgspec.DecodeError as e:
        raise SchemaError(f"{what}: not valid JSON ({e})") from None
    except RecursionError:
        raise SchemaError(f"{what}: JSON nested too deeply") from None


def convert(obj: Any, struct: type, what: str) -> Any:
    """``msgspec.convert`` (the same typed checks on Python objects) with failures as ``SchemaError``."""
    try:
        return msgspec.convert(obj, struct)
    except msgspec.ValidationError as e:
        raise SchemaError(f"{what}: {e}") from None
    except RecursionError:
        raise SchemaError(f"{what}: nested too deeply") from None


def fields_of(obj: msgspec.Struct) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__struct_fields__}
