"""One-off (2026-11-22): give the stored sector searches written before the metadata checksum
existed that checksum, so that ``store.stored_searches`` reads their metadata only.

Each file's full checksum is verified first; the attribute is added to a copy in the same
directory, which then replaces the file (a reader never sees half a file)."""
import os
import shutil
import sys
import time
from pathlib import Path

import h5py

from nqs_dilated.ed import store

directory = store.store_dir(sys.argv[1] if len(sys.argv) > 1 else None)
for path in sorted(Path(directory).glob("*_auto_symmetric_*.h5")):
    t = time.perf_counter()
    with h5py.File(path, "r") as f:
        if "meta_checksum" in f.attrs:
            print(f"{path.name}: has it")
            continue
        meta_json = str(f.attrs["meta"])
        arrays = {name: f[name][()] for name in f.keys()}
        ok = store._checksum(arrays, meta_json) == str(f.attrs["checksum"])
    del arrays
    if not ok:
        print(f"{path.name}: checksum mismatch, left alone")
        continue
    tmp = path.with_name(path.name + ".meta.tmp")
    try:
        shutil.copyfile(path, tmp)
        with h5py.File(tmp, "r+") as f:
            f.attrs["meta_checksum"] = store._meta_checksum(meta_json)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    print(f"{path.name}: verified and given the metadata checksum in {time.perf_counter() - t:.1f} s")
