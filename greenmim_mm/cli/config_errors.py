"""A clear error for a config that names a type no registry knows.

mmengine raises ``KeyError('<Type> is not in the <scope>::<name> registry. Please check ...')``
(wrapped in ``class `Outer` in <file>: ...`` for every enclosing build). ``tools/train.py``
and ``tools/test.py`` turn it into :class:`UnregisteredTypeError`, which keeps the registry's
message and adds what usually fixes it: importing the package that registers the type with
``custom_imports``, or the spelling of a registered type with a similar name.
"""
import contextlib
import difflib
import importlib
import re
from typing import Iterator, List, Optional

from mmengine.registry import Registry

# The registry's own message: "Foo is not in the mmpretrain::model registry." (runners and
# parameter schedulers omit the scope).
_MISSING_TYPE = re.compile(
    r'(?P<type>[\w.]+) is not in the (?:(?P<scope>\w+)::)?(?P<name>\w+) registry')

PACKAGE_IMPORTS = ("custom_imports = dict(imports=['greenmim_mm'], allow_failed_imports=False)  "
                   "# greenmim_mm's models, datasets, transforms and hooks (mmpretrain scope)\n"
                   "custom_imports = dict(imports=['greenmim_mm', 'greenmim_mm.det'], "
                   "allow_failed_imports=False)  # plus its mmdet pieces (e.g. CheckedCocoDataset)")


class UnregisteredTypeError(KeyError):
    """A config names a type that is not registered; ``str()`` is the plain message."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ''


def _registries(scope: Optional[str], name: str) -> Iterator[Registry]:
    """The registries called ``name`` of ``scope`` (or of the usual OpenMMLab scopes)."""
    for package in ([scope] if scope else []) + ['mmpretrain', 'mmdet', 'mmengine']:
        try:
            module = importlib.import_module(f'{package}.registry')
        except ImportError:
            continue
        for value in vars(module).values():
            if isinstance(value, Registry) and value.name == name:
                yield value


def _registered_names(registry: Registry) -> List[str]:
    """Every type name in ``registry``, its ancestors and their descendants."""
    root = registry
    while root.parent is not None:
        root = root.parent
    names, stack = [], [root]
    while stack:
        reg = stack.pop()
        names.extend(reg.module_dict)
        stack.extend(reg.children.values())
    return names


def similar_types(type_name: str, scope: Optional[str], registry_name: str) -> List[str]:
    """Registered type names close to ``type_name`` (a likely typo), best first.

    Args:
        type_name (str): The unknown type, possibly with a ``scope.`` prefix.
        scope (str, optional): The scope of the registry that missed it.
        registry_name (str): The registry's name, e.g. ``'model'``.

    Returns:
        list[str]: Up to 3 names.
    """
    names = set()
    for registry in _registries(scope, registry_name):
        names.update(_registered_names(registry))
    bare = type_name.rsplit('.', 1)[-1]
    return difflib.get_close_matches(bare, sorted(names), n=3, cutoff=0.75)


def unregistered_type_error(err: BaseException,
                            config_path: Optional[str] = None) -> Optional[UnregisteredTypeError]:
    """Turn mmengine's "not in the registry" ``KeyError`` into a message that says what to do.

    Args:
        err (BaseException): The exception raised while building from a config.
        config_path (str, optional): The config file, named in the message. Defaults to None.

    Returns:
        UnregisteredTypeError | None: The error to raise instead (chain it ``from err``), or
        None when ``err`` is not a registry miss.
    """
    if not isinstance(err, KeyError):
        return None
    text = str(err.args[0]) if err.args else ''
    match = _MISSING_TYPE.search(text)
    if match is None:
        return None
    type_name, scope, name = match.group('type', 'scope', 'name')
    where = f' in {config_path}' if config_path else ''
    lines = [
        f'The config{where} uses type={type_name!r}, which no {name!r} registry knows.',
        f'mmengine said: {text}',
    ]
    similar = similar_types(type_name, scope, name)
    if similar:
        lines.append('Registered types with a similar name: ' + ', '.join(similar) + '.')
    lines += [
        'If the type comes from a package, import that package from the config, e.g.:',
        '  ' + PACKAGE_IMPORTS.replace('\n', '\n  '),
        'A type of another OpenMMLab library needs its scope prefix in a config of another '
        "scope, e.g. type='mmpretrain.GreenMIMSwinTransformer' in an mmdet config.",
    ]
    return UnregisteredTypeError('\n'.join(lines))


@contextlib.contextmanager
def registry_hints(config_path: Optional[str] = None) -> Iterator[None]:
    """Re-raise a registry miss inside the block as :class:`UnregisteredTypeError`.

    Other exceptions, other ``KeyError`` s included, pass through unchanged.

    Args:
        config_path (str, optional): The config file, named in the message. Defaults to None.
    """
    try:
        yield
    except KeyError as err:
        clear = unregistered_type_error(err, config_path)
        if clear is None:
            raise
        raise clear from err
