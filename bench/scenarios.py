"""The benchmark scenarios. Each builds its bundle once and runs one command per runtime per round."""
import json
import os
import shutil
import uuid

import helpers


class Scenario:
    name = ""

    def bundle(self, work):
        b = helpers.make_bundle(os.path.join(work, self.name))
        self.configure(b)
        b.write()
        return b

    def configure(self, b):
        b.config["process"]["args"] = ["/bin/true"]

    def run(self, runtimes, rounds, work, measure):
        self.measure = measure
        b = self.bundle(work)
        per_rt = {rt: {"cpu": [], "wall": [], "rss": []} for rt in runtimes}
        for _ in range(rounds):
            for rt, path in runtimes.items():
                if "error" in per_rt[rt]:
                    continue
                root = os.path.join(work, "state-" + rt)
                try:
                    cpu, wall, rss = self.once(path, root, b)
                except Exception as e:  # a runtime that fails is reported, not fatal
                    per_rt[rt] = {"cpu": [], "wall": [], "rss": [], "error": str(e)[:200]}
                    continue
                per_rt[rt]["cpu"].append(cpu)
                per_rt[rt]["wall"].append(wall)
                per_rt[rt]["rss"].append(rss)
        return per_rt

    def once(self, path, root, b):
        raise NotImplementedError


class RunTrue(Scenario):
    """`run` of /bin/true on a plain `runc spec` bundle."""
    name = "run-true-plain"

    def once(self, path, root, b):
        cid = "b" + uuid.uuid4().hex[:12]
        return self.measure([path, "--root", root, "run", "--bundle", b.path, cid])


ALL = [RunTrue()]
