"""A run's configuration, declared once: the hypothesis profiles, the dtypes, and the option table
from which the command line (``lstm-verify check``), the pytest plugin's ``--lstm-*`` options, the
``LSTM_VERIFY_*`` environment variables and :func:`lstm_verify.api.check_impl`'s keywords are all
built. A run carries its choices as one frozen :class:`Options` value.

Each :class:`Option` named ``kind`` is ``--kind`` on the command line, ``--lstm-kind`` in pytest
and ``LSTM_VERIFY_KIND`` in the environment; the environment supplies the default of the other two.
The default profile is ``ci`` everywhere (25 derandomized examples per check); ``dev`` (8 random
examples) is the quick one to ask for while iterating.
"""

from __future__ import annotations

import argparse
import os
import shlex
from dataclasses import dataclass, field, fields, make_dataclass
from typing import Any, Callable

from hypothesis import HealthCheck, Phase, settings

from lstm_verify.guard import DEFAULT_TIME_LIMIT

DTYPES = ("float32", "float64", "float16", "bfloat16")
VERDICT_PHASES = tuple(p for p in Phase if p is not Phase.explain)
"""The dev and ci profiles' phases: every one but ``explain``, which runs a failing law again and
again after shrinking, to mark the arguments that do not matter ("# or any other generated
value"). It took 2.5-3.8 s of every failing check even when the first failing example was
already the minimal one, outside the shrinking budget: a defective implementation's verdict
fails a dozen checks. The thorough profile keeps it."""

PROFILES = {
    "dev": dict(max_examples=8, phases=VERDICT_PHASES),
    "ci": dict(max_examples=25, derandomize=True, print_blob=True, phases=VERDICT_PHASES),
    "thorough": dict(max_examples=300),
}
DEFAULT_PROFILE = "ci"
SHRINK_SECONDS = {"dev": 5.0, "ci": 5.0, "thorough": None}
"""Seconds hypothesis may spend shrinking one failing check, per profile (None: hypothesis's own
limit, five minutes); see :func:`lstm_verify.pytest_plugin.budget_shrinking`."""

for _name, _options in PROFILES.items():
    settings.register_profile(_name, deadline=None, report_multiple_bugs=False,
                              suppress_health_check=[HealthCheck.too_slow], **_options)


@dataclass(frozen=True)
class Option:
    """One option of a run: its name, default, help, and how its text is read."""

    name: str
    """The attribute of :class:`Options` and the keyword of ``check_impl``; ``--name`` on the command
    line (``_`` written ``-``), ``--lstm-name`` in pytest, ``LSTM_VERIFY_NAME`` in the environment."""
    help: str
    default: Any = None
    type: Callable[[str], Any] = str
    choices: tuple[str, ...] | str | None = None
    """The values it takes, or the name of the :mod:`lstm_verify.targets` registry that holds them."""
    metavar: str | None = None
    switch: bool = False
    """A flag without a value (``--strict-xfails``); the environment variable is on when it is 1."""
    cli: str | None = ""
    """The command line's flag: '' for ``--name``, None where the command line takes the value
    another way (TARGET is positional)."""

    @property
    def pytest_flag(self) -> str:
        return "--lstm-" + self.name.replace("_", "-")

    @property
    def cli_flag(self) -> str | None:
        return None if self.cli is None else self.cli or "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return "LSTM_VERIFY_" + self.name.upper()

    def allowed(self) -> tuple[str, ...] | None:
        """The values it takes (a registry's names read when asked, so the registry stays the one place)."""
        if isinstance(self.choices, str):
            from lstm_verify import targets
            return tuple(getattr(targets, self.choices))
        return self.choices

    def default_here(self) -> Any:
        """The default, unless the environment variable sets it."""
        text = os.environ.get(self.env)
        if text is None or text == "":
            return self.default
        return text.strip() not in ("0", "false", "") if self.switch else self.type(text)


OPTIONS: tuple[Option, ...] = (
    Option("impl", "check TARGET (package.module:attr, path/to/file.py:attr, or an .onnx file) instead of the "
                   "built-in adapters", metavar="TARGET", cli=None),
    Option("kind", "what TARGET is (docs/checking.md: the kinds)", default="torch-cell", choices="KINDS"),
    Option("via", "check TARGET through a converter: onnx (a torch-lstm exported with torch.onnx.export) or "
                  "tf2onnx (a tf-step converted by tf2onnx), run by onnxruntime; tflite (a tf-step converted by "
                  "TFLiteConverter), run by LiteRT", choices="VIAS"),
    Option("runtime", "--kind onnx: the runtime to run the model's LSTM nodes on (default onnxruntime)",
           choices="RUNTIMES"),
    Option("device", "where TARGET runs: cpu (default), cuda or cuda:N (torch kinds), gpu or gpu:N (jax-step), "
                     "GPU:N (tf-step), float32 with TF32 off; an accelerator's column names it (my_cell-cuda-float32)",
           metavar="DEVICE"),
    Option("layout", "how TARGET stores its parameters: a named layout (haiku, keras, ...: `lstm-verify layouts`) "
                     "or a gate-block order (iofc); default torch", metavar="LAYOUT"),
    Option("variant", "the LSTM variant TARGET computes, replacing what it declares: peepholes, clip=C[:spec|gates|cell], "
                      "input-forget, f=/g=/h=ACTIVATION[:ALPHA[:BETA]], comma-separated (docs/variants-and-precisions.md)",
           metavar="VARIANT"),
    Option("adapters", "built-in adapters to check (comma-separated, or 'all')", default="all"),
    Option("dtypes", "comma-separated dtypes", default=",".join(DTYPES)),
    Option("precision", "what TARGET promises beyond its dtype, for its error bound: ieee, tf32, "
                        "approximate-activations ..., combined with '+' (default: what the adapter declares, "
                        "ieee for a TARGET)", metavar="PRECISION"),
    Option("profile", f"hypothesis profile: dev (8 random examples per check), ci (25, derandomized), thorough "
                      f"(300); default {DEFAULT_PROFILE}", default=DEFAULT_PROFILE, choices=tuple(sorted(PROFILES))),
    Option("shrink_seconds", "seconds hypothesis may shrink one failure (default: the profile's, 5 s; thorough "
                             "300 s)", type=float, metavar="SECONDS"),
    Option("xfail", "expected failures: a TOML file of [[expected]] entries, each naming the law, a match on the "
                    "failure and the reason (docs/checking.md)", metavar="FILE"),
    Option("strict_xfails", "an expected failure that does not happen (xpassed) fails the run", default=False,
           switch=True),
    Option("html", "write the HTML report (matrix, failures, reasons, figures) to DIR", metavar="DIR"),
    Option("timeout", f"seconds one call into the implementation may take (default {DEFAULT_TIME_LIMIT:g})",
           default=DEFAULT_TIME_LIMIT, type=float),
    Option("memory_limit", "GiB of writable memory each process running the laws may take (0: no limit; "
                           "lstm-verify check: default the RAM over the workers, at least 2)", type=float,
           metavar="GIB"),
    Option("cache_dir", "where the kit keeps its caches (JAX compilations, hypothesis's database, pytest's "
                        "temporary folders); default ./.lstm_verify", metavar="DIR"),
    Option("fresh", "run every check, also those whose stored verdicts stand (inputs unchanged since they were "
                    "measured: docs/incremental.md), and store the new verdicts", default=False, switch=True),
    Option("shard", "run only the K-th of N parts of equal measured cost (combine them with lstm-verify merge)",
           metavar="K/N"),
)
BY_NAME = {o.name: o for o in OPTIONS}

Options = make_dataclass("Options", [(o.name, Any, field(default=o.default)) for o in OPTIONS], frozen=True)
Options.__doc__ = "One run's choices, one field per :data:`OPTIONS` entry (its ``help`` says what it means)."
Options.__module__ = __name__


def options_from_env(**given: Any) -> Options:
    """The options the environment sets, with ``given`` (None: not given) on top."""
    values = {o.name: o.default_here() for o in OPTIONS}
    values.update({k: v for k, v in given.items() if v is not None})
    return Options(**values)


def options_from_pytest(config: Any) -> Options:
    """The options of a pytest session (its ``--lstm-*`` values)."""
    return Options(**{o.name: config.getoption(o.pytest_flag) for o in OPTIONS})


def pytest_args(options: Options) -> list[str]:
    """The ``--lstm-*`` arguments that give a pytest session ``options``."""
    args: list[str] = []
    for o in OPTIONS:
        value = getattr(options, o.name)
        if o.switch:
            args += [o.pytest_flag] if value else []
        elif value not in (None, ""):
            args += [o.pytest_flag, str(value)]
    return args


def add_pytest_options(parser: Any) -> None:
    """Every option as ``--lstm-*`` in the plugin's option group."""
    group = parser.getgroup("lstm-verify", "LSTM conformance properties")
    for o in OPTIONS:
        extra = dict(action="store_true") if o.switch else dict(type=o.type, choices=o.allowed(), metavar=o.metavar)
        group.addoption(o.pytest_flag, default=o.default_here(), help=f"{o.help}; env {o.env}", **extra)


def add_cli_arguments(parser: argparse.ArgumentParser, names: tuple[str, ...] | None = None,
                      types: dict[str, Callable[[str], Any]] | None = None) -> None:
    """The options ``names`` (default: every one with a command-line flag) as flags of ``parser``;
    ``types`` replaces an option's parser (to check a value before the run starts)."""
    for o in OPTIONS:
        if o.cli_flag is None or (names is not None and o.name not in names):
            continue
        if o.switch:
            parser.add_argument(o.cli_flag, dest=o.name, action="store_true", default=o.default_here(),
                                help=f"{o.help}; env {o.env}")
            continue
        parser.add_argument(o.cli_flag, dest=o.name, default=o.default_here(), metavar=o.metavar, choices=o.allowed(),
                            type=(types or {}).get(o.name, o.type), help=f"{o.help}; env {o.env}")


TARGET_OPTIONS = ("kind", "via", "runtime", "layout", "variant")
"""The options that, with TARGET, name what to run."""


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments that name what to run, shared by ``check`` and ``bench``: TARGET and
    :data:`TARGET_OPTIONS`."""
    parser.add_argument("target", nargs="?", metavar="TARGET",
                        help=BY_NAME["impl"].help)
    add_cli_arguments(parser, TARGET_OPTIONS)


def options_from_args(args: argparse.Namespace, **given: Any) -> Options:
    """The options of a parsed command line (with ``given`` on top)."""
    values = {f.name: getattr(args, f.name, f.default) for f in fields(Options)}
    return Options(**{**values, **given})


REPRODUCED = ("impl", "kind", "via", "runtime", "device", "layout", "variant", "precision", "profile")
"""The options a failure's reproducer repeats."""


def reproducer(options: Options, test: str) -> str:
    """The pytest command that runs ``test`` (``properties.module::name[id]``) alone."""
    parts = []
    for name in REPRODUCED:
        value = getattr(options, name)
        if value and (name != "kind" or options.impl):
            parts += [BY_NAME[name].pytest_flag, shlex.quote(str(value))]
    return f"pytest --pyargs '{test}' {' '.join(parts)}".rstrip()
