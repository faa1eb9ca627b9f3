"""Build image layers and OCI image layouts in Python, for the unpack tests.

Layers are lists of tarfile.TarInfo (with their data) made by the helpers
below; nothing here sanitises names, so the malicious cases are written
exactly as an attacker would write them."""
import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile

MEDIA_TAR = "application/vnd.oci.image.layer.v1.tar"
MEDIA_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MEDIA_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MTIME = 1700000000


def _info(name, type_, mode, uid=0, gid=0, mtime=MTIME, xattrs=None):
    ti = tarfile.TarInfo(name)
    ti.type = type_
    ti.mode = mode
    ti.uid, ti.gid = uid, gid
    ti.uname = ti.gname = ""
    ti.mtime = mtime
    if xattrs:
        ti.pax_headers = {
            "SCHILY.xattr." + k: (v.decode("utf-8", "surrogateescape") if isinstance(v, bytes) else v)
            for k, v in xattrs.items()
        }
    return ti


def file(name, data=b"", mode=0o644, size=None, **kw):
    """A regular file; size= lies about the size in the header."""
    if isinstance(data, str):
        data = data.encode()
    ti = _info(name, tarfile.REGTYPE, mode, **kw)
    ti.size = len(data) if size is None else size
    return (ti, data)


def dir(name, mode=0o755, **kw):  # noqa: A001 - mirrors the tar type name
    return (_info(name, tarfile.DIRTYPE, mode, **kw), None)


def symlink(name, target, **kw):
    ti = _info(name, tarfile.SYMTYPE, 0o777, **kw)
    ti.linkname = target
    return (ti, None)


def hardlink(name, target, **kw):
    ti = _info(name, tarfile.LNKTYPE, 0o644, **kw)
    ti.linkname = target
    return (ti, None)


def chardev(name, major, minor, mode=0o666, **kw):
    ti = _info(name, tarfile.CHRTYPE, mode, **kw)
    ti.devmajor, ti.devminor = major, minor
    return (ti, None)


def blockdev(name, major, minor, mode=0o660, **kw):
    ti = _info(name, tarfile.BLKTYPE, mode, **kw)
    ti.devmajor, ti.devminor = major, minor
    return (ti, None)


def fifo(name, mode=0o644, **kw):
    return (_info(name, tarfile.FIFOTYPE, mode, **kw), None)


def whiteout(path):
    d, base = os.path.split(path)
    return file(os.path.join(d, ".wh." + base))


def opaque(dirpath):
    return file(os.path.join(dirpath, ".wh..wh..opq"))


def tar_bytes(entries, trailing=b""):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for ti, data in entries:
            if ti.type == tarfile.REGTYPE and data is not None and ti.size != len(data):
                # A header that lies about its size: write it by hand.
                t.fileobj.write(ti.tobuf(t.format, t.encoding, t.errors))
                t.fileobj.write(data)
                pad = (-len(data)) % 512
                t.fileobj.write(b"\0" * pad)
                t.offset += 512 + len(data) + pad
                continue
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue() + trailing


def compress(raw, compression):
    if compression == "gzip":
        return gzip.compress(raw, compresslevel=1, mtime=0), MEDIA_GZIP
    if compression == "zstd":
        out = subprocess.run(["zstd", "-q", "-c", "-1"], input=raw, capture_output=True, check=True).stdout
        return out, MEDIA_ZSTD
    return raw, MEDIA_TAR


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Layout:
    """An OCI image layout directory that hoist (--store) and umoci read."""

    def __init__(self, path):
        self.path = path
        os.makedirs(os.path.join(path, "blobs", "sha256"), exist_ok=True)
        with open(os.path.join(path, "oci-layout"), "w") as f:
            json.dump({"imageLayoutVersion": "1.0.0"}, f)
        self.index = {"schemaVersion": 2, "manifests": []}
        self._write_index()

    def _write_index(self):
        with open(os.path.join(self.path, "index.json"), "w") as f:
            json.dump(self.index, f)

    def blob(self, data):
        d = sha256(data)
        with open(os.path.join(self.path, "blobs", "sha256", d.split(":")[1]), "wb") as f:
            f.write(data)
        return d

    def add_image(self, layers, refs=("localhost/test:1", "latest"), compression="gzip", config=None,
                  diff_ids=None, media_types=None, blobs=None):
        """layers: lists of entries (or raw tar bytes). Returns the manifest digest.
        diff_ids / media_types / blobs override what is recorded, to build broken images."""
        descs, ids = [], []
        for i, layer in enumerate(layers):
            raw = layer if isinstance(layer, bytes) else tar_bytes(layer)
            blob, media = compress(raw, compression)
            if blobs and blobs[i] is not None:
                blob = blobs[i]
            if media_types and media_types[i]:
                media = media_types[i]
            descs.append({"mediaType": media, "digest": self.blob(blob), "size": len(blob)})
            ids.append(sha256(raw))
        cfg = {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/usr/bin:/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids or ids},
        }
        if config:
            cfg["config"].update(config)
        cfg_bytes = json.dumps(cfg).encode()
        manifest = {
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": {"mediaType": MEDIA_CONFIG, "digest": self.blob(cfg_bytes), "size": len(cfg_bytes)},
            "layers": descs,
        }
        mbytes = json.dumps(manifest).encode()
        mdigest = self.blob(mbytes)
        for ref in refs:
            self.index["manifests"] = [m for m in self.index["manifests"]
                                       if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != ref]
            self.index["manifests"].append({
                "mediaType": MEDIA_MANIFEST, "digest": mdigest, "size": len(mbytes),
                "annotations": {"org.opencontainers.image.ref.name": ref},
            })
        self._write_index()
        return mdigest


def tree(root):
    """Everything about a directory tree that unpacking must get right:
    {relpath: (type, mode, uid, gid, size, link target, content sha256, xattrs)}
    plus the hardlink groups (sorted lists of paths sharing an inode)."""
    import stat
    out, inodes = {}, {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            kind = stat.S_IFMT(st.st_mode)
            link = os.readlink(p) if stat.S_ISLNK(st.st_mode) else None
            digest = None
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
                if st.st_nlink > 1:
                    inodes.setdefault(st.st_ino, []).append(rel)
            try:
                xattrs = {k: os.getxattr(p, k, follow_symlinks=False) for k in
                          os.listxattr(p, follow_symlinks=False)}
            except OSError:
                xattrs = {}
            rdev = (os.major(st.st_rdev), os.minor(st.st_rdev)) if kind in (stat.S_IFCHR, stat.S_IFBLK) else None
            size = st.st_size if stat.S_ISREG(st.st_mode) else None
            out[rel] = (kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, size, link, digest,
                        tuple(sorted(xattrs.items())), rdev)
    groups = sorted(sorted(v) for v in inodes.values() if len(v) > 1)
    return out, groups


def snapshot(root):
    """A canary's state, mtimes included: any write outside the rootfs shows."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames + ["."]:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            data = None
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, "rb") as f:
                    data = f.read()
            state[os.path.relpath(p, root)] = (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, st.st_nlink, data)
    return state
