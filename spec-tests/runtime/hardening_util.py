"""Helpers of the hardening, user namespace and rootless tests: a tiny static
probe program built once per session with `cc -static`, and chown of a tree."""
import os
import shutil
import subprocess

import pytest

PROBE_SOURCE = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static void status(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "Cap", 3) || !strncmp(line, "NoNewPrivs", 10) || !strncmp(line, "Uid", 3) ||
            !strncmp(line, "Gid", 3) || !strncmp(line, "Sig", 3))
            fputs(line, stdout);
    if (f)
        fclose(f);
}

static void result(const char *what, int r)
{
    printf("%s=%s\n", what, r == 0 ? "ok" : strerror(errno));
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    if (!strcmp(argv[1], "status")) {
        printf("euid=%d ruid=%d\n", (int)geteuid(), (int)getuid());
        status();
        /* things only real privileges allow */
        result("setuid0", setuid(0));
        result("chown", chown("/tmp/probe-file", 4242, 4242));
        result("mount", mount("none", "/tmp", "tmpfs", 0, NULL));
        result("mknod", mknod("/tmp/probe-node", S_IFCHR | 0600, makedev(1, 3)));
        return 0;
    }
    if (!strcmp(argv[1], "attack") && argc > 2) {
        pid_t pid = (pid_t)atoi(argv[2]);
        result("kill0", kill(pid, 0));
        result("killterm", kill(pid, SIGTERM));
        result("ptrace", (int)ptrace(PTRACE_ATTACH, pid, NULL, NULL));
        result("seize", (int)ptrace(PTRACE_SEIZE, pid, NULL, NULL));
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
        int fd = open(path, O_RDWR);
        result("mem", fd < 0 ? -1 : 0);
        return 0;
    }
    if (!strcmp(argv[1], "fds")) {
        /* every open fd, its target and flags: nothing of the host */
        for (int fd = 0; fd < 1024; fd++) {
            if (fcntl(fd, F_GETFD) < 0)
                continue;
            char p[64], t[512];
            snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
            ssize_t n = readlink(p, t, sizeof t - 1);
            t[n < 0 ? 0 : n] = 0;
            printf("fd %d %s\n", fd, t);
        }
        char cwd[512];
        printf("cwd %s\n", getcwd(cwd, sizeof cwd) ? cwd : strerror(errno));
        status();
        return 0;
    }
    return 2;
}
"""


@pytest.fixture(scope="session")
def probe_binary(tmp_path_factory):
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler to build the static probe")
    d = tmp_path_factory.mktemp("probe")
    src = d / "probe.c"
    src.write_text(PROBE_SOURCE)
    out = d / "probe"
    r = subprocess.run([cc, "-static", "-O1", "-o", str(out), str(src)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0 and "cannot find -lc" in r.stdout:
        pytest.skip("no static libc (libc6-dev's libc.a) to link the probe")
    assert r.returncode == 0, r.stdout
    return str(out)


def install_probe(probe, bundle, setuid=False, name="probe"):
    dst = os.path.join(bundle.rootfs, "bin", name)
    shutil.copy2(probe, dst)
    os.chown(dst, 0, 0)
    os.chmod(dst, 0o4755 if setuid else 0o755)
    return "/bin/" + name


def fields(text):
    """key=value pairs and `Key:\tvalue` status lines of the probe's output."""
    out = {}
    for line in text.splitlines():
        if ":" in line and "=" not in line.split(":", 1)[0]:
            k, v = line.split(":", 1)
            out[k.strip()] = v.strip()
        for word in line.split():
            if "=" in word:
                k, v = word.split("=", 1)
                out[k] = v
    return out


def chown_tree(path, uid, gid):
    os.lchown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for n in dirs + files:
            os.lchown(os.path.join(root, n), uid, gid)
