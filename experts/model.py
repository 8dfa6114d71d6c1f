"""Value objects of the expertise database: plain pydantic, no SQL, no graph.

An :class:`ExpertiseData` is the whole database as one immutable value: the topic taxonomy,
districts and their street offices, organisations, and experts with their affiliations,
proficiencies (weight and recency) and local knowledge. Import, export, the store and the
graph builder all convert to and from it.

Identifiers are free text in any script (``"道路清扫保洁"`` is a valid id) without leading or
trailing blanks; names are what people read.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, Field, StringConstraints

__all__ = [
    "Id",
    "OrganisationKind",
    "DistrictKind",
    "Topic",
    "District",
    "Organisation",
    "Affiliation",
    "Proficiency",
    "LocalKnowledge",
    "Expert",
    "ExpertiseData",
]

#: A stable identifier: 1–100 characters, no leading or trailing whitespace, any script.
Id = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^\S(?:.*\S)?$")]
#: A human-readable name: non-empty, any script.
Name = Annotated[str, StringConstraints(min_length=1, max_length=300, pattern=r"\S")]

OrganisationKind = Literal[
    "bureau",
    "street_office",
    "design_institute",
    "university",
    "research_institute",
    "contractor",
    "consultancy",
    "law_firm",
    "financial",
    "community",
    "other",
]
DistrictKind = Literal["district", "street_office"]


class Topic(BaseModel, frozen=True):
    """A node of the topic taxonomy (``urban-planning > zoning``)."""

    id: Id
    name: Name
    parent: Id | None = None
    aliases: tuple[Name, ...] = ()


class District(BaseModel, frozen=True):
    """A district (``kind="district"``) or a street office inside one (``parent`` set).

    ``profile`` says what kind of district it is (``developed``, ``middle``, ``new_town``), so
    decision classes can differ by district type.
    """

    id: Id
    name: Name
    kind: DistrictKind = "district"
    parent: Id | None = None
    profile: str | None = None


class Organisation(BaseModel, frozen=True):
    """An employer or affiliation: a bureau, design institute, university, contractor …

    ``interests`` lists topics in which the organisation has a commercial stake (it bids for
    or holds contracts in them): its current staff are conflicted on decisions about them.
    """

    id: Id
    name: Name
    kind: OrganisationKind = "other"
    district: Id | None = None
    interests: tuple[Id, ...] = ()


class Affiliation(BaseModel, frozen=True):
    """An expert's tie to an organisation; only ``current`` ties create conflicts."""

    organisation: Id
    role: str = "employee"
    current: bool = True


class Proficiency(BaseModel, frozen=True):
    """How well an expert knows a topic (``0 < weight <= 1``), and their last year in it."""

    topic: Id
    weight: float = Field(gt=0.0, le=1.0)
    last_active: int = Field(ge=1900, le=2200)


class LocalKnowledge(BaseModel, frozen=True):
    """An expert's knowledge of a district or street office (``0 < weight <= 1``)."""

    district: Id
    weight: float = Field(gt=0.0, le=1.0)


_ADDRESS = re.compile(r"^[a-z][a-z0-9+.-]{1,31}://\S+$")


def _addresses(value: Any) -> Any:
    """``notify`` as a list, or as one cell of addresses separated by spaces (CSV)."""
    if isinstance(value, str):
        value = value.split()
    if isinstance(value, list | tuple):
        for address in value:
            if not isinstance(address, str) or not _ADDRESS.match(address) or len(address) > 1000:
                raise ValueError(
                    "a notification address is an Apprise URL such as mailto://wang@example.cn "
                    "or wecombot://KEY"
                )
    return value


#: Where an expert is told of the tasks routing gives them (Apprise URLs; the same check as
#: an actor's addresses in ``decisions.model.actors``, which this package does not import).
Addresses = Annotated[tuple[str, ...], BeforeValidator(_addresses), Field(max_length=8)]


class Expert(BaseModel, frozen=True):
    """A person who can be consulted.

    ``workload_cap`` is how many consultations the expert takes at once; ``active_assignments``
    how many they hold now. An expert with ``available=False`` is never routed.
    """

    id: Id
    name: Name
    title: str = ""
    available: bool = True
    workload_cap: int = Field(default=3, ge=0)
    active_assignments: int = Field(default=0, ge=0)
    affiliations: tuple[Affiliation, ...] = ()
    proficiencies: tuple[Proficiency, ...] = ()
    districts: tuple[LocalKnowledge, ...] = ()
    #: where and in which language the expert is told of their tasks
    notify: Addresses = ()
    lang: Literal["zh", "en"] = "zh"


class ExpertiseData(BaseModel, frozen=True):
    """The whole expertise database as one value, in file order."""

    topics: tuple[Topic, ...] = ()
    districts: tuple[District, ...] = ()
    organisations: tuple[Organisation, ...] = ()
    experts: tuple[Expert, ...] = ()

    def merged_with(self, other: ExpertiseData) -> ExpertiseData:
        """This data with ``other``'s records added, replacing records with the same id.

        Parameters
        ----------
        other : ExpertiseData
            Records that win over this data's records with the same id.

        Returns
        -------
        ExpertiseData
            Records of ``self`` first (replaced in place where ``other`` has them), then the
            records that only ``other`` has.
        """

        return ExpertiseData(
            topics=_merge(self.topics, other.topics),
            districts=_merge(self.districts, other.districts),
            organisations=_merge(self.organisations, other.organisations),
            experts=_merge(self.experts, other.experts),
        )


_R = TypeVar("_R", Topic, District, Organisation, Expert)


def _merge(mine: tuple[_R, ...], theirs: tuple[_R, ...]) -> tuple[_R, ...]:
    new = {r.id: r for r in theirs}
    out = [new.pop(r.id, r) for r in mine]
    out.extend(r for r in theirs if r.id in new)
    return tuple(out)
