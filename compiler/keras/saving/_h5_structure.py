"""Refuses HDF5 features that would make reading a weights file touch anything but that file.

HDF5 can keep a dataset's bytes in other files (*external storage*: raw bytes of any path,
absolute or relative; *virtual datasets*: slices of datasets in other HDF5 files), can link to
objects of other files (*external links*), can run filters that HDF5 loads as plugins from
``HDF5_PLUGIN_PATH`` (code), and decompresses deflate / szip chunks without bounding their
output (a 400 KB chunk of a 16-byte dataset expands to 400 MB). Keras 3 writes none of these:
its weights are plain groups and contiguous, unfiltered datasets.

``check_structure`` walks every group of the file through the link table before a single value
is read (``Group.get(name, getlink=True)`` never follows a link) and refuses:

* external links and user-defined links;
* soft links whose target is not an object of this file reached through plain (hard) links;
* datasets with external storage, virtual datasets, and any filter but ``shuffle`` and
  ``fletcher32`` (which neither load code nor change a chunk's size);
* chunks larger than their dataset (or 1 MiB), more than ``MAX_OBJECTS`` links, or groups
  nested deeper than ``MAX_DEPTH``.

Group cycles made of hard links are visited once. Errors are ``H5StructureError`` naming the
object's path and the feature.
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
    seen = {h5_file.id}
    stack = [(h5_file, "", 0)]
    count = 0
    while stack:
        group, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise H5StructureError(f"'{path}' is nested more than {MAX_DEPTH} groups deep")
        for name in group:
            count += 1
            if count > MAX_OBJECTS:
                raise H5StructureError(f"the file has more than {MAX_OBJECTS:,} links")
            where = f"{path}/{name}" if path else name
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.SoftLink):
                _check_soft_link(h5_file, group, where, link.path)
                continue  # its target is checked where it is hard-linked
            if not isinstance(link, h5py.HardLink):
                raise H5StructureError(_link_problem(where, link))
            obj = group[name]
            if isinstance(obj, h5py.Dataset):
                _check_dataset(obj, where)
            elif isinstance(obj, h5py.Group) and obj.id not in seen:
                seen.add(obj.id)
                stack.append((obj, where, depth + 1))


def _link_problem(where, link):
    if isinstance(link, h5py.ExternalLink):
        return (
            f"'{where}' is an HDF5 external link to '{link.path}' in file '{link.filename}': "
            "a weights file may not refer to other files"
        )
    return f"'{where}' is an HDF5 link of unsupported class {type(link).__name__}"


def _check_soft_link(h5_file, group, where, target):
    """A soft link is accepted only if each step of its target is a hard link of this file."""
    absolute = target if target.startswith("/") else f"{group.name.rstrip('/')}/{target}"
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


def _check_dataset(dataset, where):
    plist = dataset.id.get_create_plist()
    if plist.get_external_count() > 0:
        files = [entry[0] for entry in dataset.external or ()]
        raise H5StructureError(
            f"dataset '{where}' uses HDF5 external storage (its bytes would be read from "
            f"{files[:3]}): a weights file may not refer to other files"
        )
    if plist.get_layout() == h5py.h5d.VIRTUAL or dataset.is_virtual:
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
    if plist.get_layout() == h5py.h5d.CHUNKED:
        itemsize = dataset.dtype.itemsize
        chunk_bytes = math.prod(plist.get_chunk()) * itemsize
        data_bytes = math.prod(dataset.shape or ()) * itemsize
        if chunk_bytes > max(data_bytes, _FREE_CHUNK_BYTES):
            raise H5StructureError(
                f"dataset '{where}' has chunks of {chunk_bytes:,} bytes, larger than the "
                f"{data_bytes:,}-byte dataset"
            )
