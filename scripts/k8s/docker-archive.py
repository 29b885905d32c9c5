#!/usr/bin/env python3
"""Writes a docker-archive image tarball (what `docker save` writes, what `ctr images import` reads) without a
Docker engine: optionally the layers and config of a base archive, plus one new layer made from files.

Usage:
  docker-archive.py --tag NAME:TAG --out FILE.tar [--base BASE.tar] [--file SRC:DEST[:MODE]]... [--dir SRC:DEST]...
                    [--mkdir DEST[:MODE[:UID]]]... [--symlink LINK:TARGET]... [--entrypoint JSON] [--cmd JSON] [--env K=V]... [--user U]
                    [--workdir DIR]
A --dir is copied recursively with symlinks kept; every new file belongs to root unless --mkdir says otherwise.
"""
import argparse, hashlib, io, json, os, shutil, tarfile, tempfile, time


def add_dir_entry(tar, dest, mode=0o755, uid=0):
    info = tarfile.TarInfo(dest.lstrip("/"))
    info.type, info.mode, info.uid, info.gid, info.mtime = tarfile.DIRTYPE, mode, uid, uid, 0
    tar.addfile(info)


def parents(tar, dest, seen):
    parts = dest.strip("/").split("/")[:-1]
    for i in range(1, len(parts) + 1):
        d = "/".join(parts[:i])
        if d not in seen:
            seen.add(d)
            add_dir_entry(tar, d)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tag", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--base")
    ap.add_argument("--file", action="append", default=[])
    ap.add_argument("--dir", action="append", default=[])
    ap.add_argument("--mkdir", action="append", default=[])
    ap.add_argument("--symlink", action="append", default=[])
    ap.add_argument("--entrypoint")
    ap.add_argument("--cmd")
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("--user")
    ap.add_argument("--workdir")
    a = ap.parse_args()

    work = tempfile.mkdtemp(dir=os.path.dirname(os.path.abspath(a.out)))
    try:
        layers, diff_ids, config = [], [], {"architecture": "amd64", "os": "linux", "config": {}}
        if a.base:
            with tarfile.open(a.base) as base:
                manifest = json.load(base.extractfile("manifest.json"))[0]
                config = json.load(base.extractfile(manifest["Config"]))
                for i, name in enumerate(manifest["Layers"]):
                    dest = f"base{i}.tar"
                    with base.extractfile(name) as src, open(os.path.join(work, dest), "wb") as out:
                        shutil.copyfileobj(src, out, 1 << 20)
                    layers.append(dest)
                diff_ids = list(config["rootfs"]["diff_ids"])

        layer_path = os.path.join(work, "layer.tar")
        with tarfile.open(layer_path, "w", format=tarfile.PAX_FORMAT) as tar:
            seen = set()
            for spec in a.mkdir:
                dest, mode, uid = (spec.split(":") + ["755", "0"])[:3]
                parents(tar, dest, seen)
                seen.add(dest.strip("/"))
                add_dir_entry(tar, dest, int(mode, 8), int(uid))
            for spec in a.file:
                src, dest, mode = (spec.split(":") + [None])[:3]
                parents(tar, dest, seen)
                if dest.strip("/") in seen:
                    continue
                seen.add(dest.strip("/"))
                # The content behind a symlink (libraries are often links), stored as a regular file.
                st = os.stat(src)
                info = tarfile.TarInfo(dest.lstrip("/"))
                info.size, info.mode, info.mtime = st.st_size, int(mode, 8) if mode else st.st_mode & 0o7777, 0
                with open(src, "rb") as f:
                    tar.addfile(info, f)
            for spec in a.symlink:
                link, target = spec.split(":")
                parents(tar, link, seen)
                info = tarfile.TarInfo(link.lstrip("/"))
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, target, 0o777
                tar.addfile(info)
            for spec in a.dir:
                src, dest = spec.split(":")
                parents(tar, dest.rstrip("/") + "/x", seen)

                def reset(info):
                    info.uid = info.gid = 0
                    info.uname = info.gname = ""
                    return info

                tar.add(src, dest.strip("/"), filter=reset)
        sha = hashlib.sha256()
        with open(layer_path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                sha.update(chunk)
        diff_ids.append("sha256:" + sha.hexdigest())
        layers.append("layer.tar")

        c = config.setdefault("config", {}) or {}
        config["config"] = c
        if a.entrypoint is not None:
            c["Entrypoint"] = json.loads(a.entrypoint)
        if a.cmd is not None:
            c["Cmd"] = json.loads(a.cmd)
        if a.env:
            # Later settings of a name win, over the base's and over earlier ones.
            merged = {}
            for e in (c.get("Env") or []) + a.env:
                merged[e.split("=", 1)[0]] = e
            c["Env"] = list(merged.values())
        if a.user is not None:
            c["User"] = a.user
        if a.workdir is not None:
            c["WorkingDir"] = a.workdir
        config["rootfs"] = {"type": "layers", "diff_ids": diff_ids}
        config["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        config.pop("history", None)
        raw = json.dumps(config, sort_keys=True).encode()
        config_name = hashlib.sha256(raw).hexdigest() + ".json"
        with open(os.path.join(work, config_name), "wb") as f:
            f.write(raw)
        manifest = [{"Config": config_name, "RepoTags": [a.tag], "Layers": layers}]
        with open(os.path.join(work, "manifest.json"), "w") as f:
            json.dump(manifest, f)

        tmp_out = a.out + ".partial"
        with tarfile.open(tmp_out, "w") as out:
            for name in ["manifest.json", config_name] + layers:
                out.add(os.path.join(work, name), name)
        os.replace(tmp_out, a.out)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
