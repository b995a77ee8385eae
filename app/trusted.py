"""Models built from values that are valid already, at the cost of a dict.

The execution step builds several events per order from fields of validated orders and
states; validating them again (or pydantic's ``model_construct``, which resolves every
default through Python) is most of what an order costs. :func:`trusted` makes the same
instance ``model_construct`` makes: the values in field order, the defaults of the fields
not given, ``model_fields_set`` the names given; :func:`updated` makes what
``model_copy(update=...)`` makes. They rely on what ``model_construct`` sets
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

_MISSING: Any = object()
_TEMPLATES: dict[type[BaseModel], dict[str, Any]] = {}
_REQUIRED: dict[type[BaseModel], frozenset[str]] = {}
_set = object.__setattr__


def _template(cls: type[BaseModel]) -> dict[str, Any]:
    """Each field's default (``_MISSING`` when required), in field order."""
    fields: dict[str, Any] = {}
    for name, field in cls.model_fields.items():
        if field.alias not in (None, name) or field.default_factory is not None:
            raise TypeError(f"{cls.__name__}.{name}: trusted() takes plain fields only")
        if isinstance(field.default, list | dict | set):  # shared, not copied
            raise TypeError(f"{cls.__name__}.{name}: trusted() takes immutable defaults only")
        fields[name] = _MISSING if field.is_required() else field.default
    if cls.__pydantic_post_init__ or cls.__private_attributes__:
        raise TypeError(f"{cls.__name__}: trusted() takes models without private state")
    if cls.model_config.get("extra") == "allow":
        raise TypeError(f"{cls.__name__}: trusted() takes models without extra fields")
    _REQUIRED[cls] = frozenset(name for name, value in fields.items() if value is _MISSING)
    _TEMPLATES[cls] = fields
    return fields


def trusted(cls: type[M], **values: Any) -> M:
    """``cls.model_construct(**values)``, faster; the caller vouches for the values."""
    template = _TEMPLATES.get(cls) or _template(cls)
    data = template.copy()
    data.update(values)  # the fields keep their order; an unknown name goes last
    if len(data) != len(template) or not _REQUIRED[cls] <= values.keys():
        unknown = sorted(set(values) - set(template))
        if unknown:
            raise TypeError(f"{cls.__name__} has no field {', '.join(unknown)}")
        missing = [name for name, value in data.items() if value is _MISSING]
        raise TypeError(f"{cls.__name__}.{missing[0]} is required")
    m = cls.__new__(cls)
    _set(m, "__dict__", data)
    _set(m, "__pydantic_fields_set__", set(values))
    _set(m, "__pydantic_extra__", None)
    _set(m, "__pydantic_private__", None)
    return m


def updated(model: M, **changes: Any) -> M:
    """``model.model_copy(update=changes)``, faster (pydantic's copy goes through
    ``copy.copy`` of each part); the caller vouches for the values. Same instance as
    ``model_copy`` makes: the fields in their order, ``model_fields_set`` with the names
    changed added."""
    cls = type(model)
    template = _TEMPLATES.get(cls) or _template(cls)
    data = model.__dict__.copy()
    data.update(changes)
    if len(data) != len(template):
        unknown = sorted(set(changes) - set(template))
        raise TypeError(f"{cls.__name__} has no field {', '.join(unknown)}")
    m = cls.__new__(cls)
    _set(m, "__dict__", data)
    _set(m, "__pydantic_fields_set__", model.__pydantic_fields_set__ | changes.keys())
    _set(m, "__pydantic_extra__", None)
    _set(m, "__pydantic_private__", None)
    return m
