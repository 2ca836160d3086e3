"""Records: classes of named fields, as ``dataclasses`` makes them, from methods written once.

    class Hit(Record):                    # frozen: hashable, no assignment
        rank: int
        text: str
        duplicates: int = 0

    class Part(Record, mutable=True):     # assignable, not hashable
        optional: list = factory(list)    # a new list per instance

A record is built by position or keyword with defaults, compares and hashes by value (in
field order, only with a record of its own class), has a repr, pickles, and supports
``fields``, ``replace`` and ``asdict`` as ``dataclasses`` does. A subclass adds its fields
after its base's.

Why not ``dataclasses``: on Python 3.11 ``@dataclass`` compiles each generated method of
each class separately (``exec``), about 0.6 ms a class; a cold ``searcher query`` imports
some thirty record classes, so that was a tenth of its time. These methods are compiled
once, with this module.
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["FrozenInstanceError", "Record", "asdict", "factory", "fields", "replace"]


class FrozenInstanceError(AttributeError):
    """A frozen record's field was assigned to or deleted."""


class _Factory:
    """A default made anew for every instance (``dataclasses.field(default_factory=…)``)."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]):
        self.make = make

    def __repr__(self) -> str:
        return f"factory({self.make!r})"


def factory(make: Callable[[], Any]) -> Any:
    """A field default built by calling ``make()`` for each new record."""
    return _Factory(make)


_MISSING = object()


class Record:
    """The base of every record class; ``class X(Record, mutable=True)`` for an assignable one."""

    _fields: tuple[str, ...] = ()
    _names: frozenset = frozenset()
    _defaults: dict = {}
    _frozen: bool = True

    def __init_subclass__(cls, mutable: bool | None = None, **kwargs):
        super().__init_subclass__(**kwargs)
        own = tuple(name for name in cls.__dict__.get("__annotations__", {}) if not name.startswith("__"))
        inherited = tuple(name for name in cls._fields if name not in own)
        names = inherited + own
        defaults = {name: value for name, value in cls._defaults.items() if name not in own}
        for name in own:
            if name in cls.__dict__:
                value = cls.__dict__[name]
                defaults[name] = value
                if isinstance(value, _Factory):
                    delattr(cls, name)  # the class attribute would be one object shared by all
        required_after_default = [n for i, n in enumerate(names) if n not in defaults and any(m in defaults for m in names[:i])]
        if required_after_default:
            raise TypeError(f"{cls.__name__}: field {required_after_default[0]!r} without a default follows one with a default")
        cls._fields, cls._names, cls._defaults = names, frozenset(names), defaults
        cls.__match_args__ = names
        if mutable is not None:
            cls._frozen = not mutable
        if not cls._frozen:
            cls.__setattr__ = object.__setattr__
            cls.__delattr__ = object.__delattr__
            cls.__hash__ = None  # as a dataclass with eq and not frozen: equal by value, so not hashable

    def __init__(self, *args, **kwargs):
        names = self._fields
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__}() takes {len(names)} arguments but {len(args)} were given")
        values = self.__dict__  # written directly: a frozen record's __setattr__ refuses
        values.update(zip(names, args))
        if kwargs or len(args) < len(names):
            for name, value in kwargs.items():
                if name not in self._names or name in values:
                    what = "repeated" if name in values else "unexpected"
                    raise TypeError(f"{type(self).__name__}() got an {what} argument {name!r}")
                values[name] = value
            for name in names[len(args):]:
                if name not in values:
                    default = self._defaults.get(name, _MISSING)
                    if default is _MISSING:
                        raise TypeError(f"{type(self).__name__}() missing argument {name!r}")
                    values[name] = default.make() if isinstance(default, _Factory) else default

    def _values(self) -> tuple:
        values = self.__dict__
        return tuple(values[name] for name in self._fields)

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self):
        return hash(self._values())

    def __repr__(self) -> str:
        values = self.__dict__
        return f"{type(self).__qualname__}(" + ", ".join(f"{n}={values[n]!r}" for n in self._fields) + ")"

    def __setattr__(self, name, value):
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name):
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __reduce__(self):
        return (type(self), self._values())


def fields(record: Record | type[Record]) -> tuple[str, ...]:
    """The field names of a record or record class, in order."""
    return record._fields


def replace(record: Record, **changes) -> Record:
    """A copy of ``record`` with some fields changed (``dataclasses.replace``)."""
    unknown = set(changes) - record._names
    if unknown:
        raise TypeError(f"{type(record).__name__} has no field {sorted(unknown)[0]!r}")
    values = record.__dict__
    return type(record)(**{name: changes.get(name, values[name]) for name in record._fields})


def asdict(record: Record) -> dict:
    """The fields as a dict, records inside it (and in lists, tuples and dicts) as dicts too."""
    return {name: _plain(value) for name, value in zip(record._fields, record._values())}


def _plain(value):
    if isinstance(value, Record):
        return asdict(value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a namedtuple, as dataclasses.asdict keeps it
        return type(value)(*(_plain(v) for v in value))
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    return value
