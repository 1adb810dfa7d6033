"""``meta``: the root command, lazy subcommands, and the one error boundary.

Subcommand modules are imported only when their command runs, and ``meta
--help`` lists them from the table below without importing any, so start-up
stays at the cost of importing click.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import click

from metarepo import __version__
from metarepo.cli.app import Application, application
from metarepo.errors import MetaError

# name -> (module:attribute, one-line help). Order is the order of `meta --help`.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("metarepo.cli.workspace:init", "Make an empty .meta here."),
    "clone": ("metarepo.cli.workspace:clone", "Clone a meta repo and every project, in parallel."),
    "update": ("metarepo.cli.workspace:update", "Clone what is missing, fast-forward the rest."),
    "project": ("metarepo.cli.project:project", "Add, remove, list or import projects in .meta."),
    "exec": ("metarepo.cli.execute:exec_", "Run a shell command in every selected project."),
    "git": ("metarepo.cli.execute:git", "Run git ARGS in every selected project."),
    "status": ("metarepo.cli.workspace:status", "Branch, dirty files, ahead/behind, last commit per project."),
    "lock": ("metarepo.cli.workspace:lock", "Write .meta.lock with each project's commit."),
    "graph": ("metarepo.cli.graph:graph", "The message-contract graph (text, JSON, DOT, Mermaid, HTML)."),
    "contracts": ("metarepo.cli.contracts:contracts", "Schema-compatibility gates between services."),
    "ci": ("metarepo.cli.ci:ci", "Generate, check and diff every repo's CI pipeline."),
    "batch": ("metarepo.cli.batch:batch", "One change across many repos: branch, commit, push, PRs."),
    "import": ("metarepo.cli.hosting:import_", "Add a hosting organisation's repos to .meta."),
    "proxy": ("metarepo.cli.proxy:proxy", "Render and check the edge proxy's routes (HAProxy, nginx, Traefik)."),
    "build": ("metarepo.cli.images:build", "Build (and push) Docker images of selected projects."),
    "rollout": ("metarepo.cli.images:rollout", "Roll images out to Swarm or Kubernetes, health-gated."),
    "release": ("metarepo.cli.release:release", "Release trains: plan, apply, promote, status, rollback."),
    "logs": ("metarepo.cli.logs:logs", "The selected services' logs in ENV, merged in time order."),
    "doctor": ("metarepo.cli.doctor:doctor", "The fleet scorecard: which repos follow the architecture."),
    "monitor": ("metarepo.cli.monitor:monitor", "Prometheus targets and SLO alerting rules from the manifest."),
    "broker": ("metarepo.cli.broker:broker", "The message broker's queues and retries, from the contract graph."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name, (target, _) in COMMANDS.items() if _available(target)]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        entry = COMMANDS.get(name)
        if entry is None:
            return None
        module_name, _, attr = entry[0].partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                return None
            raise
        return getattr(module, attr)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        """As click's, with a "did you mean" from the table (click's own looks only at loaded commands)."""
        name = args[0]
        if not ctx.resilient_parsing and not name.startswith("-") and self.get_command(ctx, name) is None:
            raise click.UsageError(f"No such command {name!r}.{did_you_mean(name, self.list_commands(ctx))}", ctx)
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_) for name, (target, help_) in COMMANDS.items() if _available(target)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def did_you_mean(word: str, choices: list[str]) -> str:
    """" Did you mean 'exec'?" for a word close to one of ``choices``, else ""."""
    import difflib

    close = difflib.get_close_matches(word, choices, n=3)
    if not close:
        return ""
    if len(close) == 1:
        return f" Did you mean {close[0]!r}?"
    return " Did you mean one of " + ", ".join(repr(c) for c in close) + "?"


def _available(target: str) -> bool:
    """Whether a command's module exists, without importing it."""
    module = target.partition(":")[0]
    return (Path(__file__).parent / f"{module.rsplit('.', 1)[-1]}.py").exists()


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-C", "root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Use the meta repo in DIR instead of searching upwards from here.")
@click.version_option(__version__, prog_name="meta")
@click.pass_context
def cli(ctx: click.Context, root: Path | None) -> None:
    """Run a fleet of service repositories as if it were one repository."""
    ctx.obj = Application(root=root)


def main(argv: list[str] | None = None) -> None:
    """Entry point: the single place where errors become one line and an exit status."""
    try:
        result = cli.main(args=argv, prog_name="meta", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, click.exceptions.Abort):
        application().error("interrupted")
        sys.exit(130)
    except MetaError as exc:
        application().error(str(exc))
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        # The reader went away (`meta exec ... | head`): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)
    except Exception:  # noqa: BLE001 - the boundary: a bug, shown in full
        import traceback

        traceback.print_exc()
        application().error("internal error (a bug in metarepo; the traceback above helps us fix it)")
        sys.exit(3)
    sys.exit(result if isinstance(result, int) else 0)
