"""The sandbox copy templates run in: message data only, one folder of templates, bounded work per message.

Jinja's :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment` stops private attributes and mutation,
but a template can still read files through ``{% include %}`` and run for hours or take gigabytes
(nested loops, ``'x' * 10**9``, ``'{:>999999999}'.format('')``). Here:

- :class:`TemplatePackLoader` serves only ``*.j2`` files lying directly in the main template's folder
  (the template pack), opened without following a symlink, and only regular files;
- :class:`RenderLimits` bounds each message: ``range`` sizes, loop iterations plus calls (steps), the
  length of any string or sequence built and of the output, the size of integers, and wall-clock time.
  Loops, calls, operators, string methods, filters and output are all counted or checked, and a
  message over a limit raises :class:`RenderLimitError` (the caller names the template and line).
"""

from __future__ import annotations

import contextvars
import copy
import functools
import os
import re
import stat
import string
import time
import types
from dataclasses import dataclass
from pathlib import Path

from jinja2 import BaseLoader, TemplateNotFound, nodes
from jinja2.compiler import CodeGenerator
from jinja2.exceptions import TemplateRuntimeError
from jinja2.sandbox import ImmutableSandboxedEnvironment

#: what a template in a pack may be called: a plain file name, no folder, no hidden file
PACK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*\.j2")
#: str/bytes methods whose int arguments size the result (width, count, tab size, length)
_SIZED_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs", "to_bytes"})
_MAX_TEMPLATE_BYTES = 256 * 1024
_PRINTF_NUMBER = re.compile(r"%[-+ #0]*(\*|\d+)?(?:\.(\*|\d+))?")


_VALUE_TYPES = (str, bytes, int, float, list, tuple)
#: strings shorter than this are under every limit (RenderLimits.max_text may not be lower)
_ALWAYS_SMALL = 1_024
#: filters whose arguments can size their result; the others only get their result checked
_SIZING_FILTERS = frozenset({"center", "indent", "format", "replace", "join"})


class RenderLimitError(TemplateRuntimeError):
    """A message's template went over one of :class:`RenderLimits`."""


@dataclass(frozen=True)
class RenderLimits:
    """How much work one message may take (generous for copy: a bundled message takes ~50 steps).

    Attributes
    ----------
    max_range : int
        Items one ``range()`` may produce.
    max_steps : int
        Loop iterations plus calls (macros, filters given as calls, methods) per message.
    max_text : int
        Characters (or items) in any string or sequence a template builds, and in the message output.
    max_int_bits : int
        Size of any integer an operator builds.
    seconds : float
        Wall-clock time per message.
    """

    max_range: int = 1_000
    max_steps: int = 20_000
    max_text: int = 100_000
    max_int_bits: int = 4_096
    seconds: float = 2.0

    def __post_init__(self):
        if self.max_text < _ALWAYS_SMALL:
            raise ValueError(f"max_text must be at least {_ALWAYS_SMALL}")


class _Budget:
    """What one message has used so far."""

    __slots__ = ("limits", "steps", "chars", "deadline")

    def __init__(self, limits: RenderLimits):
        self.limits = limits
        self.steps = 0
        self.chars = 0
        self.deadline = time.monotonic() + limits.seconds

    def tick(self, steps: int = 1, chars: int = 0) -> None:
        if chars:
            self.chars += chars
            if self.chars > self.limits.max_text:
                raise RenderLimitError(f"message longer than {self.limits.max_text:,} characters")
        if steps:
            self.steps += steps
            if self.steps > self.limits.max_steps:
                raise RenderLimitError(f"more than {self.limits.max_steps:,} loop iterations and calls for one message")
            if not self.steps & 31 and time.monotonic() > self.deadline:  # the clock every 32 steps
                raise RenderLimitError(f"one message took longer than {self.limits.seconds:g} s")


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("copy_render_budget", default=None)


class RenderBudget:
    """``with RenderBudget(limits):`` around rendering one message."""

    def __init__(self, limits: RenderLimits):
        self.limits = limits

    def __enter__(self):
        self._token = _BUDGET.set(_Budget(self.limits))
        return self

    def __exit__(self, *exc) -> None:
        _BUDGET.reset(self._token)


def _tick(steps: int = 1, chars: int = 0) -> None:
    budget = _BUDGET.get()
    if budget is not None:
        budget.tick(steps, chars)


def _limits() -> RenderLimits:
    budget = _BUDGET.get()
    return budget.limits if budget is not None else RenderLimits()


def _check_size(value):
    """``value`` unchanged, or RenderLimitError when it is a string or sequence over ``max_text``."""
    if type(value) is str and len(value) < _ALWAYS_SMALL:  # the common case, without a context lookup
        return value
    if isinstance(value, (str, bytes, list, tuple)) and len(value) > _limits().max_text:
        raise RenderLimitError(f"a value of {len(value):,} characters or items (limit {_limits().max_text:,})")
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > _limits().max_int_bits:
        raise RenderLimitError(f"a number of {value.bit_length():,} bits (limit {_limits().max_int_bits:,})")
    return value


def _refuse_big(number, what: str) -> None:
    if isinstance(number, int) and not isinstance(number, bool) and number > _limits().max_text:
        raise RenderLimitError(f"{what} {number:,} is over the limit of {_limits().max_text:,}")


def _check_format_spec(fmt: str) -> None:
    """``str.format`` fields: no width or precision over ``max_text``, no nested ``{}`` in a spec."""
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # str.format raises its own error
    for _, _, spec, _ in fields:
        if not spec:
            continue
        if "{" in spec:
            raise RenderLimitError("a format spec built from another field ('{:{}}') is not allowed in copy")
        for number in re.findall(r"\d+", spec):
            _refuse_big(int(number), "a format width")


def _check_printf(fmt) -> None:
    if isinstance(fmt, str):
        for width, precision in _PRINTF_NUMBER.findall(fmt):
            for number in (width, precision):
                if number == "*":
                    raise RenderLimitError("'%*s' widths taken from the data are not allowed in copy")
                if number:
                    _refuse_big(int(number), "a % width")


def _sequence_size(value) -> int | None:
    return len(value) if isinstance(value, (str, bytes, list, tuple)) else None


def _check_repeat(left, right) -> None:
    """``seq * n`` or ``n * seq`` over ``max_text``; ``int * int`` over ``max_int_bits``."""
    for seq, count in ((left, right), (right, left)):
        size = _sequence_size(seq)
        if size is not None and isinstance(count, int):
            if size * max(count, 0) > _limits().max_text:
                raise RenderLimitError(f"repeating {size:,} characters or items {count:,} times")
            return
    if isinstance(left, int) and isinstance(right, int):
        if left.bit_length() + right.bit_length() > _limits().max_int_bits:
            raise RenderLimitError(f"a product of more than {_limits().max_int_bits:,} bits")


def _check_power(base, exponent) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        if base.bit_length() * exponent > _limits().max_int_bits:
            raise RenderLimitError(f"a power of more than {_limits().max_int_bits:,} bits")


def _check_replace(text, old, new, count=-1) -> None:
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        hits = len(text) + 1 if old == "" else text.count(old)
        if isinstance(count, int) and count >= 0:
            hits = min(hits, count)
        if len(text) + hits * (len(new) - len(old)) > _limits().max_text:
            raise RenderLimitError("replace() would build a string over the limit")


def _check_join(items) -> list:
    items = list(items)
    _check_size(items)
    if sum(len(item) if isinstance(item, str) else 16 for item in items) > _limits().max_text:
        raise RenderLimitError("join() would build a string over the limit")
    return items


def bounded_range(*args):
    """``range`` for templates: at most ``max_range`` items, and each one counted as a step."""
    numbers = range(*args)
    if len(numbers) > _limits().max_range:
        raise RenderLimitError(f"range() of {len(numbers):,} items (limit {_limits().max_range:,})")
    return numbers


def _checked_filter(name: str, func):
    """A filter whose arguments and result are checked against the limits."""
    internal = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0  # context/environment first
    if name not in _SIZING_FILTERS:

        @functools.wraps(func)
        def checked(*args, **kwargs):
            return _check_size(func(*args, **kwargs))

        return checked

    @functools.wraps(func)  # keeps jinja_pass_arg, so Jinja still hands it the context it asks for
    def run(*args, **kwargs):
        plain = args[internal:]
        if name == "center" and len(plain) > 1:
            _refuse_big(plain[1], "a width")
        elif name == "indent" and plain:
            width = plain[1] if len(plain) > 1 else kwargs.get("width", 4)
            size = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
            if size * (str(plain[0]).count("\n") + 1) > _limits().max_text:
                raise RenderLimitError("indent() would build a string over the limit")
        elif name == "format" and plain:
            _check_printf(plain[0])
        elif name == "replace" and len(plain) >= 3:
            _check_replace(str(plain[0]), *plain[1:4])
        elif name == "join" and plain:
            args = args[:internal] + (_check_join(plain[0]),) + plain[1:]
        return _check_size(func(*args, **kwargs))

    return run


class BoundedCodeGenerator(CodeGenerator):
    """Jinja's compiler, with every loop counted and every ``~`` concatenation size-checked.

    A loop's iterable becomes ``environment.counted(iterable, n)``, which ticks the budget once per
    item and charges the ``n`` characters of constant text in the loop's body as output.
    """

    def visit_For(self, node: nodes.For, frame) -> None:
        text = sum(len(data.data) for data in node.find_all(nodes.TemplateData))
        node = copy.copy(node)
        node.iter = nodes.Call(
            nodes.EnvironmentAttribute("counted"), [node.iter, nodes.Const(text)], [], None, None, lineno=node.lineno
        )
        super().visit_For(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame) -> None:
        self.write("environment.checked(")
        super().visit_Concat(node, frame)
        self.write(")")


class CopySandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, reading message data (dicts) by key before attribute, with bounded work.

    ``customer.items`` is then the column called "items", not ``dict.items``; and reading a key
    costs no AttributeError, which makes rendering about a third faster. Everything that is not a
    key of a dict goes through the sandbox's own checks.
    """

    code_generator_class = BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%", "//"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, finalize=self._finalize, **kwargs)
        self.globals["range"] = bounded_range
        for name, func in list(self.filters.items()):
            self.filters[name] = _checked_filter(name, func)

    def getattr(self, obj, attribute):
        if isinstance(obj, dict) and isinstance(attribute, str) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def call_binop(self, context, operator, left, right):
        if operator == "*":
            _check_repeat(left, right)
        elif operator == "**":
            _check_power(left, right)
        elif operator == "%":
            _check_printf(left)
        return _check_size(super().call_binop(context, operator, left, right))

    def call(self, context, obj, /, *args, **kwargs):
        _tick()
        target = getattr(obj, "__wrapped__", obj)
        owner = getattr(target, "__self__", None)
        # methods of data values, built-in or Markup's own (Markup wraps str's in Python)
        if isinstance(target, (types.BuiltinMethodType, types.MethodType)) and isinstance(owner, _VALUE_TYPES):
            name = target.__name__
            if name in ("format", "format_map") and isinstance(owner, str):
                _check_format_spec(owner)
            elif name == "replace":
                _check_replace(owner, *args[:3])
            elif name == "join" and args:
                args = (_check_join(args[0]),) + args[1:]
            elif name == "expandtabs" and isinstance(owner, str) and args and isinstance(args[0], int):
                _refuse_big(owner.count("\t") * args[0] + len(owner), "expandtabs() would build a string of")
            elif name in _SIZED_METHODS or isinstance(owner, (int, float)):
                for arg in list(args) + list(kwargs.values()):
                    _refuse_big(arg, f"an argument of {name}()")
        return _check_size(super().call(context, obj, *args, **kwargs))

    @staticmethod
    def counted(iterable, text_chars: int = 0):
        """Yield ``iterable``'s items, one budget step each, charging the loop body's constant text."""
        for item in iterable:
            _tick(1, text_chars)
            yield item

    @staticmethod
    def checked(value):
        return _check_size(value)

    @staticmethod
    def _finalize(value):
        """Every ``{{ value }}`` output is charged to the message's length."""
        if isinstance(value, str):
            budget = _BUDGET.get()
            if budget is not None:
                budget.tick(0, len(value))
        return value


class TemplatePackLoader(BaseLoader):
    """The templates a copy template may include, import or extend: its own folder's ``*.j2`` files.

    ``main`` is the template the user named; every other name must be a plain ``*.j2`` file name (no
    folder, no ``..``, no hidden file) lying directly in ``folder``. Each is a regular file opened
    without following a symbolic link, so a template can read no other file, whatever lies beside it
    or wherever a link points.
    """

    def __init__(self, folder: Path, main: Path):
        self.folder = Path(folder)
        self.main = Path(main)

    def check_name(self, template: str) -> None:
        """TemplateNotFound unless ``template`` may name a file of the pack."""
        if template != self.main.name and not PACK_NAME.fullmatch(template):
            raise TemplateNotFound(
                template,
                f"{template!r}: a copy template may only use .j2 files of its own folder, by plain file name",
            )

    def get_source(self, environment, template: str):
        self.check_name(template)
        path = self.main if template == self.main.name else self.folder / template
        return read_template_file(path), str(path), lambda: True


def read_template_file(path: Path) -> str:
    """The text of the regular file ``path``, opened without following a symbolic link."""
    name = path.name
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        if os.path.islink(path):
            raise TemplateNotFound(name, f"{name!r} is a symbolic link; copy templates never follow links") from None
        raise TemplateNotFound(name, f"{name!r}: {(exc.strerror or 'cannot be opened').lower()}") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise TemplateNotFound(name, f"{name!r} is not a regular file")
        data = handle.read(_MAX_TEMPLATE_BYTES + 1)
    if len(data) > _MAX_TEMPLATE_BYTES:
        raise TemplateNotFound(name, f"{name!r} is over {_MAX_TEMPLATE_BYTES // 1024} KiB: too large for a template")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TemplateNotFound(name, f"{name!r} is not UTF-8 text: {exc}") from None


def referenced_templates(ast: nodes.Template) -> list[tuple[int, object]]:
    """``(line, name expression)`` of every include, import and extends in ``ast``."""
    found = []
    for node in ast.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        found.append((node.lineno, node.template))
    return found
