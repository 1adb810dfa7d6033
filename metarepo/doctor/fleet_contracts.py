"""The contracts and messaging checks, from one pass over the fleet's contracts.

Every cloned project of the manifest is read (not only the selected ones:
whether a service breaks a consumer depends on every consumer), through the
contracts cache, so a second run re-reads only what changed; a contract that
does not load fails that project's check and is left out of the matrix.
Then the Pact-style matrix (``contracts.fleet.pair_matrix``) is computed
once, and each selected project is told which of its pairs break and which
of the messages it consumes nobody produces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from metarepo.doctor.checks import COMPATIBLE, DECLARED, LOADING, PRODUCERS
from metarepo.doctor.model import Result, failed, not_applicable, passed
from metarepo.errors import MetaError, NotFoundError
from metarepo.manifest import Manifest, Project


@dataclass(frozen=True)
class ContractResults:
    results: dict[str, list[Result]] = field(default_factory=dict)  # project -> declared, loading, compatible,
    # producers
    has_messages: dict[str, bool] = field(default_factory=dict)


def contract_results(manifest: Manifest, selected: Sequence[Project]) -> ContractResults:
    from metarepo.contracts.cache import contracts_cache
    from metarepo.contracts.fleet import no_gc_pauses, pair_matrix, project_contract

    contracts, errors = {}, {}
    with contracts_cache(manifest) as cache, no_gc_pauses():
        for project in manifest.projects:
            if not project.present:
                continue
            try:
                contracts[project.name] = project_contract(project, cache=cache)
            except MetaError as exc:
                errors[project.name] = exc
        matrix = pair_matrix(contracts)
    bad_pairs: dict[str, list] = {}
    for pair in matrix.pairs:
        if not pair.compatible:
            for side in {pair.producer, pair.consumer}:
                bad_pairs.setdefault(side, []).append(pair)
    orphans: dict[str, list] = {}
    for message, consumer in matrix.unpublished:
        orphans.setdefault(consumer, []).append(message)

    out = ContractResults()
    for project in selected:
        name = project.name
        error = errors.get(name)
        contract = contracts.get(name)
        if error is not None:
            if isinstance(error, NotFoundError):
                out.results[name] = [failed(DECLARED, f"{error.message}: fix metarepo.projects.{name}.contracts"),
                                     *_na("no contracts file")]
            else:
                why = "its contracts do not load"
                out.results[name] = [passed(DECLARED), failed(LOADING, f"fix {error.message}"),
                                     not_applicable(COMPATIBLE, why), not_applicable(PRODUCERS, why)]
            out.has_messages[name] = True  # it means to have some
            continue
        if contract is None:  # not cloned: the caller marks the project
            continue
        if not contract.files:
            out.results[name] = [failed(DECLARED, "declare what it sends and receives in contracts.yaml or "
                                                  "asyncapi.yaml (an empty publishes/consumes says: nothing)"),
                                 *_na("no contracts file")]
            out.has_messages[name] = False
            continue
        out.has_messages[name] = not contract.empty
        out.results[name] = [passed(DECLARED, ", ".join(contract.files)), passed(LOADING),
                             _compatible(name, bad_pairs.get(name, [])), _producers(contract, orphans.get(name, []))]
    return out


def _na(why: str) -> list[Result]:
    return [not_applicable(LOADING, why), not_applicable(COMPATIBLE, why), not_applicable(PRODUCERS, why)]


def _compatible(name: str, pairs: list) -> Result:
    if not pairs:
        return passed(COMPATIBLE)
    pair = pairs[0]
    more = f" (and {len(pairs) - 1} more pair(s))" if len(pairs) > 1 else ""
    change = next(iter(pair.verdict.breaking), None)
    what = f" ({change.path}: {change.kind})" if change is not None else ""
    if pair.state.value == "undecided":
        line = f"could not decide whether {pair.consumer} reads {pair.message.label} from {pair.producer}"
    elif pair.producer == name:
        line = f"{pair.consumer} cannot read {pair.message.label} as it sends it{what}"
    else:
        line = f"it cannot read {pair.message.label} as {pair.producer} sends it{what}"
    return failed(COMPATIBLE, f"{line}{more}: see `meta contracts check`")


def _producers(contract, orphans: list) -> Result:
    if not contract.consumes:
        return not_applicable(PRODUCERS, "it consumes no message")
    if not orphans:
        return passed(PRODUCERS, f"{len(contract.consumes)} consumed")
    names = ", ".join(m.label for m in orphans[:3]) + (f" (and {len(orphans) - 3} more)" if len(orphans) > 3 else "")
    return failed(PRODUCERS, f"nobody in the fleet sends {names}: add the producer's contract, or stop consuming it")
