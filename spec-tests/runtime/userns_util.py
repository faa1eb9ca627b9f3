"""A bundle in a new user namespace, shared by the user namespace and the
idmapped mount tests."""
import os
import tempfile

from hardening_util import chown_tree
from helpers import make_bundle


def make_userns_bundle(prefix, host_base, size):
    """A bundle whose user namespace maps 0..size-1 to host_base..; its
    rootfs owned by the mapped root, under a 0711 directory (b.top, for the
    caller to remove) the mapped root can walk through. Not written yet."""
    top = tempfile.mkdtemp(prefix=prefix)
    os.chmod(top, 0o711)
    b = make_bundle(os.path.join(top, "bundle"))
    os.chmod(b.path, 0o711)
    b.top = top
    b.config["linux"]["namespaces"].append({"type": "user"})
    b.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": host_base, "size": size}]
    b.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": host_base, "size": size}]
    # the host's cgroup hierarchies cannot be mounted from the new user namespace
    b.config["mounts"] = [m for m in b.config["mounts"] if m["destination"] != "/sys/fs/cgroup"]
    chown_tree(b.rootfs, host_base, host_base)
    return b
