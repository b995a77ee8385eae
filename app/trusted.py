"""Models built from values that are valid already, at the cost of a dict.

The execution step builds several events per order from fields of validated orders and
states; validating them again (or pydantic's ``model_construct``, which resolves every
default through Python) is most of what an order costs. :func:`trusted` makes the same
instance ``model_construct`` makes: the values in field order, the defaults of the fields
not given, ``model_fields_set`` the names given. It relies on what ``model_construct`` sets
on an instance (``__dict__``, ``__pydantic_fields_set__``, ``__pydantic_extra__``,
``__pydantic_private__``); ``tests/unit/test_trusted.py`` fails if pydantic changes that.

Only for plain models: no aliases, no default factories, immutable defaults, no private
attributes, no ``model_post_init``, extra fields forbidden or ignored (checked once per
class).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_MISSING = object()
_DEFAULTS: dict[type[BaseModel], tuple[tuple[str, Any], ...]] = {}
_set = object.__setattr__


def _defaults(cls: type[BaseModel]) -> tuple[tuple[str, Any], ...]:
    """Each field's name and default (``_MISSING`` when required), in field order."""
    fields = []
    for name, field in cls.model_fields.items():
        if field.alias not in (None, name) or field.default_factory is not None:
            raise TypeError(f"{cls.__name__}.{name}: trusted() takes plain fields only")
        if isinstance(field.default, list | dict | set):  # shared, not copied
            raise TypeError(f"{cls.__name__}.{name}: trusted() takes immutable defaults only")
        fields.append((name, _MISSING if field.is_required() else field.default))
    if cls.__pydantic_post_init__ or cls.__private_attributes__:
        raise TypeError(f"{cls.__name__}: trusted() takes models without private state")
    if cls.model_config.get("extra") == "allow":
        raise TypeError(f"{cls.__name__}: trusted() takes models without extra fields")
    _DEFAULTS[cls] = tuple(fields)
    return _DEFAULTS[cls]


def trusted(cls: type[M], **values: Any) -> M:
    """``cls.model_construct(**values)``, faster; the caller vouches for the values."""
    fields = _DEFAULTS.get(cls) or _defaults(cls)
    data: dict[str, Any] = {}
    for name, default in fields:
        value = values.get(name, default)
        if value is _MISSING:
            raise TypeError(f"{cls.__name__}.{name} is required")
        data[name] = value
    if not values.keys() <= data.keys():
        unknown = sorted(set(values) - set(data))
        raise TypeError(f"{cls.__name__} has no field {', '.join(unknown)}")
    m = cls.__new__(cls)
    _set(m, "__dict__", data)
    _set(m, "__pydantic_fields_set__", set(values))
    _set(m, "__pydantic_extra__", None)
    _set(m, "__pydantic_private__", None)
    return m
