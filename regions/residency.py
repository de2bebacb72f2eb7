"""Data residency: the countries, country groups and regions a profile's ``data_residency`` may name.

Country codes are ISO 3166-1 alpha-2 (``countries.csv``); groups such as ``EU`` expand to their
member countries (``country_groups.csv``); both are dated and sourced in ``regions/data/README.md``.
Explanations and diagnoses say what a group expanded to, so nobody has to guess what ``EEA`` meant.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from regions.catalog import DATA_DIR, Region

__all__ = ["NON_ISO_CODES", "Residency", "countries", "country_groups", "expand_residency"]

NON_ISO_CODES = {"UK": ("GB", "the United Kingdom"), "EL": ("GR", "Greece")}
"""Codes people write that ISO 3166 does not use -> (ISO code, country): the EU's own abbreviations
(Eurostat, "Glossary:Country codes"). Refused with the ISO code named, never guessed."""


@functools.cache
def countries(data_dir: Path = DATA_DIR) -> dict[str, str]:
    """ISO 3166-1 alpha-2 code -> English name."""
    with (data_dir / "countries.csv").open(newline="", encoding="utf-8") as handle:
        return {row["country_code"]: row["name"] for row in csv.DictReader(handle)}


@functools.cache
def country_groups(data_dir: Path = DATA_DIR) -> dict[str, tuple[str, ...]]:
    """Group name (``EU``, ``EEA``) -> its member countries, sorted."""
    members: dict[str, list[str]] = {}
    with (data_dir / "country_groups.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            members.setdefault(row["group"], []).append(row["country_code"])
    return {group: tuple(sorted(codes)) for group, codes in members.items()}


@dataclass(frozen=True)
class Residency:
    """Where data may live, with every group expanded."""

    entries: tuple[str, ...]
    """The profile's entries, as written."""
    countries: frozenset[str]
    """Every allowed country: those named directly plus the members of the groups named."""
    regions: frozenset[str]
    """Entries that are not countries or groups: region keys (``aws:us-east-1``) or bare codes."""
    groups: Mapping[str, tuple[str, ...]]
    """Each group named -> the countries it expanded to."""

    def __bool__(self) -> bool:
        return bool(self.entries)

    def allows(self, region: Region) -> bool:
        """True when the region lies in an allowed country or is named itself."""
        return region.country_code in self.countries or bool({region.code, region.key} & self.regions)

    def describe(self) -> str:
        """The entries with each group spelled out: ``"EU (27 countries: AT, BE, ...), CH"``."""
        return ", ".join(
            f"{entry} ({len(self.groups[entry])} countries: {', '.join(self.groups[entry])})"
            if entry in self.groups
            else entry
            for entry in self.entries
        )


def expand_residency(entries: Sequence[str]) -> Residency:
    """Expands a profile's ``data_residency`` entries (countries, groups, regions).

    Entries it does not recognise are kept as region names, which match no region; profile
    validation (:func:`regions.names.check_profile_names`) refuses them before placement.
    """
    return _expand(tuple(entries))


@functools.lru_cache(maxsize=256)
def _expand(entries: tuple[str, ...]) -> Residency:
    groups = country_groups()
    known = countries()
    named = [code for entry in entries for code in groups.get(entry, (entry,)) if code in known]
    regions = [entry for entry in entries if entry not in groups and entry not in known]
    used = {entry: groups[entry] for entry in entries if entry in groups}
    return Residency(entries, frozenset(named), frozenset(regions), MappingProxyType(used))
