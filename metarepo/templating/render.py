"""Render one template with its dialect, and turn what goes wrong into one line naming the template.

``render_template`` is what every rendered file goes through (a CI
pipeline, a Kubernetes manifest): the meta repo's template first, then the
built-in one, in the sandbox, with ``dialect``'s escaping. Its errors are
``ManifestError``s naming the template file and line: a syntax error, a
missing value, a template that is not found, one that reaches outside the
sandbox. ``invalid_render`` is the error for a file that rendered but then
failed its validator, pointed at the template line that wrote it.
"""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any, Mapping

from metarepo.errors import ManifestError, MetaError
from metarepo.templating.deadline import RenderTimeout, time_limit
from metarepo.templating.environment import BUILTIN_DIR, OVERRIDE_DIR, template_environment
from metarepo.templating.escape import Dialect
from metarepo.templating.overrides import check_override_blocks


def render_template(meta_root: Path | None, name: str, dialect: Dialect, context: Mapping[str, Any],
                    subject: str) -> str:
    """``name`` rendered with ``context``; the text ends with a newline. ``subject`` says for what, in errors."""
    import jinja2
    from jinja2.sandbox import SecurityError

    env = template_environment(meta_root, dialect)
    template = None
    try:
        template = env.get_template(name)
        check_override_blocks(env, template)
        with time_limit():
            text = template.render(context)
    except jinja2.TemplateSyntaxError as exc:
        raise ManifestError(f"template syntax error: {exc.message}", file=_shown_file(exc.filename,
                            exc.name or name), line=exc.lineno) from None
    except jinja2.TemplateNotFound as exc:
        file, line = (template.filename, _line_naming(template.filename, exc.name)) if template else (None, None)
        raise ManifestError(f"template {exc.name!r} not found (in {OVERRIDE_DIR}/ of the meta repo or the "
                            "built-in templates)", file=_shown_file(file, name), line=line) from None
    except ManifestError:
        raise
    except UnicodeDecodeError as exc:
        raise ManifestError(f"a template is not UTF-8 text ({exc.reason} at byte {exc.start})",
                            file=_undecodable(meta_root) or name) from None
    except RenderTimeout as exc:
        file, line = _template_frame(exc)
        raise ManifestError(f"refused while rendering for {subject}: it {exc} (a loop that runs too long?)",
                            file=_shown_file(file, name), line=line) from None
    except SecurityError as exc:
        file, line = _template_frame(exc)
        raise ManifestError(f"refused while rendering for {subject}: {exc} (templates render in a sandbox: "
                            "values, filters and tests only, no Python internals)",
                            file=_shown_file(file, name), line=line) from None
    except (jinja2.TemplateError, MetaError) as exc:
        file, line = _template_frame(exc)
        message = exc.message if isinstance(exc, MetaError) else str(exc)
        raise ManifestError(f"rendering for {subject}: {message}", file=_shown_file(file, name), line=line) from None
    except (ArithmeticError, LookupError, TypeError, ValueError, RecursionError) as exc:  # `1/0`, `'a' + 1`
        file, line = _template_frame(exc)
        raise ManifestError(f"rendering for {subject}: {type(exc).__name__}: {exc}", file=_shown_file(file, name),
                            line=line) from None
    return text if text.endswith("\n") else text + "\n"


def template_sources(meta_root: Path | None, name: str) -> list[tuple[str, str]]:
    """(shown name, text) of the template and what it may extend: the meta repo's first, then the built-in."""
    sources = []
    override = Path(meta_root) / OVERRIDE_DIR / name if meta_root is not None else None
    if override is not None and override.is_file():
        sources.append((str(override), override.read_text(encoding="utf-8", errors="replace")))
    sources.append((f"{OVERRIDE_DIR}/{name} (built-in)", (BUILTIN_DIR / name).read_text(encoding="utf-8")))
    return sources


def invalid_render(meta_root: Path | None, template: str, subject: str, text: str, line: int | None,
                   message: str) -> ManifestError:
    """The error for a rendered file that failed validation, pointing at the template line that wrote it.

    The rendered line is looked up in the template (and the built-in one it
    may extend); when it holds no value it appears there word for word.
    ``subject`` says what was rendered ("services/orders as .gitlab-ci.yml").
    """
    rendered = text.splitlines()
    shown = rendered[line - 1].strip() if line and 0 < line <= len(rendered) else ""
    sources = template_sources(meta_root, template)
    file, template_line = sources[0][0], None
    if len(shown) > 2:
        for name, source in sources:
            numbers = [n for n, candidate in enumerate(source.splitlines(), 1) if candidate.strip() == shown]
            if numbers:
                file, template_line = name, numbers[0]
                break
    at = f", line {line}" if line else ""
    quoted = f" [{shown[:80]}]" if shown else ""
    return ManifestError(f"rendered for {subject}{at}: {message}{quoted}", file=file, line=template_line)


def _undecodable(meta_root: Path | None) -> str | None:
    """The first file under the meta repo's ci-templates/ that is not UTF-8 (only asked after one failed)."""
    if meta_root is None:
        return None
    for path in sorted((Path(meta_root) / OVERRIDE_DIR).rglob("*")):
        try:
            if path.is_file():
                path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            return str(path)
        except OSError:
            continue
    return None


def _line_naming(filename: str | None, name: str | None) -> int | None:
    """The first line of ``filename`` that mentions the template ``name`` (an extends or include)."""
    if not filename or not name:
        return None
    try:
        lines = Path(filename).read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    return next((n for n, text in enumerate(lines, 1) if name in text), None)


def _shown_file(filename: str | None, fallback: str) -> str:
    if not filename:
        return fallback
    path = Path(filename)
    try:
        return f"{OVERRIDE_DIR}/{path.resolve().relative_to(BUILTIN_DIR)} (built-in)"
    except ValueError:
        return str(path)


def _template_frame(exc: BaseException) -> tuple[str | None, int | None]:
    """The template file and line where rendering failed (Jinja rewrites frames to template lines)."""
    found: tuple[str | None, int | None] = (None, None)
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.endswith(".j2"):
            found = (frame.filename, frame.lineno)
    return found
