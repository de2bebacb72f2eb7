"""Checks the region and country names a profile uses against the catalog, with close-match suggestions.

An allow-list entry that names no region would silently stop matching, a deny-list entry would
silently deny nothing and a residency entry would end as a misleading infeasibility, so every
entry of ``placement.allowed_regions``, ``placement.denied_regions`` and
``compliance.data_residency`` must name something real, on a cloud the profile allows.
"""

from __future__ import annotations

from collections.abc import Sequence

from regions.catalog import CLOUDS, Catalog, did_you_mean, quoted
from regions.residency import NON_ISO_CODES, countries, country_groups
from workloads.profiles import WorkloadProfile

__all__ = ["check_profile_names"]

_MAX_PROBLEMS_PER_FIELD = 10  # a list of hostile entries gets a bounded message, not one line per entry


def check_profile_names(profile: WorkloadProfile, catalog: Catalog) -> list[tuple[str, str]]:
    """(field path, message) for each region or residency entry the catalog does not know.

    Region entries are ``cloud:region`` keys or bare region codes (a bare code may exist on several
    clouds); they must name a region on one of ``placement.clouds``. Residency entries may also be
    ISO 3166-1 alpha-2 countries or a country group (``EU``, ``EEA``).
    """
    clouds: set[str] = set(profile.placement.clouds)
    keys = {key for key, region in catalog.regions.items() if region.cloud in clouds}
    codes = {catalog.regions[key].code for key in keys}
    problems: list[tuple[str, str]] = []
    for field, entries in (
        ("placement.allowed_regions", profile.placement.allowed_regions),
        ("placement.denied_regions", profile.placement.denied_regions),
    ):
        problems += _bounded(
            field, [(i, _region_problem(e, catalog, clouds, keys, codes)) for i, e in enumerate(entries)]
        )
    residency = [
        (i, _residency_problem(e, catalog, clouds, keys, codes))
        for i, e in enumerate(profile.compliance.data_residency)
    ]
    return problems + _bounded("compliance.data_residency", residency)


def _bounded(field: str, found: Sequence[tuple[int, str | None]]) -> list[tuple[str, str]]:
    problems = [(f"{field}.{i}", message) for i, message in found if message is not None]
    if len(problems) <= _MAX_PROBLEMS_PER_FIELD:
        return problems
    more = len(problems) - _MAX_PROBLEMS_PER_FIELD
    return [*problems[:_MAX_PROBLEMS_PER_FIELD], (field, f"{more} more unknown entries not listed")]


def _region_problem(entry: str, catalog: Catalog, clouds: set[str], keys: set[str], codes: set[str]) -> str | None:
    found = _region_miss(entry, catalog, clouds, keys, codes)
    return None if found is None else found[0] + found[1]


def _region_miss(
    entry: str, catalog: Catalog, clouds: set[str], keys: set[str], codes: set[str]
) -> tuple[str, str] | None:
    """(what is wrong, close-match suggestion) for a region entry; None when it names a usable region."""
    if entry in keys or entry in codes:
        return None
    suggestion = did_you_mean(entry, sorted(keys if ":" in entry else codes))
    elsewhere = sorted(r.key for r in catalog.regions.values() if entry in (r.key, r.code))
    if elsewhere:
        allowed = ", ".join(c for c in CLOUDS if c in clouds)
        return (
            f"no {allowed} region {quoted(entry)} ({', '.join(elsewhere)} exists, but placement.clouds is {allowed})",
            suggestion,
        )
    cloud, sep, code = entry.partition(":")
    if sep and cloud in CLOUDS:
        return f"unknown {cloud} region {quoted(code)}", suggestion
    return f"unknown region {quoted(entry)}", suggestion


def _residency_problem(entry: str, catalog: Catalog, clouds: set[str], keys: set[str], codes: set[str]) -> str | None:
    groups = country_groups()
    if entry in groups or entry in countries():
        return None
    if entry.upper() in NON_ISO_CODES:
        iso, country = NON_ISO_CODES[entry.upper()]
        return (
            f"{quoted(entry)} is not an ISO 3166-1 alpha-2 code; did you mean {iso!r}? ISO 3166 codes {country} "
            f"{iso!r}; {entry.upper()!r} is the EU's own abbreviation, a common mistake"
        )
    if entry.casefold() in {g.casefold() for g in groups}:
        return f"unknown country group {quoted(entry)}; the groups are {', '.join(sorted(groups))}, in upper case"
    if len(entry) == 2 and entry.isalpha():
        hint = f"; did you mean {entry.upper()!r}?" if entry.upper() in countries() else ""
        return f"unknown country {quoted(entry)}: expected an ISO 3166-1 alpha-2 code such as 'US' or 'DE'{hint}"
    found = _region_miss(entry, catalog, clouds, keys, codes)
    if found is None:
        return None
    kinds = f"ISO countries ('US'), groups ({', '.join(sorted(groups))}) or regions"
    return f"{found[0]}: residency entries are {kinds}{found[1]}"
