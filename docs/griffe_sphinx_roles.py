"""Griffe extension: the Sphinx roles of the package's docstrings as mkdocstrings cross-references.

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
    """Rewrite Sphinx roles in every docstring of the package once it is loaded."""

    def on_package(self, *, pkg: griffe.Module, **kwargs) -> None:  # noqa: ARG002
        self._rewrite(pkg, pkg)

    def _rewrite(self, pkg: griffe.Module, obj: griffe.Object) -> None:
        if obj.docstring is not None and ":" in obj.docstring.value:
            obj.docstring.value = ROLE.sub(lambda m: self._ref(pkg, obj, m["target"]), obj.docstring.value)
        for member in obj.members.values():
            if not member.is_alias:
                self._rewrite(pkg, member)

    def _ref(self, pkg: griffe.Module, obj: griffe.Object, target: str) -> str:
        short = target.startswith("~")
        name = target.lstrip("~")
        title = name.rsplit(".", 1)[-1] if short else name.lstrip(".")
        identifier = next(
            (found for path in _candidates(obj, name) if (found := _lookup(pkg, path))), name.lstrip(".")
        )
        return f'<autoref identifier="{identifier}" optional><code>{title}</code></autoref>'
