"""The base of the collection's action plugins: options from the documentation, errors as results.

A plugin names its ``DOCUMENTATION`` (and the options that carry secrets, in
``NO_LOG``) and implements :meth:`DocumentedAction.act`; the argument spec, the
check of the options and the translation of :class:`SmsmseError` into a failed
task with its code are done here, once, before any host is touched:

- an option the task (or ``module_defaults``) does not give is taken from the
  inventory variable :attr:`DocumentedAction.HOST_VARIABLES` names for it, templated;
- every option is checked against the documented types and against the ranges
  of :data:`argspec.BOUNDS`, also in check mode.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Generic, TypeVar, cast

from ansible.plugins.action import ActionBase

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run import argspec
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

#: the options a plugin's ``act`` receives: a TypedDict of :mod:`option_types`
OptionsT = TypeVar("OptionsT", bound=Mapping[str, object])
#: the variables Ansible gives a task (``run``'s ``task_vars``), as the collection's code reads them: each value is
#: checked where it is read; :func:`for_ansible` hands them back to an Ansible call that wants its own dict
TaskVars = Mapping[str, object]


def for_ansible(task_vars: TaskVars) -> dict[str, Any]:
    """``task_vars`` as Ansible's own calls (``_execute_module``) take them: the same dict Ansible gave, not a copy."""
    return task_vars if isinstance(task_vars, dict) else dict(task_vars)


class DocumentedAction(ActionBase, Generic[OptionsT]):
    TRANSFERS_FILES = False
    DOCUMENTATION: ClassVar[str] = ""
    NO_LOG: ClassVar[tuple[str, ...]] = ()
    CHECK_MODE: ClassVar[bool] = True
    ARGUMENT_SPEC: ClassVar[dict[str, Any]] = {}
    #: option -> the inventory variable it falls back to (used only for the options the module documents)
    HOST_VARIABLES: ClassVar[dict[str, str]] = {
        "stores": "smsmse_defs_stores",
        "product": "smsmse_defs_product",
        "events_file": "smsmse_defs_events_file",
        "liveupdate_command": "smsmse_defs_liveupdate_command",
        "store_privacy": "smsmse_defs_store_privacy",
    }

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.ARGUMENT_SPEC = argspec.from_documentation(cls.DOCUMENTATION, no_log=cls.NO_LOG)
        cls._VALID_ARGS = frozenset(cls.ARGUMENT_SPEC)

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = self.CHECK_MODE
        task_vars = task_vars or {}
        result: dict[str, Any] = super().run(tmp, task_vars)
        self._task.args = self._with_host_variables(dict(self._task.args), task_vars)
        options = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)[1]
        self.validated_options = options  # what helpers of the task read (plugin_utils/_trust/privacy.py)
        try:
            argspec.check_bounds(self.ARGUMENT_SPEC, options)
            result.update(self.act(cast(OptionsT, options), task_vars))  # Ansible checked them against DOCUMENTATION
        except SmsmseError as exc:
            result.update(failed=True, msg=str(exc), error=exc.as_dict())
        return result

    def _with_host_variables(self, args: dict[str, object], task_vars: TaskVars) -> dict[str, object]:
        """``args`` with each option it lacks taken from its inventory variable, where that is set."""
        for option, variable in self.HOST_VARIABLES.items():
            if option in self.ARGUMENT_SPEC and args.get(option) is None and task_vars.get(variable) is not None:
                args[option] = self._templar.template(task_vars[variable])
        return args

    def act(self, options: OptionsT, task_vars: TaskVars) -> dict[str, Any]:
        """What the module does; returns the result keys to add (raise SmsmseError to fail).

        ``task_vars`` is the dict Ansible gave ``run``, read-only (:func:`for_ansible` hands it back to a module call).
        """
        raise NotImplementedError
