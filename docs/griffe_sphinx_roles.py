"""Griffe extension: the reStructuredText bits of the package's docstrings as Markdown.

Sphinx roles become mkdocstrings cross-references, simple tables (``=== ===`` borders) Markdown
tables, and a paragraph ending in ``::`` ends in ``:`` (its indented block is a code block in
Markdown too).

The docstrings are Google style with Sphinx roles (``:class:`~nqs_dilated.ed.state.GroundState```,
``:func:`optimise```, ``:mod:`.heads```). Each role becomes an optional autoref: a link where the
target is documented on some page, plain code otherwise (external names such as
``netket.vqs.MCState``), so an unresolved name never fails ``mkdocs build --strict``. Names are
resolved as Sphinx would: absolute, relative to the enclosing class and module, or with a leading
dot relative to the current package.
"""

from __future__ import annotations

import re

import griffe

BORDER = re.compile(r"^(?P<indent>\s*)=+(?: +=+)+\s*$")
LITERAL = re.compile(r"(?<=\S)::$", re.MULTILINE)
ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|const):`(?P<target>[^`]+)`")


def _lookup(pkg: griffe.Module, path: str) -> str | None:
    """Canonical path of ``path`` if the package holds it, else None."""
    if path == pkg.path:
        return path
    if not path.startswith(pkg.path + "."):
        return None
    try:
        obj = pkg[path[len(pkg.path) + 1 :]]
    except (KeyError, ValueError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None
    if obj.is_alias:
        try:
            return obj.final_target.path
        except (griffe.AliasResolutionError, griffe.CyclicAliasError):
            return obj.target_path
    return obj.path


def _simple_tables(text: str) -> str:
    """reST simple tables (border, header, border, rows, border) as Markdown tables."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        border = BORDER.match(lines[i])
        ends = [j for j in range(i + 1, len(lines)) if lines[j].strip() == lines[i].strip()][:2] if border else []
        if len(ends) < 2:
            out.append(lines[i])
            i += 1
            continue
        spans = [(m.start(), m.end()) for m in re.finditer(r"=+", lines[i])]

        def cells(line: str, spans=spans) -> list[str]:
            bounds = [start for start, _ in spans[1:]] + [None]
            return [line[start:stop].strip() for (start, _), stop in zip(spans, bounds)]

        rows = [cells(lines[k]) for k in range(i + 1, ends[0])]
        body = [cells(lines[k]) for k in range(ends[0] + 1, ends[1]) if lines[k].strip()]
        indent = border["indent"]
        out += [indent + "| " + " | ".join(row) + " |" for row in rows]
        out.append(indent + "|" + "---|" * len(spans))
        out += [indent + "| " + " | ".join(row) + " |" for row in body]
        i = ends[1] + 1
    return "\n".join(out)


def _candidates(obj: griffe.Object, name: str) -> list[str]:
    module = obj if obj.is_module else obj.module
    if name.startswith("."):
        stripped = name.lstrip(".")
        package = module.path if module.is_init_module else module.path.rsplit(".", 1)[0]
        return [f"{module.path}.{stripped}", f"{package}.{stripped}"]
    scopes = []
    scope = obj
    while scope is not None:
        scopes.append(scope.path)
        scope = scope.parent
    return [name] + [f"{path}.{name}" for path in scopes]


class SphinxRoles(griffe.Extension):
    """Rewrite every docstring of the package once it is loaded."""

    def on_package(self, *, pkg: griffe.Module, **kwargs) -> None:  # noqa: ARG002
        self._rewrite(pkg, pkg)

    def _rewrite(self, pkg: griffe.Module, obj: griffe.Object) -> None:
        if obj.docstring is not None:
            text = LITERAL.sub(":", _simple_tables(obj.docstring.value))
            obj.docstring.value = ROLE.sub(lambda m: self._ref(pkg, obj, m["target"]), text)
        for member in obj.members.values():
            if not member.is_alias:
                self._rewrite(pkg, member)

    def _ref(self, pkg: griffe.Module, obj: griffe.Object, target: str) -> str:
        short = target.startswith("~")
        name = target.lstrip("~")
        title = name.rsplit(".", 1)[-1] if short else name.lstrip(".")
        identifier = next((found for path in _candidates(obj, name) if (found := _lookup(pkg, path))), name.lstrip("."))
        return f'<autoref identifier="{identifier}" optional><code>{title}</code></autoref>'
