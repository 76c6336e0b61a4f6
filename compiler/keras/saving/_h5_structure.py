"""Refuses HDF5 features that would make reading a weights file touch anything but that file.

HDF5 can keep a dataset's bytes in other files (*external storage*: raw bytes of any path,
absolute or relative; *virtual datasets*: slices of datasets in other HDF5 files), can link to
objects of other files (*external links*), can run filters that HDF5 loads as plugins from
``HDF5_PLUGIN_PATH`` (code), and decompresses deflate / szip chunks without bounding their
output (a 400 KB chunk of a 16-byte dataset expands to 400 MB). Keras 3 writes none of these:
its weights are plain groups and contiguous, unfiltered datasets.

``check_structure`` walks every link of the file, reading each link's class from the link table
(a link is never followed) before a single value is read, and refuses:

* external links and user-defined links;
* soft links whose target is not an object of this file reached through plain (hard) links;
* datasets with external storage, virtual datasets, and any filter but ``shuffle`` and
  ``fletcher32`` (which neither load code nor change a chunk's size);
* chunks larger than their dataset (or 1 MiB), more than ``MAX_OBJECTS`` links, or groups
  nested deeper than ``MAX_DEPTH``.

The walk is HDF5's own (``H5Lvisit``): hard links only, each object once, so group cycles end.
Errors are ``H5StructureError`` naming the object's path and the feature.
"""

import math

import h5py

__all__ = ["check_structure", "H5StructureError", "ALLOWED_FILTERS", "MAX_OBJECTS", "MAX_DEPTH"]

ALLOWED_FILTERS = {h5py.h5z.FILTER_SHUFFLE: "shuffle", h5py.h5z.FILTER_FLETCHER32: "fletcher32"}
MAX_OBJECTS = 100_000
MAX_DEPTH = 64
_FREE_CHUNK_BYTES = 1 << 20


class H5StructureError(ValueError):
    """The weights file uses an HDF5 feature that the loader refuses (see the module doc)."""


def check_structure(h5_file):
    """Checks every link and dataset of an open ``h5py.File``; reads no dataset value.

    Raises:
        H5StructureError: naming the first refused object and why.
    """
    file_id = h5_file.id
    for raw, kind in _walk(file_id.links.visit):
        where = raw.decode("utf-8", "replace")
        if where.count("/") >= MAX_DEPTH:
            raise H5StructureError(f"'{where[:200]}' is nested more than {MAX_DEPTH} groups deep")
        if kind == h5py.h5l.TYPE_SOFT:
            _check_soft_link(h5_file, where, file_id.links.get_val(raw).decode("utf-8", "replace"))
        elif kind == h5py.h5l.TYPE_EXTERNAL:
            filename, target = (p.decode("utf-8", "replace") for p in file_id.links.get_val(raw))
            raise H5StructureError(
                f"'{where}' is an HDF5 external link to '{target}' in file '{filename}': "
                "a weights file may not refer to other files"
            )
        elif kind != h5py.h5l.TYPE_HARD:
            raise H5StructureError(f"'{where}' is an HDF5 user-defined link (class {kind})")
    for raw, kind in _walk(lambda visit, info: h5py.h5o.visit(file_id, visit, info=info)):
        if kind == h5py.h5o.TYPE_DATASET:
            _check_dataset(h5py.h5d.open(file_id, raw), raw.decode("utf-8", "replace"))


def _walk(visit):
    """``(name, type)`` of each link (``links.visit``) or object (``h5o.visit``), bounded.

    HDF5's walks follow hard links only (never a soft or external link's target) and visit an
    object reached twice once: group cycles end.
    """
    found = []

    def collect(name, info):
        found.append((name, info.type))
        return True if len(found) > MAX_OBJECTS else None  # a non-None result stops the walk

    visit(collect, info=True)
    if len(found) > MAX_OBJECTS:
        raise H5StructureError(f"the file has more than {MAX_OBJECTS:,} links")
    return found


def _check_soft_link(h5_file, where, target):
    """A soft link is accepted only if each step of its target is a hard link of this file."""
    group = where.rpartition("/")[0]
    absolute = target if target.startswith("/") else f"/{group}/{target}"
    parts = [p for p in absolute.split("/") if p]
    node = h5_file
    for i, part in enumerate(parts):
        step = "/" + "/".join(parts[: i + 1])
        if part in (".", "..") or not isinstance(node, h5py.Group) or part not in node:
            raise H5StructureError(
                f"'{where}' is a soft link to '{target}', which is not an object of this file"
            )
        if not isinstance(node.get(part, getlink=True), h5py.HardLink):
            raise H5StructureError(
                f"'{where}' is a soft link to '{target}', which goes through '{step}', "
                "another link (chains of links are refused)"
            )
        node = node[part]


def _check_dataset(dataset_id, where):
    plist = dataset_id.get_create_plist()
    if plist.get_external_count() > 0:
        files = [plist.get_external(i)[0] for i in range(min(plist.get_external_count(), 3))]
        files = [f.decode("utf-8", "replace") if isinstance(f, bytes) else f for f in files]
        raise H5StructureError(
            f"dataset '{where}' uses HDF5 external storage (its bytes would be read from "
            f"{files}): a weights file may not refer to other files"
        )
    layout = plist.get_layout()
    if layout == h5py.h5d.VIRTUAL:
        raise H5StructureError(
            f"dataset '{where}' is an HDF5 virtual dataset (its values come from other files)"
        )
    for i in range(plist.get_nfilters()):
        code, _, _, name = plist.get_filter(i)
        if code not in ALLOWED_FILTERS:
            label = name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
            raise H5StructureError(
                f"dataset '{where}' uses HDF5 filter {code} ('{label}'): only "
                f"{sorted(ALLOWED_FILTERS.values())} are accepted (Keras writes weights "
                "unfiltered; other filters may be plugins or expand without bound)"
            )
    if layout == h5py.h5d.CHUNKED:
        itemsize = dataset_id.get_type().get_size()
        chunk_bytes = math.prod(plist.get_chunk()) * itemsize
        data_bytes = math.prod(dataset_id.shape or ()) * itemsize
        if chunk_bytes > max(data_bytes, _FREE_CHUNK_BYTES):
            raise H5StructureError(
                f"dataset '{where}' has chunks of {chunk_bytes:,} bytes, larger than the "
                f"{data_bytes:,}-byte dataset"
            )
