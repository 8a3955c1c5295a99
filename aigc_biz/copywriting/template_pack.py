"""Loading a copy template into a sandbox, finding its variants, and rendering one message.

Layout of a template file (see templates/copy/README.md): one file per channel and locale,
``<channel>.<locale>.j2``, with one ``{% macro body_<V>() %}`` per variant ``V`` and, for push and email,
a ``{% macro subject_<V>() %}`` (or one shared ``{% macro subject() %}``). Macros rather than blocks,
because a macro sees the file's other macros (a shared item table, a footer) and a block does not when
rendered alone. A file without ``body_*`` macros is a single variant ``A`` whose ``body()`` macro, or
else whole text, is the body.

Every template runs in :class:`jinja2.sandbox.ImmutableSandboxedEnvironment` with ``StrictUndefined``;
HTML email bodies are autoescaped. Problems are the template author's, so they surface as
:class:`~aigc_biz.errors.InputError` naming the file and line, before or at the first message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from jinja2 import StrictUndefined, TemplateError, TemplateNotFound, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from ..errors import InputError
from .assignment import pick
from .sandbox import (
    CopySandbox,
    RenderBudget,
    RenderLimitError,
    RenderLimits,
    TemplatePackLoader,
    read_template_file,
    referenced_templates,
)
from .sms import is_gsm7
from .text_filters import has_cjk, locale_filters

#: Variables every message context has (see render.build_context); anything else is a typo.
CONTEXT_VARIABLES = frozenset(
    {
        "customer",
        "items",
        "item",
        "campaign",
        "date",
        "variant",
        "channel",
        "locale",
        "replenish",
        "repeat_items",
        "new_items",
    }
)
#: Channels whose subject macro is required: the email subject and the push title.
CHANNELS_WITH_SUBJECT = ("push", "email")
_VARIANT_MACRO = re.compile(r"^(body|subject)_([A-Za-z0-9]+)$")
_SPACES = re.compile(r"[ \t\u3000]+")


def make_environment(
    path: Path, channel: str, locale: str, currency: str | None = None
) -> ImmutableSandboxedEnvironment:
    """The sandbox template ``path`` runs in: no mutation, no private attributes, strict undefined,
    bounded work per message, and no file but the ``*.j2`` files beside it (see :mod:`.sandbox`)."""
    env = CopySandbox(
        loader=TemplatePackLoader(path.parent, path),
        undefined=StrictUndefined,
        autoescape=(channel == "email"),  # email bodies are HTML; SMS and push are plain text
        # no trim_blocks: a tag ending a line must keep the line break, which becomes a space in en
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(locale_filters(locale, currency))
    env.globals["pick"] = pick
    env.tests["cjk"] = has_cjk
    env.tests["gsm7"] = is_gsm7
    env.globals.pop("lipsum", None)  # placeholder text has no place in copy that gets sent
    return env


def _error(path: Path, line: int | None, message: str, hint: str | None = None) -> InputError:
    where = f"line {line}: " if line else ""
    return InputError(where + message, file=str(path), hint=hint)


def _first_line(ast: nodes.Template, node_type, predicate) -> int | None:
    for node in ast.find_all(node_type):
        if predicate(node):
            return node.lineno
    return None


def _check_static(path: Path, ast: nodes.Template, env: ImmutableSandboxedEnvironment) -> None:
    """Reject private-attribute access and unknown variables anywhere, even in branches never taken."""
    for node in ast.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter)):
        name = None
        if isinstance(node, nodes.Getattr):
            name = node.attr
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            name = node.arg.value
        elif (
            isinstance(node, nodes.Filter)
            and node.name == "attr"
            and node.args
            and isinstance(node.args[0], nodes.Const)
        ):
            name = node.args[0].value
        if isinstance(name, str) and name.startswith("_"):
            raise _error(
                path,
                node.lineno,
                f"template reaches for Python internals ({name!r}); "
                "copy templates run in a sandbox and may only read message data",
            )
    unknown = sorted(meta.find_undeclared_variables(ast) - CONTEXT_VARIABLES - set(env.globals))
    if unknown:
        line = _first_line(ast, nodes.Name, lambda n: n.name == unknown[0] and n.ctx == "load")
        raise _error(
            path,
            line,
            f"unknown variable {unknown[0]!r}",
            hint="available: " + ", ".join(sorted(CONTEXT_VARIABLES | {"pick"})),
        )


def _check_references(path: Path, ast: nodes.Template, env, seen: set) -> None:
    """Every include/import/extends names a pack file in writing, which loads and passes the checks too."""
    for line, target in referenced_templates(ast):
        names = target.items if isinstance(target, (nodes.List, nodes.Tuple)) else [target]
        for name in names:
            if not (isinstance(name, nodes.Const) and isinstance(name.value, str)):
                raise _error(
                    path,
                    line,
                    "include, import and extends must name a template file in quotes",
                    hint="copy templates may only use .j2 files of their own folder",
                )
            try:
                env.loader.check_name(name.value)
            except TemplateNotFound as exc:
                raise _error(path, line, f"template refused: {exc.message}") from None
        for name in names:
            if name.value in seen:
                continue
            seen.add(name.value)
            try:
                source, filename, _ = env.loader.get_source(env, name.value)
                child = env.parse(source, name.value, filename)
            except TemplateNotFound as exc:
                raise _error(path, line, f"template refused: {exc.message or exc}") from None
            except TemplateSyntaxError as exc:
                raise _error(Path(exc.filename or path), exc.lineno, f"template syntax error: {exc.message}") from None
            _check_static(Path(filename), child, env)
            _check_references(Path(filename), child, env, seen)


def _template_line(tb) -> tuple[str | None, int | None]:
    """(template file, template line) of the innermost template frame of a traceback."""
    found: tuple[str | None, int | None] = (None, None)
    while tb is not None:
        # Jinja's compiled template modules carry their Template in their globals
        template = tb.tb_frame.f_globals.get("__jinja_template__")
        if template is not None:
            found = (template.filename, template.get_corresponding_lineno(tb.tb_lineno))
        tb = tb.tb_next
    return found


def _undefined_name(message: str) -> str:
    for pattern in (r"^'(.+?)' is undefined", r"has no attribute '(.+?)'", r"has no element (.+)$"):
        match = re.search(pattern, message)
        if match:
            return match.group(1)
    return message


@dataclass
class CopyTemplate:
    """A loaded, checked template file for one channel and locale.

    Attributes
    ----------
    path : Path
        The template file.
    channel, locale : str
    variants : tuple of str
        Variant names in sorted order (the order variant assignment hashes into).
    """

    path: Path
    channel: str
    locale: str
    variants: tuple[str, ...]
    _template: object
    _body_macros: dict
    _subject_macros: dict
    limits: RenderLimits = RenderLimits()

    @classmethod
    def load(cls, path: str | Path, channel: str, locale: str, currency: str | None = None) -> CopyTemplate:
        """Read, parse and statically check ``path``; raise InputError on any problem."""
        path = Path(path)
        if not path.is_file():
            raise InputError("template file not found", file=str(path))
        env = make_environment(path, channel, locale, currency)
        try:
            source = read_template_file(path)
        except TemplateNotFound as exc:
            raise InputError(f"cannot read template: {exc.message}", file=str(path)) from None
        try:
            ast = env.parse(source, path.name, str(path))
            template = env.get_template(path.name)
        except TemplateSyntaxError as exc:
            raise _error(Path(exc.filename or path), exc.lineno, f"template syntax error: {exc.message}") from None
        _check_static(path, ast, env)
        _check_references(path, ast, env, {path.name})
        macros = {node.name: node for node in ast.body if isinstance(node, nodes.Macro)}
        for node in macros.values():
            if node.args and (_VARIANT_MACRO.match(node.name) or node.name in ("body", "subject")):
                raise _error(
                    path, node.lineno, f"macro {node.name!r} takes arguments; variant macros are called with none"
                )
        bodies, subjects = {}, {}
        for name in macros:
            match = _VARIANT_MACRO.match(name)
            if match:
                (bodies if match.group(1) == "body" else subjects)[match.group(2)] = name
        if not bodies:
            bodies = {"A": "body" if "body" in macros else None}
        variants = tuple(sorted(bodies))
        subject_macros = {}
        for variant in variants:
            subject_macros[variant] = subjects.get(variant, "subject" if "subject" in macros else None)
            if channel in CHANNELS_WITH_SUBJECT and subject_macros[variant] is None:
                what = "email subject" if channel == "email" else "push title"
                raise _error(
                    path,
                    None,
                    f"variant {variant!r} has no {what}",
                    hint=f"add {{% macro subject_{variant}() %}}...{{% endmacro %}}",
                )
        return cls(path, channel, locale, variants, template, bodies, subject_macros)

    def render(self, variant: str, variables: dict, *, user_id: str = "") -> tuple[str, str]:
        """``(subject, body)`` of one message; subject is ``""`` for SMS.

        Raises InputError naming the template file and line when the template fails: a missing
        variable, a sandbox violation, a filter given a value it cannot format.
        """
        try:
            with RenderBudget(self.limits):
                module = self._template.make_module(variables)
                subject = ""
                if self.channel in CHANNELS_WITH_SUBJECT:
                    subject = str(getattr(module, self._subject_macros[variant])())
                body_macro = self._body_macros[variant]
                body = str(getattr(module, body_macro)() if body_macro else module)
        except Exception as exc:  # any exception raised by template code is the template's or data's fault
            raise self._translate(exc, variant, user_id) from None
        if self.channel == "email":
            # the subject is plain text even though it came out of an autoescaped template
            return _normalise_plain(Markup(subject).unescape(), self.locale), _compact_html(body)
        return _normalise_plain(subject, self.locale), _normalise_plain(body, self.locale)

    def _translate(self, exc: Exception, variant: str, user_id: str) -> InputError:
        filename, line = _template_line(exc.__traceback__)
        path = Path(filename) if filename else self.path
        who = f" (variant {variant}, customer {user_id})" if user_id else f" (variant {variant})"
        if isinstance(exc, RenderLimitError):
            return _error(path, line, f"template exceeds what one message may take: {exc}{who}")
        if isinstance(exc, TemplateNotFound):
            return _error(path, line, f"template refused: {exc.message or exc}{who}")
        if isinstance(exc, (RecursionError, MemoryError)):
            return _error(path, line, f"template exceeds what one message may take: {type(exc).__name__}{who}")
        if isinstance(exc, SecurityError):
            return _error(path, line, f"template reaches for Python internals: {exc}{who}")
        if isinstance(exc, UndefinedError):
            name = _undefined_name(str(exc))
            return _error(
                path,
                line,
                f"missing variable {name!r}: {exc}{who}",
                hint="available: " + ", ".join(sorted(CONTEXT_VARIABLES)),
            )
        if isinstance(exc, TemplateError):
            return _error(path, line, f"template error: {exc}{who}")
        return _error(path, line, f"{type(exc).__name__}: {exc}{who}")


def _normalise_plain(text: str, locale: str) -> str:
    """Plain text from a multi-line template: lines trimmed and joined ("" in zh, one space in en)."""
    lines = [_SPACES.sub(" ", line).strip() for line in text.splitlines()]
    joiner = "" if locale == "zh" else " "
    return joiner.join(line for line in lines if line)


def _compact_html(text: str) -> str:
    """HTML with each line trimmed and blank lines dropped (templates are indented for people)."""
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())
