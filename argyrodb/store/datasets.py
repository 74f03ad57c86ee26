"""The datasets of the database, declared once.

Every row of ``measurements`` and ``structures`` names the dataset it belongs to (its ``dataset`` column). What
those names are, which tables hold their rows, their licence and attribution and what fills them is
:data:`DATASETS`, and nothing else: the schema's ``datasets`` table is written from it whenever a database is
built, migrated or opened for writing (:func:`argyrodb.store.migrations.sync_datasets`, an upsert), and
``measurements.dataset`` and ``structures.dataset`` reference that table (schema 9; they were CHECK lists before,
which took a table rebuild to extend). The command line's ``--dataset`` choices, the build's literature readers,
the duplicate marking and the licence and attribution stored on literature rows are read from here too.

A new literature dataset is one :class:`Dataset` entry below plus its reader: a function
``reader(db, folder, source_ids, materials)`` in the store layer (named ``"module:function"``) that inserts its
measurements from files in the literature folder; a folder of CIFs named by the dataset's IDs
(``structures_folder``) is analysed and stored by ``argyrodb db build`` and linked to the measurements with those IDs.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from ..core.errors import ParameterError

#: The tables a dataset's rows go to.
MEASUREMENTS = "measurements"
STRUCTURES = "structures"
KINDS = (MEASUREMENTS, STRUCTURES)

#: The user's own rows (``argyrodb db add``, ``argyrodb refine --db``).
USER = "user"
#: The refinement files shipped in ``structures/``.
BUNDLED_STRUCTURES = "argyrodb"

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_READER = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


@dataclass(frozen=True)
class Dataset:
    """One dataset: the value of the ``dataset`` column of its rows and everything argyrodb knows about it."""

    name: str  #: the ``dataset`` column's value (lower case, ``[a-z][a-z0-9_]*``)
    kinds: tuple[str, ...]  #: the tables its rows go to: ``measurements``, ``structures`` or both
    title: str  #: how it is named to people (a literature structure is stored as "<title> <ID> <material>")
    description: str
    source: str  #: what fills it: packaged files, a command
    licence: str | None = None
    attribution: str | None = None
    #: ``"module:function"`` in the store layer that ``db build`` calls to insert its measurements:
    #: ``reader(db, folder, source_ids, materials)`` (sqlite-utils database, literature folder, source key -> id,
    #: formula -> material id); None when something else fills it
    reader: str | None = None
    #: folder of CIFs in the literature folder, each named by its ID (``<dataset_id>.cif``): ``db build`` analyses
    #: and stores each as a structure of this dataset, linked to the measurement with that ``dataset_id``
    structures_folder: str | None = None
    #: what every structure of the dataset carries about its coordinates
    structure_caveat: str | None = None
    #: rows the user adds (``db add``, ``refine --db``); ``db build`` replays them, and never marks them duplicates
    user_supplied: bool = False

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ParameterError("name", f"dataset name {self.name!r} must be lower case letters, digits and _ (at most 32)")
        if not self.kinds or len(set(self.kinds)) != len(self.kinds) or not set(self.kinds) <= set(KINDS):
            raise ParameterError("kinds", f"dataset {self.name}: kinds must be one or both of {', '.join(KINDS)}, got {self.kinds!r}")
        if self.reader is not None and (not _READER.match(self.reader) or MEASUREMENTS not in self.kinds):
            raise ParameterError("reader", f"dataset {self.name}: a reader is 'module:function' and reads measurements, "
                                           f"got {self.reader!r}")
        if self.structures_folder is not None and STRUCTURES not in self.kinds:
            raise ParameterError("structures_folder", f"dataset {self.name} holds no structures")

    @property
    def kind(self) -> str:
        """The ``datasets.kind`` column: ``measurements``, ``structures`` or ``both``."""
        return "both" if len(self.kinds) == 2 else self.kinds[0]

    def holds(self, kind: str) -> bool:
        return kind in self.kinds

    def row(self) -> dict:
        """This dataset as a row of the ``datasets`` table."""
        return {"name": self.name, "kind": self.kind, "title": self.title, "description": self.description,
                "source": self.source, "licence": self.licence, "attribution": self.attribution, "reader": self.reader,
                "structures_folder": self.structures_folder, "user_supplied": int(self.user_supplied)}


OBELIX_ATTRIBUTION = (
    "F. Therrien et al., OBELiX: A Curated Dataset of Crystal Structures and Experimentally Measured Ionic "
    "Conductivities for Lithium Solid-State Electrolytes, arXiv:2502.14234 (2025); data tag v1.2.0-data of "
    "NRC-Mila/OBELiX"
)

#: Every dataset, in the order the build inserts them and duplicates are looked for (earlier rows are the originals).
DATASETS: tuple[Dataset, ...] = (
    Dataset(
        name="table_s3", kinds=(MEASUREMENTS,), title="Table S3",
        description="Table S3 of the source paper's SI: previously reported I-based argyrodites and the source's own "
                    "LMA-Cl0.8I0.6, row for row as printed (formulas normalised, garbled ones corrected with a note)",
        source="db/table_s3.csv (packaged: argyrodb/data/literature), references from db/references.csv",
        reader="argyrodb.store.ingest:insert_table_s3",
    ),
    Dataset(
        name="obelix", kinds=(MEASUREMENTS, STRUCTURES), title="OBELiX",
        description="The argyrodite-family rows of the OBELiX dataset (all.csv, v1.2.0-data) and their CIFs",
        source="db/obelix_argyrodites.csv (`argyrodb db import-obelix all.csv`) and db/obelix_cifs/*.cif "
               "(packaged: argyrodb/data/literature)",
        licence="CC BY 4.0", attribution=OBELIX_ATTRIBUTION,
        reader="argyrodb.store.ingest:insert_obelix",
        structures_folder="obelix_cifs",
        structure_caveat="OBELiX CIF: standardised from ICSD or literature structures with atomic positions randomly "
                         "perturbed (symmetry kept) for licensing; coordinates are close to, not equal to, the published ones",
    ),
    Dataset(
        name=BUNDLED_STRUCTURES, kinds=(STRUCTURES,), title="argyrodb",
        description="The refinement files shipped with argyrodb (the source's Table S2, LMA-Cl0.8I0.6, and the end "
                    "members Li6PS5Cl, Li6PS5Br and Li6PS5I), each validated without errors",
        source="structures/*.yaml (packaged: argyrodb/data/structures), stored by argyrodb.pipeline.build.build_database",
    ),
    Dataset(
        name=USER, kinds=(MEASUREMENTS, STRUCTURES), title="user",
        description="The user's own measurements and structures: CSV files added with `argyrodb db add` and "
                    "structures refined with `argyrodb refine --db`; kept across `argyrodb db build`, which replays them",
        source="`argyrodb db add MINE.csv` (argyrodb.store.user_data), `argyrodb refine --db` (refinements)",
        user_supplied=True,
    ),
)


def all_datasets(kind: str | None = None) -> tuple[Dataset, ...]:
    """Every dataset (in :data:`DATASETS` order), or those whose rows go to the table ``kind``."""
    if kind is not None and kind not in KINDS:
        raise ParameterError("kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    found = tuple(d for d in DATASETS if kind is None or d.holds(kind))
    names = [d.name for d in DATASETS]
    if len(set(names)) != len(names):
        raise ParameterError("name", f"dataset names repeat in the registry: {names}")
    return found


def dataset_names(kind: str | None = None) -> list[str]:
    """The names of :func:`all_datasets` (``kind``: ``measurements`` or ``structures``), in registry order."""
    return [d.name for d in all_datasets(kind)]


def get(name: str, kind: str | None = None, parameter: str = "dataset") -> Dataset:
    """The dataset called ``name`` (holding rows of ``kind`` when given); anything else is a one-line
    :class:`ParameterError` naming ``parameter`` and the datasets there are."""
    for dataset in all_datasets(kind):
        if dataset.name == name:
            return dataset
    known = dataset_names(kind)
    what = "dataset" if kind is None else f"dataset of {kind}"
    raise ParameterError(parameter, f"unknown {what} {name!r} (there are: {', '.join(known)})")


def literature(kind: str = MEASUREMENTS) -> tuple[Dataset, ...]:
    """The datasets of ``kind`` that argyrodb ships (not user-supplied), in registry order."""
    return tuple(d for d in all_datasets(kind) if not d.user_supplied)


def reader_of(dataset: Dataset) -> Callable:
    """The function named by ``dataset.reader``. It must live in the store layer (``argyrodb.store.*``) or outside
    argyrodb: the store may not call up into the pipeline or the CLI."""
    if dataset.reader is None:
        raise ParameterError("reader", f"dataset {dataset.name} has no reader")
    module, function = dataset.reader.split(":")
    if module.split(".")[0] == "argyrodb" and not module.startswith("argyrodb.store."):
        raise ParameterError("reader", f"dataset {dataset.name}: reader {dataset.reader!r} is not in argyrodb.store")
    try:
        return getattr(importlib.import_module(module), function)
    except (ImportError, AttributeError) as exc:
        raise ParameterError("reader", f"dataset {dataset.name}: reader {dataset.reader!r} not found ({exc})") from None
